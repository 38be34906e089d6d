//! Delta tables on S3: a real S3 API server (moto's, started by the tests on 127.0.0.1)
//! and the `semc` binary, as a user runs it. Built with the `cloud` feature; the tests fail,
//! never skip, when the server cannot start (`.ci/run` installs `moto[server]`).

use crate::fixtures;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

struct Moto {
    endpoint: String,
    _server: Child,
}

fn helper(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/s3").join(name)
}

/// The one server of this test process, with the bucket `lake`.
fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| start_moto(&["lake"], &[]))
}

/// A second server that checks every request's signature: it knows no access key, so it
/// refuses the tests' credentials as a real store refuses wrong ones.
fn moto_checking_credentials() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| start_moto(&[], &[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]))
}

fn start_moto(buckets: &[&str], env: &[(&str, &str)]) -> Moto {
    let mut server = Command::new("python3")
        .arg(helper("moto_server.py"))
        .args(buckets)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 must run tests/s3/moto_server.py (pip install 'moto[server]==5.2.5')");
    let out = std::io::BufReader::new(server.stdout.take().unwrap());
    let endpoint = out
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("endpoint ").map(str::to_string))
        .expect("the S3 server did not start: is moto[server] installed?");
    Moto {
        endpoint,
        _server: server,
    }
}

/// The server's endpoint and the test credentials, as a user's environment holds them.
fn moto_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto().endpoint.clone()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

/// `semc` against the server, with `env` over [`moto_env`].
fn semc_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut all: Vec<(&str, String)> = moto_env();
    all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fixtures::semc_with(args, &all)
}

fn semc(args: &[&str]) -> (i32, String, String) {
    semc_with(args, &[])
}

/// A `semc` process against the server, to start and watch.
fn semc_process(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_semc"));
    c.args(args).envs(moto_env());
    c
}

fn upload(local: &Path, prefix: &str) {
    let ok = Command::new("python3")
        .arg(helper("upload.py"))
        .args([&moto().endpoint, local.to_str().unwrap(), "lake", prefix])
        .status()
        .unwrap()
        .success();
    assert!(ok, "upload {} to s3://lake/{prefix}", local.display());
}

/// The rows of a Delta table on S3, counted by `semc show` through a one-model workspace.
fn rows_of(uri: &str, column: &str, ty: &str) -> usize {
    let dir = fixtures::workspace(
        &format!("s3_read_{}", uri.replace(['/', ':'], "_")),
        &[],
        &[(
            "read.sem",
            &format!("source t from delta(\"{uri}\") {{\n  {column}: {ty}\n}}\nmodel all_rows from t {{\n}}\n"),
        )],
    );
    let (code, out, err) = semc(&[
        "show",
        dir.to_str().unwrap(),
        "--model",
        "all_rows",
        "--limit",
        "100000000",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{err}");
    out.lines().count() - 1
}

#[test]
fn tpch_runs_on_s3_end_to_end() {
    let ws = fixtures::root().join("s3_demo");
    let _ = std::fs::remove_dir_all(&ws);
    let d = ws.to_str().unwrap();
    // the demo writes the tables to S3 and the .sem files here, then runs all 22
    let (code, out, err) = semc(&["demo", d, "--to", "s3://lake/demo", "--sf", "0.01"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("\n== q").count(), 22, "{out}");
    let schema = std::fs::read_to_string(ws.join("schema.sem")).unwrap();
    assert!(schema.contains("delta(\"s3://lake/demo/tpch/orders\")"), "{schema}");

    let (code, _, err) = semc(&["check", d]);
    assert_eq!(code, 0, "{err}");
    // a second run commits version 1 of each output and writes sem.lock; --locked reads it
    // (forced: the demo's run committed what it computes)
    let (code, out, err) = semc(&["run", d, "--output", "q06", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("s3://lake/demo/out/q06") && out.contains("version 1"),
        "{out}"
    );
    let lock = std::fs::read_to_string(ws.join("sem.lock")).unwrap();
    assert!(lock.contains("s3://lake/demo/tpch/lineitem"), "{lock}");
    let (code, out, err) = semc(&["run", d, "--output", "q06", "--locked", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version 2"), "{out}");
    assert_eq!(rows_of("s3://lake/demo/out/q06", "revenue", "decimal(38, 4)"), 1);

    // explain names the Delta files the scan reads and prunes
    let (code, out, err) = semc(&["explain", d, "--output", "q06"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("s3://lake/demo/tpch/lineitem"), "{out}");
    assert!(out.contains(".parquet"), "{out}");

    // a bundle of it runs through the same runner
    let bundle = fixtures::root().join("s3_bundle");
    let _ = std::fs::remove_dir_all(&bundle);
    let (code, _, err) = semc(&["plan", d, "--output", "q01", "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = semc(&["exec", bundle.to_str().unwrap(), "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("q01: 4 rows"), "{out}");
}

#[test]
fn a_bundle_runs_with_its_tables_moved_to_s3() {
    // a workspace on local tables; the same layout copied to S3 (same table ids)
    let local = fixtures::workspace(
        "s3_root",
        &[("tpch", "tpch")],
        &[
            ("schema.sem", semc::demo::examples::TPCH[0].1),
            ("q06.sem", semc::demo::examples::TPCH[6].1),
        ],
    );
    upload(&fixtures::root().join("tpch"), "copy/tpch");
    let bundle = fixtures::root().join("s3_root_bundle");
    let _ = std::fs::remove_dir_all(&bundle);
    let (code, _, err) = semc(&["plan", local.to_str().unwrap(), "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = semc(&["exec", bundle.to_str().unwrap(), "--root", "s3://lake/copy"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("s3://lake/copy/out/q06"), "{out}");
    assert!(!local.join("out").exists(), "the output was written locally");
    assert_eq!(rows_of("s3://lake/copy/out/q06", "revenue", "decimal(38, 4)"), 1);
}

#[test]
fn concurrent_appenders_on_s3_each_commit_once() {
    let text = "source r from delta(\"s3://lake/append/region\") {\n  r_regionkey: int64 key\n  r_name: string not null\n}\nmodel names from r {\n  select { r_regionkey, r_name }\n}\noutput names to delta(\"s3://lake/append/out\") mode append\n";
    upload(&fixtures::root().join("tpch/region"), "append/region");
    let dir = fixtures::workspace("s3_append", &[], &[("a.sem", text)]);
    // the first run creates the table; then 4 writers append at once
    let (code, _, err) = semc(&["run", dir.to_str().unwrap(), "--run-id", "first"]);
    assert_eq!(code, 0, "{err}");
    let children: Vec<Child> = (0..4)
        .map(|i| {
            semc_process(&[
                "run",
                dir.to_str().unwrap(),
                "--run-id",
                &format!("appender-{i}"),
                "--force",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // every commit landed, once: 5 runs × 5 regions
    assert_eq!(rows_of("s3://lake/append/out", "r_regionkey", "int64"), 25);
    // a retried run id writes nothing
    let (code, out, err) = semc(&["run", dir.to_str().unwrap(), "--run-id", "appender-2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nothing written"), "{out}");
    assert_eq!(rows_of("s3://lake/append/out", "r_regionkey", "int64"), 25);
}

#[test]
fn a_run_killed_mid_write_leaves_the_output_at_a_committed_version() {
    upload(&fixtures::root().join("tpch/lineitem"), "kill/lineitem");
    let text = "source l from delta(\"s3://lake/kill/lineitem\") {\n  l_orderkey: int64 not null\n  l_linenumber: int32 not null\n  l_comment: string not null\n}\nmodel copy from l {\n  select { l_orderkey, l_linenumber, l_comment }\n}\noutput copy to delta(\"s3://lake/kill/out\") mode overwrite\n";
    let dir = fixtures::workspace("s3_kill", &[], &[("a.sem", text)]);
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let rows = rows_of("s3://lake/kill/out", "l_orderkey", "int64");
    for delay_ms in [150, 400, 800, 1500] {
        let mut child = semc_process(&["run", dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // whatever the moment, the output reads as one committed version: all its rows
        assert_eq!(
            rows_of("s3://lake/kill/out", "l_orderkey", "int64"),
            rows,
            "killed after {delay_ms} ms"
        );
    }
}

#[test]
fn a_missing_bucket_an_unreachable_store_and_refused_credentials_are_clear_errors_and_write_nothing() {
    let text = "source t from delta(\"s3://no-such-bucket/t\") {\n  a: int64\n}\nmodel m from t {\n}\noutput m to delta(\"s3://lake/never/out\") mode overwrite\n";
    let dir = fixtures::workspace("s3_missing", &[], &[("a.sem", text)]);
    let (code, _, err) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0310") && err.contains("s3://no-such-bucket/t"), "{err}");
    assert!(!err.contains("testing"), "a secret in a diagnostic: {err}");

    // an endpoint nothing listens on (with a secret that must not be printed)
    upload(&fixtures::root().join("tpch/region"), "creds/region");
    let text = "source r from delta(\"s3://lake/creds/region\") {\n  r_regionkey: int64 key\n}\nmodel m from r {\n}\noutput m to delta(\"s3://lake/creds/out\") mode overwrite\n";
    let dir = fixtures::workspace("s3_creds", &[], &[("a.sem", text)]);
    let (code, _, err) = semc_with(
        &["run", dir.to_str().unwrap()],
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_SECRET_ACCESS_KEY", "wrong-secret-value"),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0310") && err.contains("check the endpoint"), "{err}");
    assert!(!err.contains("wrong-secret-value"), "a secret in a diagnostic: {err}");
    // credentials the store refuses
    let (code, _, err) = semc_with(
        &["run", dir.to_str().unwrap()],
        &[
            ("AWS_ENDPOINT_URL", &moto_checking_credentials().endpoint),
            ("AWS_SECRET_ACCESS_KEY", "wrong-secret-value"),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0310") && err.contains("403"), "{err}");
    assert!(!err.contains("wrong-secret-value"), "a secret in a diagnostic: {err}");

    // nothing was written; with the right endpoint the same workspace runs
    let (code, out, _) = semc(&["run", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("version 0"), "the failed run wrote a version: {out}");
}

#[test]
fn an_incremental_output_on_s3_appends_only_what_is_new() {
    upload(&fixtures::root().join("cdf/nation"), "inc/nation");
    let text = "source n from delta(\"s3://lake/inc/nation\") {\n  n_nationkey: int64 key\n  n_name: string not null\n}\nmodel names from n incremental {\n  select { n_nationkey, n_name }\n}\noutput names to delta(\"s3://lake/inc/out\") mode append\n";
    let dir = fixtures::workspace("s3_incremental", &[], &[("a.sem", text)]);
    let d = dir.to_str().unwrap();
    let (code, out, err) = semc(&["run", d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("names: 25 rows"), "{out}");
    let (code, out, err) = semc(&["run", d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("up to date") && out.contains("nothing written"), "{out}");
    assert_eq!(rows_of("s3://lake/inc/out", "n_nationkey", "int64"), 25);
}

/// The code-graph demo with its extracted tables and its graph on S3 computes the graph the
/// same demo computes in a local folder; `semc extract` over the S3 lake again finds nothing
/// changed, and after one file changes extracts only that file, one commit per table.
#[test]
fn extract_and_the_code_graph_on_s3_equal_them_in_a_folder() {
    let ws = fixtures::root().join("s3_codeanatomy");
    let local = fixtures::root().join("s3_codeanatomy_local");
    for d in [&ws, &local] {
        let _ = std::fs::remove_dir_all(d);
    }
    let (w, l) = (ws.to_str().unwrap(), local.to_str().unwrap());
    let (code, _, err) = semc(&["demo", w, "--example", "codeanatomy", "--to", "s3://lake/codeanatomy/"]);
    assert_eq!(code, 0, "{err}");
    let graph = std::fs::read_to_string(ws.join("graph.sem")).unwrap();
    assert!(
        graph.contains("delta(\"s3://lake/codeanatomy/graph/cpg_edges\")"),
        "{graph}"
    );
    let (code, _, err) = semc(&["demo", l, "--example", "codeanatomy"]);
    assert_eq!(code, 0, "{err}");
    for model in ["cpg_nodes", "cpg_edges", "cpg_props", "symbol_bindings"] {
        let show = |d: &str| {
            let (code, out, err) = semc(&["show", d, "--model", model, "--limit", "100000", "--format", "csv"]);
            assert_eq!(code, 0, "{err}");
            out
        };
        let on_s3 = show(w);
        assert!(on_s3.lines().count() > 5, "{model}: {on_s3}");
        assert_eq!(on_s3, show(l), "{model} on S3 differs from the folder's");
    }

    let repo = ws.join("repo");
    let extract = || fixtures::extract_report(semc, &repo, "s3://lake/codeanatomy/lake/");
    let unchanged = extract();
    assert_eq!(unchanged["up_to_date"], true, "{unchanged}");
    let main_py = ws.join("repo/main.py");
    let text = std::fs::read_to_string(&main_py).unwrap();
    std::fs::write(&main_py, format!("{text}\n\ndef added_on_s3():\n    return 1\n")).unwrap();
    let changed = extract();
    let files = changed["files"].as_u64().unwrap();
    assert_eq!(
        (changed["extracted"].as_u64(), changed["carried"].as_u64()),
        (Some(1), Some(files - 1)),
        "{changed}"
    );
    for t in changed["tables"].as_array().unwrap() {
        assert_eq!(t["version"], 1, "one commit per table: {t}");
    }
    let (code, out, err) = semc(&["show", w, "--model", "defs", "--limit", "1000", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("added_on_s3"), "{out}");
    // a bucket that does not exist is said before any file is extracted
    let (code, _, err) = semc(&["extract", repo.to_str().unwrap(), "--to", "s3://no-such-bucket/lake"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0306") && err.contains("no-such-bucket"), "{err}");
}

/// Azure and Google Cloud Storage: their URL forms resolve and open through their stores,
/// and credentials that are missing or unreadable are a clear error with a code.
#[test]
fn azure_and_gcs_locations_name_their_credential_problems() {
    let text = "source a from delta(\"az://container/path/t\") {\n  x: int64\n}\nsource b from delta(\"abfss://container@account.dfs.core.windows.net/path/t\") {\n  x: int64\n}\nsource c from delta(\"gs://bucket/path/t\") {\n  x: int64\n}\n";
    let dir = fixtures::workspace("azure_gcs", &[], &[("a.sem", text)]);
    let out = Command::new(env!("CARGO_BIN_EXE_semc"))
        .args(["check", dir.to_str().unwrap(), "--format", "json"])
        .env_remove("AZURE_STORAGE_ACCOUNT_NAME")
        .env_remove("AZURE_STORAGE_ACCOUNT_KEY")
        .env("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/semc-test-key.json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let diags: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(i64, &str)> = diags
        .iter()
        .map(|d| (d["line"].as_i64().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [(1, "E0310"), (4, "E0310"), (7, "E0310")], "{diags:?}");
    assert!(diags[0]["message"].as_str().unwrap().contains("Azure"), "{}", diags[0]);
    assert!(diags[2]["message"].as_str().unwrap().contains("GCS"), "{}", diags[2]);
    // offline, the same workspace checks: the locations themselves are well formed
    let (code, _, err) = semc(&["check", dir.to_str().unwrap(), "--offline"]);
    assert_eq!(code, 0, "{err}");
}

/// Credentials and the endpoint in a profile's storage options instead of the environment:
/// they reach the store, and the secret is nowhere in what semc writes or prints.
#[test]
fn profile_storage_options_reach_the_store_and_stay_secret() {
    upload(&fixtures::root().join("tpch/region"), "profile/region");
    let secret = "s3cr3t-from-the-profile";
    let toml = format!(
        "[profile.default]\nroot = \"s3://lake/profile\"\n\n[profile.default.storage]\nAWS_ENDPOINT_URL = \"{}\"\nAWS_ALLOW_HTTP = \"true\"\nAWS_ACCESS_KEY_ID = \"testing\"\nAWS_SECRET_ACCESS_KEY = \"{secret}\"\nAWS_REGION = \"us-east-1\"\n",
        moto().endpoint
    );
    let text = "source r from delta(\"region\") {\n  r_regionkey: int64 key\n  r_name: string not null\n}\nmodel m from r {\n  where r_regionkey > 99\n}\noutput m to delta(\"out\") mode overwrite\n";
    let dir = fixtures::workspace("s3_profile", &[], &[("a.sem", text), ("semc.toml", &toml)]);
    let d = dir.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_semc"))
            .args(args)
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("RUST_LOG", "debug")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(secret), "the secret was printed by {args:?}");
        (out.status.code().unwrap_or(-1), all)
    };
    let (code, out) = run(&["run", d]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("s3://lake/profile/out"), "{out}");
    let bundle = fixtures::root().join("s3_profile_bundle");
    let _ = std::fs::remove_dir_all(&bundle);
    assert_eq!(run(&["plan", d, "--bundle", bundle.to_str().unwrap()]).0, 0);
    assert_eq!(run(&["plan", d]).0, 0);
    for f in [bundle.join("spec.json"), dir.join("sem.lock")] {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains(secret), "the secret is in {}", f.display());
    }
    let plan = std::fs::read(bundle.join("plan.substrait.pb")).unwrap();
    assert!(
        !String::from_utf8_lossy(&plan).contains(secret),
        "the secret is in the plan"
    );
    // a refused read (a table that is not there) names the table, not the secret
    std::fs::write(
        dir.join("a.sem"),
        text.replace("delta(\"region\")", "delta(\"nothing-here\")"),
    )
    .unwrap();
    let (code, out) = run(&["check", d]);
    assert_eq!(code, 1, "{out}");
}

/// A cluster's executors read the tables' data files from S3, opened with the environment
/// semc opens them with; the rows equal a local run's.
#[cfg(feature = "cluster")]
#[test]
fn a_cluster_reads_tables_on_s3() {
    let ws = fixtures::root().join("s3_cluster");
    let _ = std::fs::remove_dir_all(&ws);
    let d = ws.to_str().unwrap();
    let (code, _, err) = semc(&["demo", d, "--to", "s3://lake/cluster", "--sf", "0.01"]);
    assert_eq!(code, 0, "{err}");
    let outputs = ["--output", "q01", "--output", "q06", "--output", "q18"];
    let reports = |out: &str| -> Vec<String> {
        let mut lines: Vec<String> = out
            .lines()
            .filter_map(|l| l.split_once(" → ").map(|(report, _)| report.to_string()))
            .collect();
        lines.sort();
        lines
    };
    let (code, local, err) = semc(&[&["run", d, "--force"][..], &outputs].concat());
    assert_eq!(code, 0, "{err}");
    let (code, cluster, err) = semc(&[&["run", d, "--cluster", "local", "--force"][..], &outputs].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(reports(&cluster), reports(&local));
    assert_eq!(reports(&cluster).len(), 3, "{cluster}");
    assert_eq!(rows_of("s3://lake/cluster/out/q01", "l_returnflag", "string"), 4);
}
