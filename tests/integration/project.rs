//! `semc init` and `semc.toml` profiles, from the command line.

use crate::fixtures::{self, semc_with as semc};

fn fresh(name: &str) -> std::path::PathBuf {
    let dir = fixtures::root().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn init_writes_a_starter_that_checks_runs_and_is_formatted() {
    let dir = fresh("init");
    let d = dir.to_str().unwrap();
    let (code, _, err) = semc(&["init", d], &[]);
    assert_eq!(code, 0, "{err}");
    for f in [
        "semc.toml",
        "sources.sem",
        "models.sem",
        "data/region/_delta_log",
        "data/nation/_delta_log",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let (code, _, err) = semc(&["check", d], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = semc(&["fmt", "--check", d], &[]);
    assert_eq!(code, 0, "the starter is not formatted: {err}");
    let (code, out, err) = semc(&["run", d], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nations_per_region: 5 rows"), "{out}");
    // a second init overwrites nothing
    std::fs::write(dir.join("models.sem"), "# mine\n").unwrap();
    let (code, _, err) = semc(&["init", d], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("already exist"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("models.sem")).unwrap(), "# mine\n");
}

/// A workspace whose `.sem` files are here and whose tables are where a profile says.
fn profiled(name: &str, toml: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let lake = fresh(&format!("{name}_lake"));
    let (code, _, err) = semc(&["init", lake.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let ws = fresh(name);
    std::fs::create_dir_all(&ws).unwrap();
    for f in ["sources.sem", "models.sem"] {
        std::fs::copy(lake.join(f), ws.join(f)).unwrap();
    }
    std::fs::write(ws.join("semc.toml"), toml).unwrap();
    (ws, lake)
}

#[test]
fn a_profile_moves_relative_tables_and_sets_defaults() {
    let toml =
        "[profile.default]\npartitions = 1\n\n[profile.lake]\nroot = \"../profile_lake\"\nmemory_limit = \"512M\"\n";
    let (ws, lake) = profiled("profile", toml);
    let d = ws.to_str().unwrap();
    // the default profile has no root: the tables are looked for beside the .sem files
    let (code, _, err) = semc(&["check", d], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("E0301"), "{err}");
    // --profile lake: read from the lake, write into it
    let (code, out, err) = semc(&["run", d, "--profile", "lake"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("profile_lake/out/nations_per_region"), "{out}");
    assert!(lake.join("out/nations_per_region/_delta_log").is_dir());
    assert!(!ws.join("out").exists());
    // SEMC_PROFILE does the same; the lock records where the tables were
    let (code, out, err) = semc(&["run", d, "--locked", "--force"], &[("SEMC_PROFILE", "lake")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version 1"), "{out}");
    let lock = std::fs::read_to_string(ws.join("sem.lock")).unwrap();
    assert!(lock.contains("profile_lake/data/nation"), "{lock}");
    // a subfolder finds the semc.toml above it: its relative tables are under the lake root
    std::fs::create_dir_all(ws.join("sub")).unwrap();
    std::fs::copy(ws.join("sources.sem"), ws.join("sub/sources.sem")).unwrap();
    let (code, _, err) = semc(&["check", ws.join("sub").to_str().unwrap(), "--profile", "lake"], &[]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_bad_project_file_is_e0009_naming_what_is_wrong() {
    for (toml, says) in [
        ("[profile.default]\nmemroy_limit = \"1G\"\n", "memroy_limit"),
        ("[profile.default]\nmemory_limit = \"lots\"\n", "not a size"),
        ("[profile.default\n", "semc.toml"),
        ("[profile.other]\n", "no profile `prod` (profiles: other)"),
    ] {
        let (ws, _) = profiled("bad_toml", toml);
        let profile = if says.contains("prod") {
            vec!["--profile", "prod"]
        } else {
            vec![]
        };
        let mut args = vec!["check", ws.to_str().unwrap()];
        args.extend(profile);
        let (code, _, err) = semc(&args, &[]);
        assert_eq!(code, 1, "{toml}");
        assert!(err.contains("E0009") && err.contains(says), "{toml}: {err}");
    }
    // a profile asked for without any semc.toml
    let (ws, _) = profiled("no_toml", "");
    std::fs::remove_file(ws.join("semc.toml")).unwrap();
    let (code, _, err) = semc(&["check", ws.to_str().unwrap(), "--profile", "prod"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("E0009") && err.contains("no semc.toml"), "{err}");
}

#[test]
fn a_strict_profile_verifies_source_constraints_the_policy_does_not() {
    let (ws, _) = profiled(
        "strict",
        "[profile.default]\nroot = \"../strict_lake\"\n\n[profile.prod]\nroot = \"../strict_lake\"\nstrict = true\n",
    );
    // a constraint the data breaks: five regions, keys 0 to 4
    let sources = std::fs::read_to_string(ws.join("sources.sem")).unwrap();
    let sources = sources.replace(
        "r_regionkey: int64 key",
        "r_regionkey: int64 key check (r_regionkey < 3)",
    );
    std::fs::write(ws.join("sources.sem"), sources).unwrap();
    let d = ws.to_str().unwrap();
    let (code, _, err) = semc(&["run", d], &[]);
    assert_eq!(code, 0, "not strict: the declaration is trusted: {err}");
    let (code, _, err) = semc(&["run", d, "--profile", "prod"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("E0408"), "{err}");
}
