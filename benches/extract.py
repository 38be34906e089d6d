#!/usr/bin/env python3
"""`semc extract` against a single-process Python walk of the same files, in one run.

Per round (interleaved):
  semc     `semc extract ROOT --to LAKE` into a fresh lake (every table written: files,
           lines, syntax — ruff's parser —, tree-sitter's nodes and tokens, CPython's
           symtable and bytecode, imports resolved, Delta commits)
  rerun    the same again over the lake it wrote: nothing changed, nothing is written
  rust     `semc extract` as on a machine without Python (SEMC_PYTHON names none): every
           table but CPython's own four (symtable, bytecode) — semc's share of the time
  graph    `semc run` of examples/codeanatomy over the lake the first run wrote: the code
           property graph of the standard library (wall time and peak RSS)
  python   one Python process: for each `.py` file, `ast.parse` and a full `ast.walk`,
           `symtable.symtable` and `tokenize` — reading only, writing nothing

Prints the medians and ends with one line:
  extract files=… mb=… semc_s=… rerun_s=… rust_only_s=… python_s=… ratio=… graph_s=… graph_rss_mib=…
(ratio = python_s / semc_s)

Usage: benches/extract.py [--root STDLIB] [--rounds 3] [--semc target/release/semc]
(the standard library without `site-packages/`, the packages installed in it)
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import statistics
import symtable
import sysconfig
import tempfile
import time
import tokenize
from pathlib import Path

from measure import measured


def python_walk(files: list[Path]) -> None:
    for p in files:
        data = p.read_bytes()
        try:
            tree = ast.parse(data)
        except (SyntaxError, ValueError):
            continue
        for _ in ast.walk(tree):
            pass
        try:
            encoding, _ = tokenize.detect_encoding(iter([data]).__next__)
            symtable.symtable(data.decode(encoding), str(p), "exec")
            with open(p, "rb") as f:
                for _ in tokenize.tokenize(f.readline):
                    pass
        except (SyntaxError, UnicodeDecodeError, LookupError):
            continue


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--semc", default="target/release/semc")
    args = ap.parse_args()
    root = Path(args.root)
    # the files semc reads as Python: walked as git would (no hidden folders)
    files = [
        p
        for p in sorted(root.rglob("*.py"))
        if not any(
            part.startswith(".") or part == "site-packages"
            for part in p.relative_to(root).parts
        )
    ]
    mb = sum(p.stat().st_size for p in files) / 1e6
    semc_s, rerun_s, rust_s, python_s, graph_s, graph_rss = [], [], [], [], [], []

    def extract(to: Path) -> list[str]:
        return [args.semc, "extract", str(root), "--to", str(to), "--exclude", "site-packages/"]

    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            lake = Path(tmp) / "lake"
            semc_s.append(measured(extract(lake))[0])
            rerun_s.append(measured(extract(lake))[0])
            without_python = {**os.environ, "SEMC_PYTHON": "/nonexistent/python3"}
            rust_s.append(measured(extract(Path(tmp) / "rust"), without_python)[0])
            # the graph over the first lake: the example's files beside it
            example = Path(__file__).resolve().parents[1] / "examples" / "codeanatomy"
            for sem in example.glob("*.sem"):
                shutil.copy(sem, Path(tmp) / sem.name)
            wall, rss, _ = measured([args.semc, "run", tmp])
            graph_s.append(wall)
            graph_rss.append(rss)
        start = time.perf_counter()
        python_walk(files)
        python_s.append(time.perf_counter() - start)
    s, r, o, p, g, gm = (
        statistics.median(x)
        for x in (semc_s, rerun_s, rust_s, python_s, graph_s, graph_rss)
    )
    print(f"{len(files)} Python files, {mb:.1f} MB under {root}")
    print(
        f"semc extract: {s:.2f} s ({len(files) / s:.0f} files/s, {mb / s:.1f} MB/s); rerun {r:.2f} s"
    )
    print(f"without Python (CPython's symtable and dis not run): {o:.2f} s")
    print(f"the code graph over the lake: {g:.2f} s, peak RSS {gm:.0f} MiB")
    print(f"python walk:  {p:.2f} s ({len(files) / p:.0f} files/s, {mb / p:.1f} MB/s)")
    print(
        f"extract files={len(files)} mb={mb:.1f} semc_s={s:.2f} rerun_s={r:.2f} rust_only_s={o:.2f} "
        f"python_s={p:.2f} ratio={p / s:.2f} graph_s={g:.2f} graph_rss_mib={gm:.0f}"
    )


if __name__ == "__main__":
    main()
