//! The tables `semc extract` writes: their columns, and rows (columns of JSON values from the
//! Python helpers, or appended in Rust) turned into Arrow batches.

use datafusion::arrow::array::{ArrayRef, BooleanBuilder, Int64Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::schema::types::ColumnPath;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A column's kind (every column may be null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
}

/// What extracts a table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extractor {
    /// semc itself, from every file's bytes.
    Files,
    /// ruff's Python parser, in Rust: the abstract syntax, in CPython's `ast` shapes.
    Syntax,
    /// CPython's own `symtable` and `dis`, through the Python helpers.
    Python,
    /// tree-sitter-python, in Rust.
    TreeSitter,
}

/// One table: its name in the lake and its columns (after `file_id`, which every table starts
/// with).
pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    pub extractor: Extractor,
}

use Extractor::{Files, Python, Syntax, TreeSitter};
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
        extractor: Files,
    },
    TableDef {
        name: "file_lines",
        columns: &[("line_no", Int), ("line_start_byte", Int), ("text", Str)],
        extractor: Files,
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
        extractor: Syntax,
    },
    TableDef {
        name: "py_decorators",
        columns: &[("def_bstart", Int), ("bstart", Int), ("bend", Int), ("name", Str)],
        extractor: Syntax,
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
        extractor: Syntax,
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
        extractor: Syntax,
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
        extractor: Syntax,
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
        extractor: Syntax,
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
        extractor: Python,
    },
    TableDef {
        name: "py_symbols",
        columns: &SYMBOLS,
        extractor: Python,
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
        extractor: Python,
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
        extractor: Python,
    },
    TableDef {
        name: "py_errors",
        columns: &[("stage", Str), ("message", Str), ("lineno", Int), ("col", Int)],
        extractor: Syntax,
    },
    // a node's `lineno`/`col` are its first byte's line (from 1) and byte column (from 0)
    TableDef {
        name: "ts_nodes",
        columns: &[
            ("node_id", Int),
            ("parent_id", Int),
            ("kind", Str),
            ("field", Str),
            ("bstart", Int),
            ("bend", Int),
            ("lineno", Int),
            ("col", Int),
            ("end_lineno", Int),
            ("end_col", Int),
            ("is_error", Bool),
            ("is_missing", Bool),
            ("is_extra", Bool),
        ],
        extractor: TreeSitter,
    },
    TableDef {
        name: "ts_tokens",
        columns: &[
            ("idx", Int),
            ("node_id", Int),
            ("parent_id", Int),
            ("kind", Str),
            ("text", Str),
            ("bstart", Int),
            ("bend", Int),
            ("lineno", Int),
            ("col", Int),
            ("is_named", Bool),
            ("is_extra", Bool),
        ],
        extractor: TreeSitter,
    },
    TableDef {
        name: "ts_errors",
        columns: &[
            ("node_id", Int),
            ("kind", Str),
            ("message", Str),
            ("bstart", Int),
            ("bend", Int),
            ("lineno", Int),
            ("col", Int),
        ],
        extractor: TreeSitter,
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

    /// How the table's Parquet files are encoded: dictionary pages for its strings (file ids,
    /// kinds and names repeat), plain pages for its numbers and flags — offsets rarely repeat,
    /// and interning each of them into a dictionary the writer then drops was the largest
    /// single cost in a profile of an extraction.
    pub fn writer_properties(&self) -> WriterProperties {
        let mut props = WriterProperties::builder()
            .set_created_by(format!("semc {}", env!("CARGO_PKG_VERSION")))
            .set_compression(Compression::SNAPPY);
        for (name, kind) in self.columns {
            if *kind != Str {
                props = props.set_column_dictionary_enabled(ColumnPath::from(*name), false);
            }
        }
        props.build()
    }

    /// One file's rows given as columns (`{column: [value, …]}`, a missing column null, a
    /// value of another kind than its column's null).
    pub fn batch_from_columns(
        &'static self,
        file_id: &str,
        columns: &Map<String, Value>,
    ) -> datafusion::common::Result<RecordBatch> {
        let len = column_len(columns);
        let mut rows = Rows::new(self, file_id);
        for (c, (name, _)) in self.columns.iter().enumerate() {
            let values = columns.get(*name).and_then(Value::as_array);
            for i in 0..len {
                rows.columns[c].append_json(values.and_then(|v| v.get(i)).unwrap_or(&Value::Null));
            }
        }
        rows.len = len;
        rows.finish()
    }
}

/// A value of a row appended in Rust (a value of another kind than its column's is null).
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Str(Option<&'a str>),
    Int(Option<i64>),
    Bool(bool),
}

enum Column {
    Str(StringBuilder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
}

impl Column {
    fn of(kind: Kind) -> Column {
        match kind {
            Str => Column::Str(StringBuilder::new()),
            Int => Column::Int(Int64Builder::new()),
            Bool => Column::Bool(BooleanBuilder::new()),
        }
    }

    fn append_json(&mut self, v: &Value) {
        match self {
            Column::Str(b) => b.append_option(v.as_str()),
            Column::Int(b) => b.append_option(v.as_i64()),
            Column::Bool(b) => b.append_option(v.as_bool()),
        }
    }

    fn append(&mut self, cell: Cell) {
        match (self, cell) {
            (Column::Str(b), Cell::Str(v)) => b.append_option(v),
            (Column::Int(b), Cell::Int(v)) => b.append_option(v),
            (Column::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (Column::Str(b), _) => b.append_null(),
            (Column::Int(b), _) => b.append_null(),
            (Column::Bool(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Str(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// One file's rows of a table, appended a row at a time, its cells in the table's column order.
pub struct Rows {
    def: &'static TableDef,
    file_id: String,
    columns: Vec<Column>,
    len: usize,
}

impl Rows {
    pub fn new(def: &'static TableDef, file_id: &str) -> Rows {
        Rows {
            def,
            file_id: file_id.to_string(),
            columns: def.columns.iter().map(|(_, k)| Column::of(*k)).collect(),
            len: 0,
        }
    }

    /// Appends a row: one cell per column, in order (a missing cell is null).
    pub fn row(&mut self, cells: &[Cell]) {
        for (i, column) in self.columns.iter_mut().enumerate() {
            column.append(cells.get(i).copied().unwrap_or(Cell::Str(None)));
        }
        self.len += 1;
    }

    pub fn finish(mut self) -> datafusion::common::Result<RecordBatch> {
        let mut ids = StringBuilder::with_capacity(self.len, self.len * self.file_id.len());
        (0..self.len).for_each(|_| ids.append_value(&self.file_id));
        let mut columns: Vec<ArrayRef> = vec![Arc::new(ids.finish())];
        columns.extend(self.columns.iter_mut().map(Column::finish));
        Ok(RecordBatch::try_new(self.def.schema(), columns)?)
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
