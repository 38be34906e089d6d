"""semc extract's Python helper: CPython's own `symtable` and `dis` over one file per request.
Reads JSON lines `{"path": …}` on stdin, writes one JSON line per request:
`{"tables": {table: {column: [value, …]}}}` (a table's columns, each a list of one value per
row). Long-lived: semc starts one per core and feeds it the files its own parser read. (The
abstract syntax is ruff's parser's, the tokens and concrete syntax tree tree-sitter's, in Rust.)
"""

import dis
import io
import json
import symtable
import sys
import tokenize
import types

VERSION = "5"


SYMBOL_FLAGS = [
    "is_referenced",
    "is_imported",
    "is_parameter",
    "is_global",
    "is_declared_global",
    "is_local",
    "is_free",
    "is_assigned",
    "is_namespace",
    "is_nonlocal",
    "is_annotated",
]


def scopes(table, out, parent_id, counter):
    scope_id = counter[0]
    counter[0] += 1
    out["py_scopes"].append(
        (
            scope_id,
            parent_id,
            table.get_type().name.lower()
            if hasattr(table.get_type(), "name")
            else str(table.get_type()),
            table.get_name(),
            table.get_lineno(),
            table.is_optimized(),
            table.is_nested(),
        )
    )
    for s in table.get_symbols():
        flags = [getattr(s, f, None) for f in SYMBOL_FLAGS]
        out["py_symbols"].append(
            (
                scope_id,
                s.get_name(),
                *(bool(m()) if m is not None else None for m in flags),
            )
        )
    for child in table.get_children():
        scopes(child, out, scope_id, counter)


def bytecode(code, out, parent_id, counter):
    code_id = counter[0]
    counter[0] += 1
    out["py_code_objects"].append(
        (
            code_id,
            parent_id,
            code.co_name,
            getattr(code, "co_qualname", code.co_name),
            code.co_firstlineno,
            code.co_argcount,
            code.co_kwonlyargcount,
            code.co_nlocals,
            code.co_flags,
        )
    )
    for ins in dis.get_instructions(code):
        # a code object's repr holds its address and the file's absolute path: named instead
        argrepr = (
            f"<code object {ins.argval.co_qualname}>"
            if isinstance(ins.argval, types.CodeType)
            else ins.argrepr
        )
        out["py_instructions"].append(
            (
                code_id,
                ins.offset,
                ins.opname,
                ins.arg,
                argrepr,
                ins.positions.lineno if ins.positions else None,
                ins.is_jump_target,
            )
        )
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            bytecode(c, out, code_id, counter)


# each table's columns, in the order of its rows' values
COLUMNS = {
    "py_scopes": (
        "scope_id",
        "parent_scope_id",
        "kind",
        "name",
        "lineno",
        "is_optimized",
        "is_nested",
    ),
    "py_symbols": ("scope_id", "name", *SYMBOL_FLAGS),
    "py_code_objects": (
        "code_id",
        "parent_code_id",
        "name",
        "qualname",
        "firstlineno",
        "argcount",
        "kwonlyargcount",
        "nlocals",
        "flags",
    ),
    "py_instructions": (
        "code_id",
        "offset",
        "opname",
        "arg",
        "argrepr",
        "lineno",
        "is_jump_target",
    ),
    "py_errors": ("stage", "message", "lineno", "col"),
}


def extract(path):
    out = {t: [] for t in COLUMNS}
    with open(path, "rb") as f:
        data = f.read()
    try:
        # as CPython reads a source file: a coding cookie, else UTF-8
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as e:
        out["py_errors"].append(("decode", str(e), None, None))
        return out
    for stage, run in (
        (
            "symtable",
            lambda: scopes(symtable.symtable(text, path, "exec"), out, None, [0]),
        ),
        (
            "bytecode",
            lambda: bytecode(
                compile(data, path, "exec", dont_inherit=True), out, None, [0]
            ),
        ),
    ):
        try:
            run()
        except Exception as e:  # a stage that fails is recorded; the others stand
            out["py_errors"].append((stage, str(e), getattr(e, "lineno", None), None))
    return out


def columns(tables):
    """Each table's rows as columns: far less to write and to read than an object per row."""
    return {
        name: dict(zip(COLUMNS[name], map(list, zip(*rows))))
        for name, rows in tables.items()
        if rows
    }


def main():
    hello = {"helper": VERSION, "python": sys.version.split()[0]}
    sys.stdout.write(json.dumps(hello) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = {"tables": columns(extract(request["path"]))}
        except Exception as e:  # never stop: the file is recorded as an error
            result = {
                "tables": columns({"py_errors": [("helper", repr(e), None, None)]})
            }
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
