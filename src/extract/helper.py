"""semc extract's Python helper: CPython's own `ast`, `symtable` and `dis` over one file per
request. Reads JSON lines `{"path": …}` on stdin, writes one JSON line per request:
`{"tables": {table: {column: [value, …]}}}` (a table's columns, each a list of one value per
row; byte offsets are UTF-8 bytes from the start of the file). Long-lived: semc starts one per
core and feeds it files. (Tokens and the concrete syntax tree are tree-sitter's, in Rust.)
"""

import ast
import dis
import io
import json
import symtable
import sys
import tokenize
import types

VERSION = "4"


def line_starts(data):
    starts = [0]
    at = data.find(b"\n")
    while at >= 0:
        starts.append(at + 1)
        at = data.find(b"\n", at + 1)
    return starts


def offset(starts, lineno, col):
    if lineno is None or col is None:
        return None
    if lineno - 1 >= len(starts):
        return None
    return starts[lineno - 1] + col


def span(starts, node):
    return (
        offset(starts, getattr(node, "lineno", None), getattr(node, "col_offset", None)),
        offset(starts, getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)),
    )


def dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    return None


def name_span(starts, text_bytes, node, keyword):
    """The byte span of a def's or class's name: after its keyword on its first line."""
    start = offset(starts, node.lineno, node.col_offset)
    if start is None:
        return None, None
    line_end = text_bytes.find(b"\n", start)
    line = text_bytes[start : line_end if line_end >= 0 else len(text_bytes)]
    at = line.find(keyword)
    if at < 0:
        return None, None
    rest = line[at + len(keyword) :]
    skip = len(rest) - len(rest.lstrip())
    name_start = start + at + len(keyword) + skip
    return name_start, name_start + len(node.name.encode("utf-8"))


def walk(tree, starts, data, out):
    stack = [(tree, None, "")]
    while stack:
        node, parent_def, prefix = stack.pop()
        kind = None
        if isinstance(node, ast.FunctionDef):
            kind, keyword = "function", b"def"
        elif isinstance(node, ast.AsyncFunctionDef):
            kind, keyword = "async_function", b"def"
        elif isinstance(node, ast.ClassDef):
            kind, keyword = "class", b"class"
        child_parent, child_prefix = parent_def, prefix
        if kind is not None:
            bstart, bend = span(starts, node)
            nstart, nend = name_span(starts, data, node, keyword)
            qualname = prefix + node.name
            out["py_defs"].append(
                (
                    kind,
                    node.name,
                    qualname,
                    bstart,
                    bend,
                    nstart,
                    nend,
                    node.lineno,
                    node.end_lineno,
                    parent_def,
                    ast.get_docstring(node, clean=False),
                    len(node.decorator_list),
                )
            )
            for d in node.decorator_list:
                ds, de = span(starts, d)
                out["py_decorators"].append(
                    (
                        bstart,
                        ds,
                        de,
                        dotted(d.func if isinstance(d, ast.Call) else d),
                    )
                )
            child_parent = bstart
            child_prefix = qualname + (".<locals>." if kind != "class" else ".")
        elif isinstance(node, ast.Call):
            bstart, bend = span(starts, node)
            fs, fe = span(starts, node.func)
            callee = dotted(node.func)
            out["py_calls"].append(
                (
                    bstart,
                    bend,
                    fs,
                    fe,
                    callee,
                    callee.rsplit(".", 1)[-1] if callee else None,
                    len(node.args),
                    len(node.keywords),
                    node.lineno,
                    parent_def,
                )
            )
            for i, a in enumerate(node.args):
                s, e = span(starts, a)
                out["py_call_args"].append(
                    (
                        bstart,
                        i,
                        None,
                        s,
                        e,
                    )
                )
            for k in node.keywords:
                s, e = span(starts, k.value)
                out["py_call_args"].append(
                    (
                        bstart,
                        None,
                        k.arg,
                        s,
                        e,
                    )
                )
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bstart, bend = span(starts, node)
            module = node.module if isinstance(node, ast.ImportFrom) else None
            level = node.level if isinstance(node, ast.ImportFrom) else 0
            for a in node.names:
                out["py_imports"].append(
                    (
                        bstart,
                        bend,
                        node.lineno,
                        isinstance(node, ast.ImportFrom),
                        module if isinstance(node, ast.ImportFrom) else a.name,
                        a.name if isinstance(node, ast.ImportFrom) else None,
                        a.asname,
                        level,
                        parent_def,
                    )
                )
        elif isinstance(node, ast.Name):
            bstart, bend = span(starts, node)
            out["py_names"].append(
                (
                    node.id,
                    type(node.ctx).__name__.lower(),
                    bstart,
                    bend,
                    node.lineno,
                    parent_def,
                )
            )
        elif isinstance(node, ast.arg):
            bstart, bend = span(starts, node)
            out["py_names"].append(
                (
                    node.arg,
                    "param",
                    bstart,
                    bend,
                    node.lineno,
                    parent_def,
                )
            )
        children = list(ast.iter_child_nodes(node))
        for c in reversed(children):
            stack.append((c, child_parent, child_prefix))


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
            table.get_type().name.lower() if hasattr(table.get_type(), "name") else str(table.get_type()),
            table.get_name(),
            table.get_lineno(),
            table.is_optimized(),
            table.is_nested(),
        )
    )
    for s in table.get_symbols():
        flags = [getattr(s, f, None) for f in SYMBOL_FLAGS]
        out["py_symbols"].append(
            (scope_id, s.get_name(), *(bool(m()) if m is not None else None for m in flags))
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
    "py_defs": (
        "kind",
        "name",
        "qualname",
        "bstart",
        "bend",
        "name_bstart",
        "name_bend",
        "lineno",
        "end_lineno",
        "parent_bstart",
        "docstring",
        "n_decorators",
    ),
    "py_decorators": ("def_bstart", "bstart", "bend", "name"),
    "py_calls": (
        "bstart",
        "bend",
        "func_bstart",
        "func_bend",
        "callee",
        "callee_name",
        "n_args",
        "n_keywords",
        "lineno",
        "enclosing_def_bstart",
    ),
    "py_call_args": ("call_bstart", "position", "keyword", "bstart", "bend"),
    "py_imports": (
        "bstart",
        "bend",
        "lineno",
        "is_from",
        "module",
        "name",
        "asname",
        "level",
        "enclosing_def_bstart",
    ),
    "py_names": ("name", "ctx", "bstart", "bend", "lineno", "enclosing_def_bstart"),
    "py_scopes": ("scope_id", "parent_scope_id", "kind", "name", "lineno", "is_optimized", "is_nested"),
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
    "py_instructions": ("code_id", "offset", "opname", "arg", "argrepr", "lineno", "is_jump_target"),
    "py_errors": ("stage", "message", "lineno", "col"),
}


def extract(path):
    out = {t: [] for t in COLUMNS}
    with open(path, "rb") as f:
        data = f.read()
    starts = line_starts(data)
    try:
        # as CPython reads a source file: a coding cookie, else UTF-8
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as e:
        out["py_errors"].append(
            (
                "decode",
                str(e),
                None,
                None,
            )
        )
        return out
    try:
        tree = ast.parse(data, filename=path)
    except (SyntaxError, ValueError) as e:
        out["py_errors"].append(
            (
                "parse",
                getattr(e, "msg", str(e)),
                getattr(e, "lineno", None),
                getattr(e, "offset", None),
            )
        )
        return out
    walk(tree, starts, data, out)
    for stage, run in (
        ("symtable", lambda: scopes(symtable.symtable(text, path, "exec"), out, None, [0])),
        ("bytecode", lambda: bytecode(compile(tree, path, "exec", dont_inherit=True), out, None, [0])),
    ):
        try:
            run()
        except Exception as e:  # a stage that fails is recorded; the others stand
            out["py_errors"].append(
                (
                    stage,
                    str(e),
                    getattr(e, "lineno", None),
                    None,
                )
            )
    return out


def columns(tables):
    """Each table's rows as columns: far less to write and to read than an object per row."""
    return {name: dict(zip(COLUMNS[name], map(list, zip(*rows)))) for name, rows in tables.items() if rows}


def main():
    hello = {"helper": VERSION, "python": sys.version.split()[0]}
    sys.stdout.write(json.dumps(hello) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = {"tables": columns(extract(request["path"]))}
        except Exception as e:  # never stop: the file is recorded as an error
            result = {"tables": columns({"py_errors": [("helper", repr(e), None, None)]})}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
