//! `semc lsp` as an editor drives it: a child process spoken to in JSON-RPC over its stdin
//! and stdout.

use crate::fixtures;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: mpsc::Receiver<Value>,
    next_id: i64,
    /// Notifications seen while waiting for something else.
    seen: Vec<Value>,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_semc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start semc lsp");
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            loop {
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if out.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        len = n.parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                if out.read_exact(&mut body).is_err() {
                    return;
                }
                let _ = tx.send(serde_json::from_slice(&body).unwrap());
            }
        });
        let mut c = Client {
            child,
            stdin,
            messages,
            next_id: 0,
            seen: vec![],
        };
        let caps = c.request(
            "initialize",
            json!({"capabilities": {}, "processId": null, "rootUri": null}),
        );
        assert_eq!(caps["capabilities"]["hoverProvider"], true, "{caps}");
        c.notify("initialized", json!({}));
        c
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn next(&mut self) -> Value {
        self.messages
            .recv_timeout(Duration::from_secs(60))
            .expect("semc lsp answered nothing within 60 s")
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let m = self.next();
            if m["id"] == id {
                assert!(m.get("error").is_none(), "{method}: {m}");
                return m["result"].clone();
            }
            self.seen.push(m);
        }
    }

    /// The next diagnostics published for `uri` (waiting for them if none came yet).
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let is_it = |m: &Value| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri;
        if let Some(i) = self.seen.iter().position(is_it) {
            let m = self.seen.remove(i);
            return m["params"]["diagnostics"].as_array().unwrap().clone();
        }
        loop {
            let m = self.next();
            if is_it(&m) {
                return m["params"]["diagnostics"].as_array().unwrap().clone();
            }
            self.seen.push(m);
        }
    }

    fn at(&mut self, method: &str, uri: &str, line: u32, character: u32) -> Value {
        let context = match method {
            "textDocument/references" => json!({"includeDeclaration": true}),
            _ => json!({"triggerKind": 1}),
        };
        self.request(
            method,
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}, "context": context}),
        )
    }

    /// The hover text at the first `needle` in `text` (`shift` characters into it).
    fn hover(&mut self, uri: &str, text: &str, needle: &str, shift: u32) -> String {
        let (line, col) = pos(text, needle);
        let h = self.at("textDocument/hover", uri, line, col + shift);
        h["contents"]["value"]
            .as_str()
            .unwrap_or_else(|| panic!("no hover at {needle}: {h}"))
            .to_string()
    }

    fn stop(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "semc lsp exited with {status}");
    }
}

fn uri(path: &std::path::Path) -> String {
    url::Url::from_file_path(std::fs::canonicalize(path).unwrap())
        .unwrap()
        .to_string()
}

/// (line, UTF-16 column) of the first `needle` in `text`.
fn pos(text: &str, needle: &str) -> (u32, u32) {
    let at = text.find(needle).unwrap_or_else(|| panic!("{needle} not in text"));
    let line = text[..at].matches('\n').count();
    let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    (line as u32, text[start..at].encode_utf16().count() as u32)
}

const SCHEMA: &str = "## Customers, one row each.
source customer from delta(\"tpch/customer\") {
  ## The customer's key.
  c_custkey: int64 key
  c_name:    string not null
  c_acctbal: decimal(15, 2)
}

source orders from delta(\"tpch/orders\") {
  o_orderkey:   int64 key
  o_custkey:    int64 not null
  o_totalprice: decimal(15, 2)
  o_orderdate:  date not null

  join customer many_to_one on o_custkey = customer.c_custkey
  ## Money taken.
  measure revenue = sum(o_totalprice)
}
";

#[test]
fn an_editor_gets_diagnostics_hover_definitions_and_completion() {
    let dir = fixtures::workspace("lsp", &[("tpch", "tpch")], &[("schema.sem", SCHEMA)]);
    // 😀 before the error: columns are counted in UTF-16 code units
    let model = "import \"schema.sem\"\n\nmodel big from orders {\n  where customer.c_nme == \"😀\" and o_totalprice > 0\n  group by name = customer.c_name\n  aggregate { revenue }\n}\n";
    let model_path = dir.join("model.sem");
    std::fs::write(&model_path, model).unwrap();
    let (schema_uri, model_uri) = (uri(&dir.join("schema.sem")), uri(&model_path));
    let mut c = Client::start();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": model_uri, "languageId": "sem", "version": 1, "text": model}}),
    );
    // the misspelt column: E0102 with its help, at its UTF-16 position
    let diags = c.diagnostics(&model_uri);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["code"], "E0102");
    assert!(
        diags[0]["message"].as_str().unwrap().contains("did you mean `c_name`?"),
        "{}",
        diags[0]
    );
    let (line, col) = pos(model, "c_nme");
    assert_eq!(diags[0]["range"]["start"], json!({"line": line, "character": col}));

    // a quick fix replaces the name
    let fix = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": model_uri}, "range": diags[0]["range"], "context": {"diagnostics": diags}}),
    );
    assert_eq!(fix[0]["edit"]["changes"][&model_uri][0]["newText"], "c_name", "{fix}");

    // an edit that fixes it clears the diagnostics; an edit after `😀` keeps positions right
    let fixed = model.replace("c_nme", "c_name");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": model_uri, "version": 2}, "contentChanges": [{"text": fixed}]}),
    );
    // diagnostics for the first version may still be in flight: wait for an empty list
    let mut diags = c.diagnostics(&model_uri);
    for _ in 0..5 {
        if diags.is_empty() {
            break;
        }
        diags = c.diagnostics(&model_uri);
    }
    assert!(diags.is_empty(), "{diags:?}");

    // hover: a column of a joined source, with its type, nullability, table and doc
    let text = c.hover(&model_uri, &fixed, "o_totalprice >", 2);
    assert!(
        text.contains("`o_totalprice`: decimal(15, 2) null") && text.contains("source `orders`"),
        "{text}"
    );
    assert!(text.contains("version 0"), "the table was read: {text}");
    let text = c.hover(&model_uri, &fixed, "revenue }", 0);
    assert!(
        text.contains("**measure** `revenue` = `sum(o_totalprice)`") && text.contains("Money taken."),
        "{text}"
    );
    let text = c.hover(&model_uri, &fixed, "customer.c_name\n", 1);
    assert!(
        text.contains("**join** `customer` → `customer` many_to_one") && text.contains("declared unique"),
        "{text}"
    );
    let text = c.hover(&model_uri, &fixed, "big", 0);
    assert!(
        text.contains("| `name` | string | null |"),
        "the model's schema: {text}"
    );

    // definition: from a use in one file to the declaration in the imported one
    let (line, col) = pos(&fixed, "c_name\n");
    let d = c.at("textDocument/definition", &model_uri, line, col);
    assert_eq!(d["uri"], schema_uri.as_str());
    assert_eq!(d["range"]["start"], json!({"line": 4, "character": 2}), "{d}");
    let (line, col) = pos(&fixed, "orders {");
    let d = c.at("textDocument/definition", &model_uri, line, col);
    assert_eq!(d["range"]["start"], json!({"line": 8, "character": 7}), "{d}");

    // references of a column: its declaration, the join key using it, the model's use
    let refs = c.at("textDocument/references", &schema_uri, 3, 3);
    let lines: Vec<(String, i64)> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["uri"].as_str().unwrap().to_string(),
                r["range"]["start"]["line"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(lines.contains(&(schema_uri.clone(), 3)), "{lines:?}");

    // completion after a join path: the target's columns; at the top level: items
    let typing = fixed.replace("  aggregate { revenue }", "  aggregate { revenue }\n  where customer.");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": model_uri, "version": 3}, "contentChanges": [{"text": typing}]}),
    );
    let (line, col) = pos(&typing, "customer.\n");
    let items = c.at("textDocument/completion", &model_uri, line, col + 9);
    let labels: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"c_acctbal") && labels.contains(&"c_custkey"),
        "{labels:?}"
    );
    assert!(!labels.contains(&"o_orderkey"), "{labels:?}");
    let doc = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "c_custkey")
        .unwrap();
    assert_eq!(doc["documentation"], "The customer's key.");
    let items = c.at("textDocument/completion", &model_uri, 1, 0);
    let labels: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"model") && labels.contains(&"source"), "{labels:?}");
    let (line, col) = pos(&typing, "  group");
    let items = c.at("textDocument/completion", &model_uri, line, col);
    let sum = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "sum")
        .expect("functions");
    assert!(sum["detail"].as_str().unwrap().contains("sum("), "{sum}");

    // the outline and formatting of the schema file
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": schema_uri, "languageId": "sem", "version": 1, "text": SCHEMA.replace("c_name:    string", "c_name: string")}}),
    );
    let symbols = c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": schema_uri}}),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customer", "orders"]);
    assert_eq!(
        symbols[1]["children"][4]["name"], "customer",
        "the join: {}",
        symbols[1]
    );
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": schema_uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(edits[0]["newText"], SCHEMA);
    c.stop();
}

#[test]
fn a_missing_table_is_reported_once_and_the_rest_is_still_checked() {
    let text = "source gone from delta(\"no/such/table\") {\n  id: int64 key\n  other: int64\n  join missing_target many_to_one on other = missing_target.id\n}\nmodel m from gone {\n  where idd > 1\n}\n";
    let dir = fixtures::workspace("lsp_missing", &[], &[("a.sem", text)]);
    let a_uri = uri(&dir.join("a.sem"));
    let mut c = Client::start();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": a_uri, "languageId": "sem", "version": 1, "text": text}}),
    );
    // first from the declarations, then again once the table was tried: E0301 once, and
    // the unknown join target and the misspelt column still reported
    let mut codes: Vec<String> = vec![];
    for _ in 0..5 {
        let diags = c.diagnostics(&a_uri);
        codes = diags.iter().map(|d| d["code"].as_str().unwrap().to_string()).collect();
        if codes.iter().any(|c| c == "E0301") {
            break;
        }
    }
    codes.sort();
    assert_eq!(codes.iter().filter(|c| *c == "E0301").count(), 1, "{codes:?}");
    assert!(codes.contains(&"E0102".to_string()), "{codes:?}");
    assert!(codes.len() >= 3, "{codes:?}");
    c.stop();
}

#[test]
fn hostile_buffers_and_requests_never_end_the_server() {
    let dir = fixtures::workspace("lsp_hostile", &[], &[("a.sem", "model m from t {}\n")]);
    let a_uri = uri(&dir.join("a.sem"));
    let mut c = Client::start();
    let deep = format!(
        "model m from t {{\n  where {}1{}\n}}\n",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let texts = [
        deep,
        "source \u{0} from".to_string(),
        "model m from t {\n  where a.\n".to_string(),
        "😀😀😀 `unclosed".to_string(),
        String::new(),
    ];
    for (version, text) in texts.iter().enumerate() {
        c.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": a_uri, "languageId": "sem", "version": version, "text": text}}),
        );
        // every request on it is answered: positions past the end, on any line
        for (line, character) in [(0, 0), (1, 9), (99, 99)] {
            c.at("textDocument/hover", &a_uri, line, character);
            c.at("textDocument/completion", &a_uri, line, character);
            c.at("textDocument/definition", &a_uri, line, character);
        }
        c.request("textDocument/documentSymbol", json!({"textDocument": {"uri": a_uri}}));
        c.request(
            "textDocument/formatting",
            json!({"textDocument": {"uri": a_uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
        );
        let diags = c.diagnostics(&a_uri);
        if !text.is_empty() {
            assert!(!diags.is_empty(), "{text:.40}: no diagnostic");
        }
    }
    // the deep nesting is a diagnostic with a code, not a crash
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": a_uri, "version": 9}, "contentChanges": [{"text": texts[0]}]}),
    );
    let diags = c.diagnostics(&a_uri);
    assert!(
        diags
            .iter()
            .any(|d| d["code"].as_str().is_some_and(|c| c.starts_with('E'))),
        "{diags:?}"
    );
    // a method the server does not know is an error answer, and the server goes on
    c.next_id += 1;
    let id = c.next_id;
    c.send(json!({"jsonrpc": "2.0", "id": id, "method": "semc/unknown", "params": {}}));
    loop {
        let m = c.next();
        if m["id"] == id {
            assert!(m["error"]["message"].as_str().unwrap().contains("semc/unknown"), "{m}");
            break;
        }
    }
    c.request("textDocument/documentSymbol", json!({"textDocument": {"uri": a_uri}}));
    c.stop();
}

#[test]
fn a_folders_profile_places_its_tables() {
    // the tables are not beside the .sem file: the profile's root says where they are
    let text = "source region from delta(\"tpch/region\") {\n  r_regionkey: int64 key\n}\n";
    let toml = format!("[profile.default]\nroot = \"{}\"\n", fixtures::root().display());
    let dir = fixtures::workspace("lsp_profile", &[], &[("a.sem", text), ("semc.toml", &toml)]);
    let a_uri = uri(&dir.join("a.sem"));
    let mut c = Client::start();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": a_uri, "languageId": "sem", "version": 1, "text": text}}),
    );
    // once the table is read, the hover names its version; no E0301 on the way
    let mut hover = String::new();
    for _ in 0..50 {
        assert!(c.diagnostics(&a_uri).is_empty(), "the profile's root was not used");
        hover = c.hover(&a_uri, text, "r_regionkey", 0);
        if hover.contains("at version 0") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        hover.contains("at version 0") && hover.contains("tpch/region"),
        "{hover}"
    );
    c.stop();
}

/// Go to definition from every place a name stands for a declaration: a join's target in
/// a source (not the join line itself), a path segment through an unaliased join, `from`,
/// a model join, `union`, `keep … per`, a measure used by name, an output's model.
#[test]
fn definition_goes_to_the_declaration_a_name_stands_for() {
    let dir = fixtures::workspace("lsp_definitions", &[("tpch", "tpch")], &[("schema.sem", SCHEMA)]);
    let model = "import \"schema.sem\"\n\nmodel rich from customer { where c_acctbal > 0 }\nmodel top from orders {\n  derive { who = customer.c_name }\n  join rich many_to_one on o_custkey = rich.c_custkey\n  keep 1 per o_custkey by o_totalprice desc\n  select { o_custkey, o_totalprice, who }\n}\nmodel both from top { union top }\nmodel money from orders { aggregate { revenue } }\noutput both to delta(\"out/both\") mode overwrite\nfn twice(x: int64) -> int64 = x * 2\ntemplate best(rel, key: column) from rel { keep 1 per key by key }\nmodel best_order = best(orders, o_orderkey)\nmodel doubled from orders { derive { d = twice(o_orderkey) } }\n";
    let path = dir.join("model.sem");
    std::fs::write(&path, model).unwrap();
    let (schema_uri, model_uri) = (uri(&dir.join("schema.sem")), uri(&path));
    let mut c = Client::start();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": model_uri, "languageId": "sem", "version": 1, "text": model}}),
    );
    let diags = c.diagnostics(&model_uri);
    assert!(diags.iter().all(|d| d["severity"] != 1), "{diags:?}");
    let schema_text = SCHEMA;
    let go = |c: &mut Client, uri: &str, text: &str, needle: &str, shift: u32| {
        let (line, col) = pos(text, needle);
        c.at("textDocument/definition", uri, line, col + shift)
    };
    let at = |text: &str, needle: &str| {
        let (line, character) = pos(text, needle);
        json!({"line": line, "character": character})
    };
    // a join's target in a source: the source it names
    let d = go(&mut c, &schema_uri, schema_text, "customer many_to_one", 1);
    assert_eq!(d["uri"], schema_uri.as_str(), "{d}");
    assert_eq!(d["range"]["start"], at(schema_text, "customer from"), "{d}");
    // a path segment through that join: the same declaration
    let d = go(&mut c, &model_uri, model, "customer.c_name", 1);
    assert_eq!(d["range"]["start"], at(schema_text, "customer from"), "{d}");
    // `from`, a model join, `union`, an output's model
    let d = go(&mut c, &model_uri, model, "orders {\n  derive", 1);
    assert_eq!(d["range"]["start"], at(schema_text, "orders from"), "{d}");
    for needle in ["rich many_to_one", "rich.c_custkey"] {
        let d = go(&mut c, &model_uri, model, needle, 1);
        assert_eq!(d["range"]["start"], at(model, "rich from"), "{needle}: {d}");
    }
    let d = go(&mut c, &model_uri, model, "top }", 1);
    assert_eq!(d["range"]["start"], at(model, "top from"), "{d}");
    let d = go(&mut c, &model_uri, model, "both to", 1);
    assert_eq!(d["range"]["start"], at(model, "both from"), "{d}");
    // `keep … per` a column; a measure used by name
    let d = go(&mut c, &model_uri, model, "o_custkey by", 1);
    assert_eq!(d["uri"], schema_uri.as_str(), "{d}");
    assert_eq!(d["range"]["start"], at(schema_text, "o_custkey:"), "{d}");
    let d = go(&mut c, &model_uri, model, "revenue }", 1);
    assert_eq!(d["range"]["start"], at(schema_text, "revenue ="), "{d}");
    // a function of the workspace and a template, where they are used
    let d = go(&mut c, &model_uri, model, "twice(o_orderkey)", 1);
    assert_eq!(d["range"]["start"], at(model, "twice(x"), "{d}");
    let d = go(&mut c, &model_uri, model, "best(orders", 1);
    assert_eq!(d["range"]["start"], at(model, "best(rel"), "{d}");
    c.stop();
}

/// Two folders open at once, each with its own profile: each is analyzed, and its tables
/// read, with its own root, however the edits alternate (the profile is the analysis's,
/// not the process's).
#[test]
fn two_folders_keep_their_own_profiles() {
    // folder `a` reads `tpch/region` under the fixtures; folder `b` reads `region` under
    // the fixtures' `tpch` folder: each path resolves only under its own root
    let a_text = "source region from delta(\"tpch/region\") {\n  r_regionkey: int64 key\n}\n";
    let b_text = "source nation from delta(\"nation\") {\n  n_nationkey: int64 key\n}\n";
    let a_toml = format!("[profile.default]\nroot = \"{}\"\n", fixtures::root().display());
    let b_toml = format!(
        "[profile.default]\nroot = \"{}\"\n",
        fixtures::root().join("tpch").display()
    );
    let a = fixtures::workspace("lsp_two_profiles_a", &[], &[("a.sem", a_text), ("semc.toml", &a_toml)]);
    let b = fixtures::workspace("lsp_two_profiles_b", &[], &[("b.sem", b_text), ("semc.toml", &b_toml)]);
    let (a_uri, b_uri) = (uri(&a.join("a.sem")), uri(&b.join("b.sem")));
    let mut c = Client::start();
    for (u, t) in [(&a_uri, a_text), (&b_uri, b_text)] {
        c.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": u, "languageId": "sem", "version": 1, "text": t}}),
        );
    }
    for version in 2..6 {
        for (u, t) in [(&a_uri, a_text), (&b_uri, b_text)] {
            c.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": u, "version": version}, "contentChanges": [{"text": format!("{t}# {version}\n")}]}),
            );
            assert!(
                c.diagnostics(u).is_empty(),
                "{u} was analyzed with another folder's profile"
            );
        }
    }
    // the tables were read under each folder's root
    let mut seen = (false, false);
    for _ in 0..50 {
        seen = (
            c.hover(&a_uri, a_text, "r_regionkey", 0).contains("at version 0"),
            c.hover(&b_uri, b_text, "n_nationkey", 0).contains("at version 0"),
        );
        if seen == (true, true) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(seen, (true, true));
    c.stop();
}
