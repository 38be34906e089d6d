//! CPython's own `ast`, `symtable` and `dis`, through long-lived helper
//! processes (`helper.py`, embedded): one per job, each fed one file at a time.

use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

const HELPER: &str = include_str!("helper.py");

/// One file's rows, by table.
pub type FileRows = Map<String, Value>;

/// What the helpers say of themselves: the helper's version and Python's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    pub helper: String,
    pub python: String,
}

struct Helper {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    fn start(python: &str) -> Result<(Helper, Versions), String> {
        let mut child = Command::new(python)
            .args(["-u", "-c", HELPER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("`{python}` cannot be started: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(format!("`{python}` gave no pipes"));
        };
        let mut helper = Helper {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        };
        let hello = helper.read_line()?;
        let versions = Versions {
            helper: hello.get("helper").and_then(Value::as_str).unwrap_or("?").to_string(),
            python: hello.get("python").and_then(Value::as_str).unwrap_or("?").to_string(),
        };
        Ok((helper, versions))
    }

    fn read_line(&mut self) -> Result<Map<String, Value>, String> {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the Python helper stopped".into());
        }
        match serde_json::from_str(&line) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err("the Python helper's answer is not a JSON object".into()),
        }
    }

    fn extract(&mut self, path: &Path) -> Result<FileRows, String> {
        let request = serde_json::json!({ "path": path });
        writeln!(self.stdin, "{request}").map_err(|e| e.to_string())?;
        let mut answer = self.read_line()?;
        match answer.remove("tables") {
            Some(Value::Object(tables)) => Ok(tables),
            _ => Err("the Python helper's answer has no tables".into()),
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `python` can run the helper: its versions.
pub fn probe(python: &str) -> Result<Versions, String> {
    Helper::start(python).map(|(_, v)| v)
}

/// Each of `files` through `jobs` helpers at once, each file's rows made `T` by `convert` as
/// they come (the helper's JSON is not kept); in the files' order. A helper that dies is
/// restarted; a file it died on is recorded as an error row of its own.
pub fn extract_all<T: Send>(
    python: &str,
    files: &[PathBuf],
    jobs: usize,
    convert: &(dyn Fn(usize, FileRows) -> T + Sync),
) -> Result<Vec<T>, String> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, files.len().max(1)) {
            s.spawn(|| {
                let mut helper = match Helper::start(python) {
                    Ok((h, _)) => h,
                    Err(e) => {
                        *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        return;
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let rows = match helper.extract(path) {
                        Ok(rows) => rows,
                        Err(e) => {
                            // the file killed the helper (a recursion limit, memory): recorded
                            let mut rows = Map::new();
                            rows.insert(
                                "py_errors".into(),
                                serde_json::json!({ "stage": ["helper"], "message": [e] }),
                            );
                            match Helper::start(python) {
                                Ok((h, _)) => helper = h,
                                Err(e) => {
                                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                                    return;
                                }
                            }
                            rows
                        }
                    };
                    let made = convert(i, rows);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(made);
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.ok_or_else(|| "a file was not extracted".to_string()))
        .collect()
}
