#!/usr/bin/env python3
"""End to end, each engine a fresh process: the 22 TPC-H results materialized as Delta tables.

    pip install -r benches/peers/requirements.txt
    cargo build --release
    python3 benches/race.py --sf 1 --rounds 3

Per round, interleaved: `semc run` on the TPC-H workspace (22 outputs, verified and committed),
then DuckDB and then Polars, each in its own process with 2 threads, running the official query
text over the same Delta tables and writing each of the 22 results with deltalake's
`write_deltalake`. Wall time and peak RSS (the child's `ru_maxrss`) per process; prints the
medians and ends with

    race semc_s=… duckdb_s=… polars_s=… semc_rss_mib=… duckdb_rss_mib=… polars_rss_mib=… semc_first_s=… rerun_s=…

semc computes every round (`--force`: an output whose inputs did not move is otherwise skipped)
under `--memory-limit` at a quarter of the machine's memory (`--memory-limit` here to change
it). Under a limit, semc computes outputs together as far as the peaks its earlier runs
measured allow (kept in its cache, here `target/bench-data/race-sf<N>/semc-cache`, emptied
when the race starts): its first round, with nothing measured yet, computes each output alone,
and is also printed as `semc_first_s`. `rerun_s` is the median of `semc run` with nothing
changed since the last round: each output found up to date, nothing computed or written.

`--per-query` adds each query's median per engine: the peers' from its query to its result
written (their setup apart), semc's as `semc run` reports each output (computed, verified,
committed; outputs computed together share the cores, so their times overlap) — without
the subplans several outputs or one output twice read, computed once before any output runs
(TPC-H Q15's revenue), which its wall time includes.

`--memory-per-output` adds, once after the rounds, each semc output's peak RSS computed alone
(`semc run --force --output qNN` under the same limit), and the peak of the engine's memory
pool it kept in semc's cache: which outputs set semc's peak memory, and how far RSS exceeds
what the pool counts (the weights by which outputs are admitted together).

The data is `semc demo DIR --sf N` (made once under target/bench-data/race-sf<N>/).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import re
import sys
import time
from pathlib import Path

from measure import measured

ROOT = Path(__file__).resolve().parents[1]
TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]
QUERIES = ROOT / "tests" / "data" / "tpch-queries"


def semc_query_seconds(stdout: str) -> dict[str, float]:
    """Each output's time as `semc run` reports it (`q01: 4 rows, … (469 ms)`): computed,
    verified and committed."""
    found = re.findall(r"^(q\d\d): .*\((\d+) ms\)$", stdout, re.M)
    return {q: int(ms) / 1000 for q, ms in found}


# -- the peers, each run as `race.py --peer NAME --data D --out O` in a process of its own --


def duckdb_results(data: Path):
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    ext = next((site / "duckdb_ext").rglob("delta.duckdb_extension"), None)
    con.execute(f"LOAD '{ext}'" if ext else "LOAD delta")
    for t in TABLES:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM delta_scan('{data / t}')")
    return [(q, lambda sql=sql: con.execute(sql).fetch_arrow_table()) for q, sql in queries()]


def polars_results(data: Path):
    import polars as pl

    ctx = pl.SQLContext({t: pl.scan_delta(str(data / t)) for t in TABLES})
    return [(q, lambda sql=sql: ctx.execute(sql, eager=True).to_arrow()) for q, sql in queries()]


def queries() -> list[tuple[str, str]]:
    """The 22 queries' official text."""
    return [(f"q{i:02d}", (QUERIES / f"q{i:02d}.sql").read_text()) for i in range(1, 23)]


def peer(name: str, data: Path, out: Path) -> None:
    from deltalake import write_deltalake

    results = {"duckdb": duckdb_results, "polars": polars_results}[name](data)
    seconds = {}
    for q, result in results:
        # each query's time: computed, fetched as Arrow and written (the engine's setup apart)
        start = time.perf_counter()
        write_deltalake(str(out / q), result(), mode="overwrite")
        seconds[q] = time.perf_counter() - start
    print(json.dumps(seconds))


# -- the race ------------------------------------------------------------------------------


def quarter_of_memory() -> str:
    """A quarter of this machine's memory, as semc's `--memory-limit` reads it (`5.8G`)."""
    with open("/proc/meminfo") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    return f"{kib * 1024 / 4 / 1e9:.1f}G"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sf", default="1")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--semc", default=str(ROOT / "target" / "release" / "semc"))
    ap.add_argument("--memory-limit", default=quarter_of_memory(), help="semc's --memory-limit")
    ap.add_argument(
        "--per-query",
        action="store_true",
        help="also print each query's median time per engine (semc's as `semc run` reports it)",
    )
    ap.add_argument(
        "--memory-per-output",
        action="store_true",
        help="also print each semc output's peak RSS, each computed alone",
    )
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        peer(args.peer, Path(args.data), Path(args.out))
        return

    ws = ROOT / "target" / "bench-data" / f"race-sf{args.sf}"
    if not (ws / "tpch" / "lineitem").exists():
        shutil.rmtree(ws, ignore_errors=True)
        subprocess.run([args.semc, "demo", str(ws), "--sf", args.sf], check=True, capture_output=True)
    data = ws / "tpch"
    # semc's cache (the proofs of its checks, the outputs' memory peaks) starts empty
    cache = ws / "semc-cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = dict(os.environ, POLARS_MAX_THREADS="2", SEMC_CACHE_DIR=str(cache))
    engines = {
        "semc": [args.semc, "run", str(ws), "--force", "--memory-limit", args.memory_limit],
        "duckdb": [sys.executable, __file__, "--peer", "duckdb", "--data", str(data), "--out", str(ws / "out-duckdb")],
        "polars": [sys.executable, __file__, "--peer", "polars", "--data", str(data), "--out", str(ws / "out-polars")],
    }
    # semc is given 2 threads too: it runs on a 2-core machine, as the peers are told to
    times: dict[str, list[float]] = {k: [] for k in engines}
    rss: dict[str, list[float]] = {k: [] for k in engines}
    per_query: dict[str, dict[str, list[float]]] = {k: {} for k in engines}
    for r in range(args.rounds):
        for name, cmd in engines.items():
            wall, peak, out = measured(cmd, env)
            times[name].append(wall)
            rss[name].append(peak)
            seconds = semc_query_seconds(out) if name == "semc" else json.loads(out.strip().splitlines()[-1])
            for q, sec in seconds.items():
                per_query[name].setdefault(q, []).append(sec)
        print(
            f"round {r + 1}: " + "  ".join(f"{k}={times[k][-1]:.2f}s/{rss[k][-1]:.0f}MiB" for k in engines),
            flush=True,
        )
    # nothing changed since semc's last round: every output is up to date
    rerun = statistics.median(measured([args.semc, "run", str(ws)], env)[0] for _ in range(5))
    med = {k: statistics.median(v) for k, v in times.items()}
    mem = {k: statistics.median(v) for k, v in rss.items()}
    if args.per_query:
        print("query   semc_s  duckdb_s  polars_s  semc/duckdb  semc/polars")
        for q in sorted(per_query["semc"]):
            m = {k: statistics.median(per_query[k][q]) for k in engines}
            print(
                f"{q}   {m['semc']:6.3f}  {m['duckdb']:8.3f}  {m['polars']:8.3f}  "
                f"{m['semc'] / m['duckdb']:11.2f}  {m['semc'] / m['polars']:11.2f}"
            )
    if args.memory_per_output:
        alone = {q: measured(engines["semc"] + ["--output", q], env)[1] for q in sorted(per_query["semc"])}
        # each output's peak of the engine's memory pool, as its run alone kept it in the
        # cache (what `run/admission.rs` weighs outputs by)
        peaks = json.loads((cache / "memory.json").read_text()) if (cache / "memory.json").exists() else {}
        pool = {Path(loc.removeprefix("file://")).name: b / 2**20 for loc, b in peaks.items()}
        print("output  semc_rss_mib (alone)  pool_peak_mib")
        for q, peak in alone.items():
            print(f"{q}     {peak:8.0f}  {pool.get(q, float('nan')):13.0f}")
    for k in engines:
        print(f"{k:7} median {med[k]:.3f} s  peak RSS {mem[k]:.0f} MiB  ({med[k] / med['semc']:.2f}x semc)")
    print(
        f"race sf={args.sf} semc_s={med['semc']:.3f} duckdb_s={med['duckdb']:.3f} polars_s={med['polars']:.3f} "
        f"semc_rss_mib={mem['semc']:.0f} duckdb_rss_mib={mem['duckdb']:.0f} polars_rss_mib={mem['polars']:.0f} "
        f"semc_over_duckdb={med['semc'] / med['duckdb']:.3f} semc_over_polars={med['semc'] / med['polars']:.3f} "
        f"semc_first_s={times['semc'][0]:.3f} rerun_s={rerun:.3f} memory_limit={args.memory_limit}"
    )


if __name__ == "__main__":
    main()
