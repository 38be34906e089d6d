//! The `semc` binary: exit codes and output formats.

use crate::fixtures;
use std::process::Command;

fn semc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_semc"))
        .args(args)
        .output()
        .expect("run semc");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_reports_json_and_exit_code_1() {
    let dir = fixtures::root().join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.sem");
    std::fs::write(&f, "model m from nowhere {\n  where x > 1\n}\n").unwrap();
    let (code, out, _) = semc(&["check", f.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["code"], "E0103");
    assert_eq!(first["line"], 1);
    assert_eq!(first["column"], 14);
    assert_eq!(first["severity"], "error");
    assert!(first["help"].is_string());
    assert_eq!(first["labels"][0]["length"], 7);
}

#[test]
fn check_plan_and_codes_succeed_on_a_good_workspace() {
    let dir = fixtures::root().join("cli_ok");
    std::fs::create_dir_all(&dir).unwrap();
    let tpch = dir.join("tpch");
    if !tpch.exists() {
        std::os::unix::fs::symlink(fixtures::root().join("tpch"), &tpch).unwrap();
    }
    std::fs::write(dir.join("w.sem"), "source region from delta(\"tpch/region\") { r_regionkey: int64 key }\nmodel m from region { }\noutput m to delta(\"out/m\") mode overwrite\n").unwrap();
    let (code, _, err) = semc(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = semc(&["plan", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["relations"].as_array().unwrap().len(), 1);
    let (code, out, _) = semc(&["codes", "E0206"]);
    assert_eq!(code, 0);
    assert!(out.contains("fan-out"));
    let (code, _, err) = semc(&["run", dir.to_str().unwrap(), "--output", "nope"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0403"));
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let (code, _, err) = semc(&["run", "x.sem", "--memory-limit", "lots"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a size"));
    let (code, out, _) = semc(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("check"));
    let (code, _, _) = semc(&["frobnicate"]);
    assert_eq!(code, 1);
}
