//! `--format json`: one schema for every command — one JSON object per line, each naming
//! its `kind` (`diagnostic`, `output`, `explain`, `row`, `model`). Snapshots pin it.

use crate::fixtures::{redact, workspace};
use std::process::Command;

fn semc(args: &[&str]) -> (i32, String) {
    let (code, stdout, stderr) = crate::fixtures::semc(args);
    assert!(
        stderr.trim().is_empty() || !stderr.contains('{'),
        "JSON belongs on stdout, not stderr: {stderr}"
    );
    (code, stdout)
}

/// Each line parsed (so the output is JSON lines), with what changes run to run zeroed.
fn stable(out: &str) -> String {
    out.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert!(v["kind"].is_string(), "no kind: {l}");
            if v.get("millis").is_some() {
                v["millis"] = 0.into();
            }
            if v["kind"] == "explain" {
                // the plan's text is explain's own (tested there); here, that it is present
                let text = v["text"].as_str().unwrap_or_default();
                assert!(text.contains("DataSourceExec") || text.contains("Scan"), "{text}");
                v["text"] = "<the plan>".into();
            }
            redact(&v.to_string())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn snapshot(name: &str, text: String) {
    insta::with_settings!({ snapshot_path => "snapshots/json", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn every_command_speaks_one_json_schema() {
    let text = "## Regions.\nsource region from delta(\"tpch/region\") {\n  r_regionkey: int64 key\n  r_name:      string not null\n}\nmodel names from region {\n  where r_regionkey < 2\n  select { r_regionkey, r_name }\n  sort r_regionkey\n}\noutput names to delta(\"out/names\") mode overwrite\n";
    let dir = workspace("json", &[("tpch", "tpch")], &[("a.sem", text)]);
    let d = dir.to_str().unwrap();

    let (code, out) = semc(&["run", d, "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    snapshot("run", stable(&out));
    let (code, out) = semc(&["show", d, "--model", "names", "--format", "json"]);
    assert_eq!(code, 0);
    snapshot("show", stable(&out));
    let (code, out) = semc(&["show", d, "--model", "names", "--schema", "--format", "json"]);
    assert_eq!(code, 0);
    snapshot("show_schema", stable(&out));
    let (code, out) = semc(&["explain", d, "--output", "names", "--format", "json"]);
    assert_eq!(code, 0);
    snapshot("explain", stable(&out));
    let bundle = dir.join("bundle");
    assert_eq!(semc(&["plan", d, "--bundle", bundle.to_str().unwrap()]).0, 0);
    let (code, out) = semc(&["exec", bundle.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    snapshot("exec", stable(&out));

    // errors: every diagnostic with its start and end
    std::fs::write(dir.join("a.sem"), text.replace("r_regionkey < 2", "r_regionky < 2")).unwrap();
    let (code, out) = semc(&["check", d, "--format", "json"]);
    assert_eq!(code, 1);
    snapshot("check_error", stable(&out));
    let (code, out) = semc(&["run", d, "--format", "json"]);
    assert_eq!(code, 1);
    snapshot("run_error", stable(&out));
}

#[test]
fn verbose_logs_each_stage_and_color_follows_the_flag_and_no_color() {
    let dir = workspace(
        "logs",
        &[("tpch", "tpch")],
        &[(
            "a.sem",
            "source region from delta(\"tpch/region\") {\n  r_regionkey: int64 key\n}\nmodel m from region {\n  where r_regionky > 1\n}\n",
        )],
    );
    let d = dir.to_str().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_semc"))
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&["check", d, "-v"], &[]);
    for stage in ["load", "snapshots", "check"] {
        assert!(err.contains(stage) && err.contains("time.busy"), "{stage}: {err}");
    }
    assert!(!run(&["check", d], &[]).contains("time.busy"), "quiet without -v");
    assert!(run(&["check", d], &[("RUST_LOG", "semc=info")]).contains("time.busy"));
    // colors: never by default off a terminal, always when asked, never under NO_COLOR=1 with auto
    assert!(!run(&["check", d], &[]).contains('\u{1b}'));
    assert!(run(&["check", d, "--color", "always"], &[]).contains('\u{1b}'));
    assert!(!run(&["check", d, "--color", "auto"], &[("NO_COLOR", "1")]).contains('\u{1b}'));
    assert!(!run(&["check", d, "--color", "never"], &[]).contains('\u{1b}'));
}

/// On a terminal (a pseudo-terminal made by `script`), a run shows its stages as it goes;
/// piped, it prints only its reports.
#[test]
fn a_run_on_a_terminal_reports_as_it_goes() {
    let dir = workspace(
        "progress",
        &[("tpch", "tpch")],
        &[(
            "a.sem",
            "source region from delta(\"tpch/region\") {\n  r_regionkey: int64 key\n}\nmodel ids from region {\n}\noutput ids to delta(\"out/ids\") mode overwrite\n",
        )],
    );
    let cmd = format!("{} run {}", env!("CARGO_BIN_EXE_semc"), dir.display());
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .output()
        .expect("script (util-linux)");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    for stage in ["checking", "planning", "verifying keys", "writing ids", "ids committed"] {
        assert!(tty.contains(stage), "{stage}: {tty}");
    }
    let piped = Command::new(env!("CARGO_BIN_EXE_semc"))
        .args(["run", dir.to_str().unwrap(), "--force"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&piped.stdout),
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(!all.contains("verifying keys"), "{all}");
    assert!(all.contains("ids: 5 rows"), "{all}");
}
