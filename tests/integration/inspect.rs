//! `semc show` and `semc graph`: a model's rows and schema, and lineage, from the CLI.

use crate::fixtures::{semc, workspace};

fn tpch(name: &str) -> std::path::PathBuf {
    let dir = workspace(name, &[("tpch", "tpch")], &[]);
    for (n, t) in semc::demo::examples::TPCH {
        std::fs::write(dir.join(n), t).unwrap();
    }
    dir
}

#[test]
fn show_prints_any_models_rows_and_writes_nothing() {
    let dir = tpch("show");
    let d = dir.to_str().unwrap();
    // q13_counts is not an output: its rows, in its columns' order
    let (code, out, err) = semc(&["show", d, "--model", "q13_counts", "--limit", "3", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "c_custkey,c_count");
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[1].starts_with("1,"), "{out}");
    let (code, out, err) = semc(&["show", d, "--model", "q03", "--limit", "2", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["kind"] == "row"), "{out}");
    assert!(rows[0]["values"]["revenue"].as_f64().unwrap() >= rows[1]["values"]["revenue"].as_f64().unwrap());
    let (code, out, _) = semc(&["show", d, "--model", "q06"]);
    assert_eq!(code, 0);
    assert!(out.contains("| revenue"), "{out}");
    assert!(!dir.join("out").exists(), "show wrote an output");
    // a misspelt model
    let (code, _, err) = semc(&["show", d, "--model", "q3"]);
    assert_eq!(code, 1);
    assert!(err.contains("E0103") && err.contains("did you mean `q03`?"), "{err}");
}

#[test]
fn show_schema_and_graph_give_lineage_and_docs_without_data() {
    let schema = "## Orders, one row per order.\nsource orders from delta(\"nowhere/orders\") {\n  ## The key.\n  o_orderkey: int64 key\n  o_custkey:  int64 not null\n  o_price:    decimal(15, 2)\n  join customer many_to_one on o_custkey = customer.c_custkey\n}\nsource customer from delta(\"nowhere/customer\") {\n  c_custkey: int64 key\n  c_name:    string\n}\n## Spend per customer name.\nmodel spend from orders {\n  derive { who = customer.c_name }\n  group by who\n  aggregate { total = sum(o_price * 2), n = count() }\n}\nmodel keys from orders {\n  select { o_orderkey }\n}\noutput spend to delta(\"out/spend\") mode overwrite\n";
    let dir = workspace("graph", &[], &[("a.sem", schema)]);
    let d = dir.to_str().unwrap();
    let (code, out, err) = semc(&["graph", d, "--columns", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let g: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(g["sources"][0]["doc"], "Orders, one row per order.");
    assert_eq!(g["sources"][0]["columns"][0]["doc"], "The key.");
    let spend = &g["models"][0];
    assert_eq!(spend["doc"], "Spend per customer name.");
    assert_eq!(spend["columns"][0]["from"], serde_json::json!(["customer.c_name"]));
    assert_eq!(spend["columns"][1]["from"], serde_json::json!(["orders.o_price"]));
    assert_eq!(
        spend["columns"][2]["from"],
        serde_json::json!([]),
        "count() reads no column"
    );
    assert_eq!(
        g["models"][1]["columns"][0]["doc"], "The key.",
        "a passed-through column keeps its doc"
    );
    let edges = g["edges"].as_array().unwrap();
    assert!(
        edges.contains(&serde_json::json!(["source:customer", "model:spend"])),
        "{edges:?}"
    );
    assert!(
        edges.contains(&serde_json::json!(["model:spend", "output:spend"])),
        "{edges:?}"
    );

    let (code, out, _) = semc(&["graph", d, "--format", "mermaid"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("flowchart LR") && out.contains("model_spend --> output_spend"),
        "{out}"
    );
    let (code, out, _) = semc(&["graph", d]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("digraph semc") && out.contains("\"source:orders\" -> \"model:spend\""),
        "{out}"
    );

    let (code, out, err) = semc(&["show", d, "--model", "spend", "--schema"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Spend per customer name."), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("total") && l.contains("← orders.o_price")),
        "{out}"
    );
}
