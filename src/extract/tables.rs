//! The tables `semc extract` writes: their columns, and rows (JSON objects from the Python
//! helper, or made here) turned into Arrow batches.

use datafusion::arrow::array::{ArrayRef, BooleanBuilder, Int64Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A column's kind (every column may be null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
}

/// One table: its name in the lake and its columns (after `file_id`, which every table but
/// `repo_files` starts with).
pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// Written from the Python helper's rows.
    pub python: bool,
}

use Kind::{Bool, Int, Str};

const SYMBOL_FLAGS: [(&str, Kind); 11] = [
    ("is_referenced", Bool),
    ("is_imported", Bool),
    ("is_parameter", Bool),
    ("is_global", Bool),
    ("is_declared_global", Bool),
    ("is_local", Bool),
    ("is_free", Bool),
    ("is_assigned", Bool),
    ("is_namespace", Bool),
    ("is_nonlocal", Bool),
    ("is_annotated", Bool),
];

const fn symbols() -> [(&'static str, Kind); 13] {
    let mut out = [("scope_id", Int); 13];
    out[1] = ("name", Str);
    let mut i = 0;
    while i < SYMBOL_FLAGS.len() {
        out[i + 2] = SYMBOL_FLAGS[i];
        i += 1;
    }
    out
}
const SYMBOLS: [(&str, Kind); 13] = symbols();

/// Every table, in the order they are written.
pub const TABLES: &[TableDef] = &[
    TableDef {
        name: "repo_files",
        columns: &[
            ("repo", Str),
            ("path", Str),
            ("size", Int),
            ("sha256", Str),
            ("encoding", Str),
            ("line_count", Int),
            ("language", Str),
        ],
        python: false,
    },
    TableDef {
        name: "file_lines",
        columns: &[("line_no", Int), ("line_start_byte", Int), ("text", Str)],
        python: false,
    },
    TableDef {
        name: "py_defs",
        columns: &[
            ("kind", Str),
            ("name", Str),
            ("qualname", Str),
            ("bstart", Int),
            ("bend", Int),
            ("name_bstart", Int),
            ("name_bend", Int),
            ("lineno", Int),
            ("end_lineno", Int),
            ("parent_bstart", Int),
            ("docstring", Str),
            ("n_decorators", Int),
        ],
        python: true,
    },
    TableDef {
        name: "py_decorators",
        columns: &[("def_bstart", Int), ("bstart", Int), ("bend", Int), ("name", Str)],
        python: true,
    },
    TableDef {
        name: "py_calls",
        columns: &[
            ("bstart", Int),
            ("bend", Int),
            ("func_bstart", Int),
            ("func_bend", Int),
            ("callee", Str),
            ("callee_name", Str),
            ("n_args", Int),
            ("n_keywords", Int),
            ("lineno", Int),
            ("enclosing_def_bstart", Int),
        ],
        python: true,
    },
    TableDef {
        name: "py_call_args",
        columns: &[
            ("call_bstart", Int),
            ("position", Int),
            ("keyword", Str),
            ("bstart", Int),
            ("bend", Int),
        ],
        python: true,
    },
    TableDef {
        name: "py_imports",
        columns: &[
            ("bstart", Int),
            ("bend", Int),
            ("lineno", Int),
            ("is_from", Bool),
            ("module", Str),
            ("name", Str),
            ("asname", Str),
            ("level", Int),
            ("enclosing_def_bstart", Int),
            // resolved here: a file of the extracted repositories, or an external package
            ("resolved_file_id", Str),
            ("resolved_path", Str),
            ("external_package", Str),
        ],
        python: true,
    },
    TableDef {
        name: "py_names",
        columns: &[
            ("name", Str),
            ("ctx", Str),
            ("bstart", Int),
            ("bend", Int),
            ("lineno", Int),
            ("enclosing_def_bstart", Int),
        ],
        python: true,
    },
    TableDef {
        name: "py_scopes",
        columns: &[
            ("scope_id", Int),
            ("parent_scope_id", Int),
            ("kind", Str),
            ("name", Str),
            ("lineno", Int),
            ("is_optimized", Bool),
            ("is_nested", Bool),
        ],
        python: true,
    },
    TableDef {
        name: "py_symbols",
        columns: &SYMBOLS,
        python: true,
    },
    TableDef {
        name: "py_code_objects",
        columns: &[
            ("code_id", Int),
            ("parent_code_id", Int),
            ("name", Str),
            ("qualname", Str),
            ("firstlineno", Int),
            ("argcount", Int),
            ("kwonlyargcount", Int),
            ("nlocals", Int),
            ("flags", Int),
        ],
        python: true,
    },
    TableDef {
        name: "py_instructions",
        columns: &[
            ("code_id", Int),
            ("offset", Int),
            ("opname", Str),
            ("arg", Int),
            ("argrepr", Str),
            ("lineno", Int),
            ("is_jump_target", Bool),
        ],
        python: true,
    },
    TableDef {
        name: "py_tokens",
        columns: &[
            ("idx", Int),
            ("type", Str),
            ("text", Str),
            ("lineno", Int),
            ("col", Int),
        ],
        python: true,
    },
    TableDef {
        name: "py_errors",
        columns: &[("stage", Str), ("message", Str), ("lineno", Int), ("col", Int)],
        python: true,
    },
];

impl TableDef {
    /// The Arrow schema: `file_id` first, then the columns.
    pub fn schema(&self) -> SchemaRef {
        let mut fields = vec![Field::new("file_id", DataType::Utf8, false)];
        fields.extend(self.columns.iter().map(|(n, k)| {
            let t = match k {
                Str => DataType::Utf8,
                Int => DataType::Int64,
                Bool => DataType::Boolean,
            };
            Field::new(*n, t, true)
        }));
        Arc::new(Schema::new(fields))
    }

    /// One file's rows as a batch (a value of another kind than its column's is null).
    pub fn batch(&self, file_id: &str, rows: &[Map<String, Value>]) -> datafusion::common::Result<RecordBatch> {
        self.batch_of(file_id, rows.len(), |name, i| rows[i].get(name).unwrap_or(&Value::Null))
    }

    /// One file's rows given as columns (`{column: [value, …]}`, a missing column null).
    pub fn batch_from_columns(
        &self,
        file_id: &str,
        columns: &Map<String, Value>,
    ) -> datafusion::common::Result<RecordBatch> {
        let len = column_len(columns);
        self.batch_of(file_id, len, |name, i| {
            columns
                .get(name)
                .and_then(Value::as_array)
                .and_then(|c| c.get(i))
                .unwrap_or(&Value::Null)
        })
    }

    fn batch_of<'v>(
        &self,
        file_id: &str,
        len: usize,
        value: impl Fn(&str, usize) -> &'v Value,
    ) -> datafusion::common::Result<RecordBatch> {
        let mut ids = StringBuilder::with_capacity(len, len * file_id.len());
        (0..len).for_each(|_| ids.append_value(file_id));
        let mut columns: Vec<ArrayRef> = vec![Arc::new(ids.finish())];
        for (name, kind) in self.columns {
            let values = (0..len).map(|i| value(name, i));
            columns.push(match kind {
                Str => {
                    let mut b = StringBuilder::new();
                    values.for_each(|v| b.append_option(v.as_str()));
                    Arc::new(b.finish())
                }
                Int => {
                    let mut b = Int64Builder::new();
                    values.for_each(|v| b.append_option(v.as_i64()));
                    Arc::new(b.finish())
                }
                Bool => {
                    let mut b = BooleanBuilder::new();
                    values.for_each(|v| b.append_option(v.as_bool()));
                    Arc::new(b.finish())
                }
            });
        }
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }
}

/// The rows of a table given as columns: its longest column's length.
pub fn column_len(columns: &Map<String, Value>) -> usize {
    columns
        .values()
        .filter_map(Value::as_array)
        .map(Vec::len)
        .max()
        .unwrap_or(0)
}

/// The table named `name`.
pub fn table(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().find(|t| t.name == name)
}
