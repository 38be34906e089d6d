//! A run under a tight memory limit finishes, spills, or fails with E0410 — it never waits
//! forever. TPC-H Q18 at SF 1 under 256M hung (every thread parked) under DataFusion's fair
//! spill pool; the test runs it with a bounded wait, so a regression fails instead of
//! stalling CI.

use crate::fixtures;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// TPC-H SF 1 as Delta tables, generated once under `target/` and kept between runs.
fn sf1() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-data/tpch-sf1");
    let d = dir.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(semc::demo::tpch::generate(&d, 1.0)).expect("generate SF 1");
    })
    .join()
    .expect("generate SF 1");
    dir
}

#[test]
fn q18_at_sf1_under_256m_never_hangs() {
    let data = sf1();
    let ws = fixtures::workspace(
        "memory_q18",
        &[],
        &[
            ("schema.sem", semc::demo::examples::TPCH[0].1),
            (
                "q18.sem",
                semc::demo::examples::TPCH
                    .iter()
                    .find(|(n, _)| *n == "q18.sem")
                    .unwrap()
                    .1,
            ),
        ],
    );
    std::os::unix::fs::symlink(&data, ws.join("tpch")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_semc"))
        .args(["run", ws.to_str().unwrap(), "--output", "q18", "--memory-limit", "256M"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the bound is a hang guard, far above the ~10 s the run takes in a debug build
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!("semc run q18 --memory-limit 256M did not finish in 10 minutes: it hangs");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // it completes (the greedy pool spills); a limit it cannot fit would be E0410, not a hang
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("q18: 57 rows"), "{stdout}");
}

/// The `admitted` events of `semc -v run`'s log: (output, MiB it takes, the budget, the
/// outputs it was admitted beside).
fn admissions(log: &str) -> Vec<(String, u64, u64, String)> {
    let field = |line: &str, name: &str| -> String {
        let at = line
            .find(&format!(" {name}="))
            .unwrap_or_else(|| panic!("no {name} in {line}"))
            + name.len()
            + 2;
        let rest = &line[at..];
        let end = if rest.starts_with('{') {
            rest.find('}').unwrap() + 1
        } else {
            rest.find(' ').unwrap_or(rest.len())
        };
        rest[..end].trim_matches('"').to_string()
    };
    log.lines()
        .filter(|l| l.contains(" admitted "))
        .map(|l| {
            (
                field(l, "output"),
                field(l, "mib").parse().unwrap(),
                field(l, "of").parse().unwrap(),
                field(l, "beside"),
            )
        })
        .collect()
}

/// Under a memory limit, outputs run together only as far as the peaks their last run
/// measured allow: never measured (a first run), each runs alone; measured, the heaviest (a
/// million groups) still runs alone and the light ones run beside each other. Every run
/// writes the same rows.
#[tokio::test]
async fn outputs_under_a_memory_limit_run_together_as_far_as_their_measured_peaks_allow() {
    use datafusion::arrow::array::Int64Array;
    let dir = fixtures::workspace(
        "memory_admission",
        &[],
        &[(
            "w.sem",
            r#"
source event from delta("t/event") { e_id: int64  e_size: int64 }
model per_id from event {
  group by id = e_id
  aggregate { size = sum(e_size) }
}
model total from event { aggregate { size = sum(e_size) } }
model largest from event { aggregate { size = max(e_size) } }
model smallest from event { aggregate { size = min(e_size) } }
output per_id to delta("out/per_id") mode overwrite
output total to delta("out/total") mode overwrite
output largest to delta("out/largest") mode overwrite
output smallest to delta("out/smallest") mode overwrite
"#,
        )],
    );
    let ids = 1_000_000i64;
    let size = |i: i64| i % 1000;
    fixtures::table(
        &dir.join("t/event"),
        vec![
            fixtures::column("e_id", Int64Array::from_iter_values(0..ids)),
            fixtures::column("e_size", Int64Array::from_iter_values((0..ids).map(size))),
        ],
    )
    .await;
    let cache = dir.join("cache");
    let env = [("SEMC_CACHE_DIR", cache.to_str().unwrap())];
    let run = || {
        let (code, _, err) = fixtures::semc_with(
            &[
                "-v",
                "run",
                dir.to_str().unwrap(),
                "--force",
                "--memory-limit",
                "2G",
                "--color",
                "never",
            ],
            &env,
        );
        assert_eq!(code, 0, "{err}");
        let admitted = admissions(&err);
        assert_eq!(admitted.len(), 4, "{err}");
        admitted
    };

    // nothing measured yet: each output alone, with the whole budget
    for (output, mib, of, beside) in run() {
        assert_eq!((mib, beside.as_str()), (of, "{}"), "{output} runs alone");
    }

    // measured: the million groups take the whole budget; the light outputs share it
    let admitted = run();
    let (_, heavy, budget, beside) = admitted.iter().find(|a| a.0 == "per_id").unwrap();
    assert_eq!((heavy, beside.as_str()), (budget, "{}"), "{admitted:?}");
    let light: Vec<_> = admitted.iter().filter(|a| a.0 != "per_id").collect();
    assert!(light.iter().all(|(_, mib, of, _)| 2 * mib <= *of), "{admitted:?}");
    assert!(
        light
            .iter()
            .any(|(_, _, _, beside)| beside != "{}" && !beside.contains("per_id")),
        "two light outputs ran together: {admitted:?}"
    );

    let rows = async |output: &str| {
        fixtures::table_rows(fixtures::url_of(&dir.join("out").join(output)).as_str())
            .await
            .1
    };
    let want_total = (0..ids).map(size).sum::<i64>();
    assert_eq!(rows("total").await, vec![vec![want_total.to_string()]]);
    assert_eq!(rows("largest").await, vec![vec!["999".to_string()]]);
    assert_eq!(rows("smallest").await, vec![vec!["0".to_string()]]);
    assert_eq!(rows("per_id").await.len(), ids as usize);
}
