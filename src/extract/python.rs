//! CPython's own `ast`, `symtable` and `dis`, through long-lived helper
//! processes (`helper.py`, embedded): one per job, each fed one file at a time.

use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

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
/// restarted; a file it died on is recorded as an error row of its own. A helper that cannot
/// be (re)started fails the whole.
pub fn extract_all<T: Send>(
    python: &str,
    files: &[PathBuf],
    jobs: usize,
    convert: &(dyn Fn(usize, FileRows) -> T + Sync),
) -> Result<Vec<T>, String> {
    let start = || Helper::start(python).map(|(h, _)| h);
    super::parallel::map(files.len(), jobs, &start, &|helper, i| {
        let rows = match helper.extract(&files[i]) {
            Ok(rows) => rows,
            Err(e) => {
                // the file killed the helper (a recursion limit, memory): recorded
                *helper = start()?;
                let mut rows = Map::new();
                rows.insert(
                    "py_errors".into(),
                    serde_json::json!({ "stage": ["helper"], "message": [e] }),
                );
                rows
            }
        };
        Ok(convert(i, rows))
    })?
    .into_iter()
    .collect()
}
