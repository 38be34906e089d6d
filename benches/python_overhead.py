#!/usr/bin/env python3
"""The Python call path against the CLI, on the TPC-H demo, in one run.

Per round (rounds interleaved, each engine a fresh process where it says so):
  cli      `semc run DIR` as a process
  process  `python -c "import semc; semc.compile(DIR).run()"` as a process
           (interpreter start and import included)
  call     `semc.compile(DIR).run()` inside one long-lived interpreter
  show     `semc.compile(DIR).show(model)` of every output's model, in that interpreter,
           against `semc show DIR --model M --format csv` processes

Prints the medians and ends with one line:
  python_overhead cli_s=… process_s=… call_s=… ratio_process=… ratio_call=…

Usage: benches/python_overhead.py [--sf 0.1] [--rounds 5] [--semc target/release/semc]
(`semc` on the command line and the `semc` package must be the same build: release both,
e.g. `cargo build --release` and `maturin develop --release` in python/).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import semc


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sf", default="0.1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--semc", default=str(Path(__file__).resolve().parents[1] / "target" / "release" / "semc"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="semc-py-bench-"))
    ws = work / "tpch"
    subprocess.run([args.semc, "demo", str(ws), "--sf", args.sf], check=True, capture_output=True)
    shutil.rmtree(ws / "out")
    models = semc.compile(ws).outputs  # each output's model has the output's name

    def cli() -> None:
        subprocess.run([args.semc, "run", str(ws)], check=True, capture_output=True)

    def process() -> None:
        code = f"import semc; semc.compile({str(ws)!r}).run()"
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)

    def call() -> None:
        semc.compile(ws).run()

    def show_cli() -> None:
        for m in models:
            subprocess.run([args.semc, "show", str(ws), "--model", m, "--format", "csv"], check=True, capture_output=True)

    def show_call() -> None:
        c = semc.compile(ws)
        for m in models:
            c.show(m)

    cases = {"cli": cli, "process": process, "call": call, "show_cli": show_cli, "show_call": show_call}
    times: dict[str, list[float]] = {k: [] for k in cases}
    call()  # warm the file cache and the runtime once
    for r in range(args.rounds):
        for name, fn in cases.items():
            times[name].append(timed(fn))
        print(f"round {r + 1}: " + "  ".join(f"{k}={v[-1]:.3f}s" for k, v in times.items()), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:10} median {v:.3f} s")
    print(
        f"python_overhead sf={args.sf} cli_s={med['cli']:.3f} process_s={med['process']:.3f} "
        f"call_s={med['call']:.3f} ratio_process={med['process'] / med['cli']:.3f} "
        f"ratio_call={med['call'] / med['cli']:.3f} "
        f"show_ratio={med['show_call'] / med['show_cli']:.3f}"
    )
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
