//! The one registry of diagnostic codes. Each code has a name, a one-line summary and an
//! explanation (`semc codes E0102` prints it). Codes are never reused.

macro_rules! codes {
    ($( $code:ident $name:literal $summary:literal $explain:literal ;)*) => {
        /// A diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($code,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$code => stringify!($code),)* }
            }
            /// Short kebab-case name.
            pub fn name(self) -> &'static str {
                match self { $(Code::$code => $name,)* }
            }
            pub fn summary(self) -> &'static str {
                match self { $(Code::$code => $summary,)* }
            }
            /// What it means, why it is an error, and what to do.
            pub fn explanation(self) -> &'static str {
                match self { $(Code::$code => $explain,)* }
            }
            pub fn parse(s: &str) -> Option<Code> {
                Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(s))
            }
        }
    };
}

codes! {
    // ---- files and syntax: E00xx ----
    E0001 "syntax" "syntax error"
        "The text does not follow the `.sem` grammar. The label shows the first place where the parser could not continue and what it expected there.";
    E0002 "invalid-utf8" "file is not valid UTF-8"
        "`.sem` files are UTF-8 text. The label marks the first byte that is not valid UTF-8; re-save the file as UTF-8.";
    E0003 "too-deep" "nesting is too deep"
        "Brackets or operators are nested deeper than semc accepts (256 levels). Split the expression with `derive` steps.";
    E0004 "unreadable-file" "file cannot be read"
        "A file named on the command line or in an `import` does not exist or cannot be read.";
    E0005 "import-cycle" "import cycle"
        "Files import each other in a cycle. A workspace is a tree of imports: move the shared declarations into a file both import.";
    E0006 "null-byte" "file contains a NUL byte"
        "A NUL byte is not allowed in `.sem` text; the file is probably binary or corrupt.";
    E0007 "too-large" "file is too large"
        "A `.sem` file may be at most 16 MiB.";
    E0008 "empty-file" "file declares nothing"
        "A `.sem` file with no items (only whitespace and comments) is allowed but probably a mistake.";
    E0009 "bad-project-file" "semc.toml cannot be used"
        "The project file `semc.toml` (in the workspace's folder or above) does not parse, has a key semc does not know, names no such profile, or sets a value that is not valid (a size, a root). `semc init` writes a commented one.";
    E0010 "unwritable-file" "a file or folder cannot be written"
        "A command could not create or write a file or folder it writes (`semc fmt` rewriting a file, `semc init` or `semc demo` writing their files and tables): the path is read-only, on a full disk, or a file stands where a folder should. The message names the path and the system's reason; nothing else was changed.";
    E0011 "would-overwrite" "a command would overwrite files"
        "`semc init` writes a starter workspace only into a folder without its files (`semc.toml`, the `.sem` files, `data/`): it never overwrites. Choose an empty folder, or remove the files it names.";
    E0012 "bad-option" "a command-line value is not valid"
        "A value given on the command line is outside what the command takes (e.g. `semc demo --sf` must be above 0 and at most 100).";
    E0013 "no-python" "no Python to extract Python files with"
        "`semc extract` runs CPython's own `ast`, `symtable` and `dis` (a helper process per job) for the `py_*` tables. No `python3` (or the `SEMC_PYTHON` given) could be started: `repo_files`, `file_lines` and tree-sitter's `ts_*` tables are written, the `py_*` tables are left as they were. Install Python 3, or set SEMC_PYTHON to one.";
    // ---- names: E01xx ----
    E0101 "duplicate-name" "name is declared twice"
        "Sources and models share one namespace per workspace; columns, joins, measures and dimensions share one per source; output columns must be unique in a model.";
    E0102 "unknown-name" "unknown name"
        "A name does not resolve to a column, dimension, measure or join in scope. Steps apply in order: a column exists only after the step that makes it, and after `select` or `aggregate` only their outputs remain.";
    E0103 "unknown-relation" "unknown source or model"
        "`from`, `join`, `union` and `output` name a source or model declared in the workspace.";
    E0104 "unknown-function" "unknown function"
        "Functions come from the standard library (`stdlib/functions.sem`).";
    E0105 "unknown-type" "unknown type"
        "Types are bool, int32, int64, float64, decimal(p, s), string, date and timestamp.";
    E0106 "unknown-join" "path does not follow a declared join"
        "A dotted path `a.b.c` walks the joins declared on the source: each part but the last must be a join name.";
    E0107 "bad-policy" "invalid policy"
        "Only one `policy` block per workspace, with the keys identifiers (lower|exact), strict (bool), allow (list of steps), max_reader_version and max_writer_version (integers).";
    E0108 "step-not-allowed" "step not allowed by policy"
        "The workspace policy's `allow` list does not include this step.";
    E0110 "case-clash" "names differ only by case"
        "Two columns of one relation have names that differ only by letter case; with `identifiers = lower` they cannot be told apart.";
    E0111 "unnamed-column" "column needs a name"
        "An expression in `select`, `derive`, `group by` or `aggregate` that is not a plain column, path or measure needs a name: `name = expression`.";
    E0112 "dependency-cycle" "models depend on each other in a cycle"
        "A model reads from (or joins, or unions) a model that in turn reads from it. Models form a graph without cycles.";
    E0113 "type-cycle" "type aliases refer to each other in a cycle"
        "A `type` alias names a type made of other types; an alias cannot be made of itself, directly or through other aliases. Write the nested part out, or give it its own alias.";
    // ---- types and semantics: E02xx ----
    E0201 "type-mismatch" "operands have incompatible types"
        "An operator or construct got operands whose types do not fit together. semc never casts implicitly when information could be lost: write `cast(x as T)`.";
    E0202 "not-bool" "condition is not bool"
        "`where`, `check`, `case when` and boolean operators take bool expressions.";
    E0203 "bad-arguments" "wrong arguments to a function"
        "The function's signature in the standard library takes a different number or other types of arguments.";
    E0204 "join-key-types" "join keys have incompatible types"
        "Both sides of each join key pair must have the same type family (integers, decimals, strings, dates, …).";
    E0205 "join-target-not-unique" "join target is not unique"
        "`many_to_one` and `one_to_one` joins promise that each row finds at most one row on the target: the target's key columns must be declared `key` or `unique`.";
    E0206 "fan-out" "aggregate would count rows more than once"
        "Aggregating values of a relation across a join that repeats its rows (a `one_to_many` join, or a measure of a joined `many_to_one` target) counts them more than once. Aggregate at that relation's own grain in a model of its own and join the result, or use count_distinct/min/max.";
    E0207 "misplaced-aggregate" "aggregate used outside an aggregation"
        "Aggregate functions and measures belong in `aggregate { }` (or in a measure); row-level places (where before aggregate, derive, select, group keys, checks, dimensions) cannot hold them.";
    E0208 "missing-aggregate" "column used without aggregation"
        "Inside `aggregate { }`, a column that is not a group key must be wrapped in an aggregate function.";
    E0209 "contract-mismatch" "model does not satisfy its contract"
        "A model's contract lists its columns with types and constraints. Each must exist with a type that widens losslessly to the declared one, and a `not null` column must not be nullable.";
    E0210 "union-mismatch" "union inputs do not match"
        "Both sides of `union` must have the same column names with compatible types.";
    E0211 "bad-output" "invalid output"
        "An output names a model; its partition columns must be columns of that model, and each Delta location may be written by only one output.";
    E0212 "bad-literal" "invalid literal"
        "A literal could not be read: dates are YYYY-MM-DD, timestamps RFC 3339, intervals like \"3 months\" or \"7 days\", integers fit in 64 bits, decimals in 38 digits.";
    E0213 "bad-measure" "invalid measure or dimension"
        "A measure is an aggregate expression over the source's rows; a dimension is a row-level expression.";
    E0214 "bad-join" "invalid join"
        "A join's `on` pairs compare one column of the left side with one column of the target.";
    E0215 "bad-limit" "invalid limit"
        "`limit` takes a non-negative integer.";
    E0217 "not-scalar" "model is not a single row"
        "`model.column` in an expression reads a scalar: the model must end in an `aggregate` without `group by` (at most one row). To use a model of many rows, join it.";
    E0218 "bad-scan-option" "invalid scan option"
        "A source's `scan { }` block takes `file_column = \"name\"` (adds a string column with each row's file), `pushdown = true|false` (parquet filter pushdown) and `files = [\"path\", …]` (read only these files of the snapshot, as the Delta log names them).";
    E0219 "empty-aggregate" "aggregate without anything to compute"
        "`aggregate { }` without `group by` needs at least one item, e.g. `aggregate { n = count() }`.";
    E0220 "untyped-column" "column has no type"
        "A column whose value is only `null` has no type a table can store: write `cast(null as T)`.";
    E0221 "not-incremental" "model cannot be computed incrementally"
        "An `incremental` model appends, on each run, the rows its source's new changes produce, so each input row must map to output rows on its own: it reads `from` a source, which it reads once, with row-by-row steps (`where`, `derive`, `select`, joins). `group by`, `aggregate`, `distinct`, `sort`, `limit` and `union` need every row at once; compute them in a model downstream. Its output is declared `mode append`.";
    E0222 "no-change-data-feed" "source has no change data feed"
        "An `incremental` model reads its source's Change Data Feed: the table property `delta.enableChangeDataFeed = true` must be set (e.g. `ALTER TABLE … SET TBLPROPERTIES (delta.enableChangeDataFeed = true)`) at the version read.";
    E0223 "output-over-source" "an output would overwrite a source"
        "An output's Delta location is the table a source of the workspace reads: writing it would replace the input (and the next run would read its own output). Give the output a location of its own; inputs are never overwritten.";
    E0224 "bad-window" "invalid window function"
        "A window function computes a value per row from the rows of its partition: `f(…) over (partition by k, … order by e [asc|desc], … [rows between A and B])`, where A and B are `unbounded preceding`, `N preceding`, `current row`, `N following` or `unbounded following`, A not after B. Window functions (`row_number`, `rank`, `lag`, …) are written with `over`; aggregates may stand over a window too. They are computed in `derive` and `select`; filter on them in a later `where`.";
    E0225 "bad-unnest" "invalid unnest step"
        "`unnest e as x [keep empty] [with ordinality as i]` gives one row per element of the list `e` (or entry of the map `e`, a struct with `key` and `value`), the row's other columns carried along; `keep empty` keeps a row whose list is empty or null once, `x` null; `i` counts the elements from 1. `e` must be a list or a map, and `x` and `i` new names.";
    E0226 "nested-value" "a list, struct or map cannot be used this way"
        "Lists, structs and maps are values like others, but they have no order semantics users agree on and no stable hash across engines: they compare only with `==` and `!=`, a map's keys are scalar, and a key (`key`, `unique`, a join's keys, `per` and `partition by`) is made of scalar columns. Take a field (`s.f`), an element (`xs[1]`), a size (`size(xs)`), or `unnest` the list first.";
    // ---- Delta: E03xx ----
    E0301 "table-not-found" "Delta table not found"
        "The source's location has no Delta table (`_delta_log` with at least one commit).";
    E0302 "table-unreadable" "Delta log cannot be read"
        "The Delta log at the location is corrupt or unreadable.";
    E0303 "column-not-in-table" "declared column is missing from the table"
        "Every column a source declares must exist in the Delta table at the pinned version. A source may declare a subset.";
    E0304 "column-type-differs" "declared type differs from the table"
        "The declared type of a column must be the table's type at the pinned version, or a type it widens to without loss (a Delta `short` declared `int32`, `float` declared `float64`, `integer` declared `int64`, `timestamp_ntz` declared `timestamp`): the scan casts.";
    E0305 "version-not-available" "pinned version is not available"
        "The log no longer holds (or never held) the pinned version or timestamp; semc never reads another version instead.";
    E0306 "bad-location" "invalid Delta location"
        "A Delta location is a path relative to the workspace root or a URI.";
    E0307 "nullability-differs" "declared nullability differs from the table"
        "A column declared `not null` or `key` is nullable in the Delta table; the table does not guarantee it.";
    E0308 "unsupported-table" "table uses features semc does not support"
        "The table's protocol requires reader features semc cannot honour, or exceeds the policy's max versions.";
    E0309 "bad-lock" "sem.lock cannot be used"
        "`semc run --locked` reads the versions recorded in sem.lock beside the entry file; the file is missing, not a lock file, or lacks a source (run once without --locked to write it).";
    E0310 "storage-unreachable" "the table's object store refused or could not be reached"
        "Reading the table's storage failed before its Delta log could be read: the endpoint is unreachable, the bucket or container does not exist, or the credentials are missing or refused. semc reads credentials as each cloud's tools do (`AWS_*` variables and profile files, `AZURE_STORAGE_*`, `GOOGLE_APPLICATION_CREDENTIALS`, instance metadata); the message names the store's answer. No secret is ever printed.";
    // ---- run time: E04xx ----
    E0401 "write-failed" "writing an output failed"
        "The Delta write of an output failed; nothing was committed to it.";
    E0402 "contract-violated" "data violates a contract"
        "Rows produced for an output break a declared constraint (not null, unique, check). Nothing was committed to that output.";
    E0403 "output-not-found" "no such output"
        "The `--output` name does not match an output of the workspace.";
    E0405 "key-not-unique" "a join's key is not unique in the data"
        "A `many_to_one` or `one_to_one` join promises that each row finds at most one row of the target. Before committing, semc checks that the target's key columns are unique in the snapshot read; duplicates would silently multiply rows, so nothing is committed.";
    E0406 "orphan-keys" "join keys that match nothing"
        "Rows whose foreign key matches no row of a `many_to_one`/`one_to_one` join's target read nulls through the join. A warning; an error (nothing committed) under `strict = true`.";
    E0407 "write-conflict" "another writer changed the output"
        "Another run committed to the output between the time this run read it and its commit, in a way this commit cannot be applied on top of (two overwrites, or two incremental runs). Nothing of this run was committed to that output; run again to compute on the new state.";
    E0408 "source-constraint-violated" "a source's data breaks what it declares"
        "Under `strict = true`, every constraint a source declares that its Delta table does not itself guarantee (`key`, `unique`, `check (…)`, and `not null` on a column the table allows nulls in) is verified on the snapshot read before the run commits. Models rely on these declarations (types, join cardinality, fan-out), so a violation commits nothing.";
    E0409 "evaluation-failed" "an expression failed on a row's values"
        "The program checked, but a value in the data made an expression fail while the plan ran: an integer division or `%` by zero, an arithmetic overflow, a cast whose value does not fit the target type, or a function given a value it has no result for (`sqrt` of a negative number, `power(0, y)` with `y` below 0). Nothing was committed. Guard the expression (`case when d == 0 then null else n / d end`), filter the rows, or widen the type.";
    E0410 "out-of-memory" "the run needs more memory than it may use"
        "An operator could not complete within `--memory-limit`, even spilling to disk (a hash join that runs out is first retried as a sort-merge join). Nothing was committed. Raise the limit, or narrow the data the model reads.";
    E0411 "cluster-unreachable" "the cluster's scheduler cannot be reached"
        "`--cluster df://HOST:PORT` names a Ballista scheduler (`semc cluster scheduler`, or `semc cluster start` for a scheduler and executors in one process). It did not answer at that address: start it, or check the host and port (50050 unless given). Nothing was computed or committed.";
    E0412 "not-on-cluster" "a table cannot be read on a cluster"
        "On a cluster each pinned snapshot is read as its parquet files, with partition values from the Delta log. A snapshot whose rows are not exactly its files' rows is refused rather than read wrong: deletion vectors (purge them, e.g. `REORG TABLE … APPLY (PURGE)`), column mapping; an incremental model's Change Data Feed and `scan { file_column }` are read only locally. Run without `--cluster`; nothing was committed.";
    E0413 "cluster-query-failed" "the cluster failed a query"
        "The scheduler or an executor failed a query of the run (an executor lost beyond the scheduler's retries, a task error, the scheduler gone). The message is the cluster's. Nothing was committed: outputs keep their last committed version; run again.";
    E0414 "closure-too-long" "a closure's walks go on past its max"
        "A `closure … max N` step found a walk of N edges that the data continues (a chain deeper than N, or a cycle when every walk is kept). Nothing was committed. Raise `max`, keep `shortest` walks (a cycle then ends), or write `truncate` to cut walks at N on purpose.";
    E0415 "host-function" "a host function is not registered, or fails"
        "An `extern fn` declares a function the program running semc implements. Before a run, each must be registered (`semc::host::register` in Rust, `semc.register_function` in Python) with the result type it declares; while a run computes, a host function that fails stops it. Nothing was committed.";
    E0416 "cluster-result-unvouched" "the cluster returned a result semc cannot vouch for"
        "Before a cluster's result is used, semc checks the job that computed it: each final partition published once, and read back with as many rows as its task reported. A job that published a partition twice (a scheduler that counted a task's work again after an executor was taken for lost) is submitted once more; a second such job, or a partition whose rows differ, stops the run. Nothing computed through it was committed; run again, and keep the executors' `--executor-timeout` above any pause they may have.";
    E0417 "run-cache-unwritable" "the run's temporary files cannot be written"
        "A model that several outputs read is computed once per run into Arrow files under the system's temporary folder (`TMPDIR`), removed when the run ends. They could not be written: the disk is full, or the folder is not writable. Nothing was committed. Free space, point `TMPDIR` at a folder with room, or set `SEMC_SHARED_MODELS=off` to compute each model wherever it is read.";
    E0418 "data-file-unreadable" "a data file of a table cannot be read"
        "A file the table's Delta log lists for the snapshot read is missing, cut short, or not Parquet: it was deleted or changed outside Delta (a vacuum with too short a retention, a copy that stopped halfway, a hand edit). Nothing was committed. Restore the file, or read a version of the table whose files are whole (`version = N` on the source, or `--bind`).";
    E0404 "bad-plan-file" "plan file cannot be read"
        "The Substrait plan file is not a valid plan written by `semc plan`.";
}
