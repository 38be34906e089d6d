"""The extract tests' reference: Python's own modules walked directly over a repository,
independently of semc's helper. Prints one JSON object:

- `counts`: per table, the rows semc extract must write (defs, calls, imported names, names
  read/bound, symbol-table scopes and symbols, code objects, parse errors);
- `tokens`: [path, byte offset, text] of each NAME, NUMBER, OP and COMMENT token `tokenize`
  gives of a file that parses (the concrete syntax tree's leaves must hold each of them);
- `contains`: [parent, child] for each definition (parent: the enclosing definition's
  qualified name, or the file as `repo/path`);
- `direct_calls`: [file, callee, definition] for each call of a plain name that a module-level
  definition (in no other definition) of the same file has;
- `spans`: per table, a row (as text, `NULL` for none) for each def (`py_defs`: path, kind,
  qualname, bstart, bend, lineno, end_lineno), call (`py_calls`: path, bstart, bend,
  func_bstart, func_bend, callee), call argument (`py_call_args`: path, call_bstart, position,
  keyword, bstart, bend) and name (`py_names`: path, name, ctx — `param` for a parameter —,
  bstart, bend), byte offsets from the file's start.
"""
import ast
import json
import pathlib
import symtable
import sys
import tokenize
import types

root = pathlib.Path(sys.argv[1]).resolve()
repo = root.name
counts = {k: 0 for k in ["repo_files", "py_defs", "py_calls", "py_imports", "py_names",
                         "py_scopes", "py_symbols", "py_code_objects", "py_errors"]}
contains, direct_calls, tokens = [], [], []
SPAN_COLUMNS = {
    "py_defs": ["kind", "qualname", "bstart", "bend", "lineno", "end_lineno"],
    "py_calls": ["bstart", "bend", "func_bstart", "func_bend", "callee"],
    "py_call_args": ["call_bstart", "position", "keyword", "bstart", "bend"],
    "py_names": ["name", "ctx", "bstart", "bend"],
}
spans = {table: [] for table in SPAN_COLUMNS}


def text_of(*values):
    return ["NULL" if v is None else str(v) for v in values]


def dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None
LEAVES = (tokenize.NAME, tokenize.NUMBER, tokenize.OP, tokenize.COMMENT)


def files():
    ignored = [line.strip() for line in (root / ".gitignore").read_text().splitlines()] if (root / ".gitignore").exists() else []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if any(rel.as_posix().startswith(i.rstrip("/") + "/") or rel.match(i) for i in ignored if i):
            continue
        yield p, rel.as_posix()


def count_scopes(t):
    counts["py_scopes"] += 1
    counts["py_symbols"] += len(t.get_symbols())
    for c in t.get_children():
        count_scopes(c)


def count_code(code):
    counts["py_code_objects"] += 1
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            count_code(c)


for path, rel in files():
    counts["repo_files"] += 1
    if path.suffix != ".py":
        continue
    data = path.read_bytes()
    try:
        tree = ast.parse(data)
    except SyntaxError:
        counts["py_errors"] += 1
        continue
    text = data.decode("utf-8")
    starts = [0]
    for line in data.split(b"\n"):
        starts.append(starts[-1] + len(line) + 1)

    def at(lineno, col):
        return starts[lineno - 1] + col

    def span(node):
        return at(node.lineno, node.col_offset), at(node.end_lineno, node.end_col_offset)

    module_defs = set()  # definitions in no other one (under an `if` or `try` too)

    def visit(node, parent):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                counts["py_defs"] += 1
                qual = child.name if parent is None else parent[1] + (".<locals>." if parent[0] != "class" else ".") + child.name
                contains.append([parent[1] if parent else f"{repo}/{rel}", qual])
                kind = {ast.FunctionDef: "function", ast.AsyncFunctionDef: "async_function"}.get(type(child), "class")
                spans["py_defs"].append(text_of(rel, kind, qual, *span(child), child.lineno, child.end_lineno))
                if parent is None:
                    module_defs.add(child.name)
                visit(child, ("class" if isinstance(child, ast.ClassDef) else "function", qual))
            else:
                visit(child, parent)

    visit(tree, None)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            counts["py_calls"] += 1
            bstart, bend = span(node)
            spans["py_calls"].append(text_of(rel, bstart, bend, *span(node.func), dotted(node.func)))
            for i, a in enumerate(node.args):
                spans["py_call_args"].append(text_of(rel, bstart, i, None, *span(a)))
            for k in node.keywords:
                spans["py_call_args"].append(text_of(rel, bstart, None, k.arg, *span(k.value)))
            if isinstance(node.func, ast.Name) and node.func.id in module_defs:
                direct_calls.append([f"{repo}/{rel}", node.func.id, node.func.id])
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            counts["py_imports"] += len(node.names)
        elif isinstance(node, ast.Name):
            counts["py_names"] += 1
            spans["py_names"].append(text_of(rel, node.id, type(node.ctx).__name__.lower(), *span(node)))
        elif isinstance(node, ast.arg):
            counts["py_names"] += 1
            spans["py_names"].append(text_of(rel, node.arg, "param", *span(node)))
    count_scopes(symtable.symtable(text, str(path), "exec"))
    count_code(compile(tree, str(path), "exec", dont_inherit=True))
    # a token's column counts characters of its line: made a byte offset of the file
    lines = text.split("\n")
    line_start = [0]
    for line in lines:
        line_start.append(line_start[-1] + len(line.encode("utf-8")) + 1)
    with open(path, "rb") as f:
        for t in tokenize.tokenize(f.readline):
            if t.type in LEAVES:
                row, col = t.start
                at = line_start[row - 1] + len(lines[row - 1][:col].encode("utf-8"))
                tokens.append([rel, at, t.string])

print(json.dumps({"counts": counts, "contains": sorted(contains), "direct_calls": sorted(direct_calls),
                  "tokens": tokens, "span_columns": SPAN_COLUMNS, "spans": spans}))
