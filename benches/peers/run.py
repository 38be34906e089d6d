#!/usr/bin/env python3
"""The 22 TPC-H queries on the same Delta tables with DuckDB and Polars (2 threads each).

    pip install -r benches/peers/requirements.txt
    cargo bench --bench tpch -- --sf 1          # writes semc's medians next to the data
    python3 benches/peers/run.py --sf 1

Prints per query the median seconds of each engine and its ratio to semc (from
target/bench-data/sf<SF>/semc_medians.json, written by benches/tpch), then the sums.
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "2")

ROOT = Path(__file__).resolve().parents[2]
TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]


def timed(fn, runs):
    fn()  # warm-up
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def duckdb_engine(data):
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    how = "delta_scan"
    try:
        # duckdb-ext-delta ships the binary under site-packages/duckdb_ext/extensions/
        import sysconfig

        site = Path(sysconfig.get_paths()["purelib"])
        ext = next((site / "duckdb_ext").rglob("delta.duckdb_extension"), None)
        con.execute(f"LOAD '{ext}'" if ext else "LOAD delta")
        for t in TABLES:
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM delta_scan('{data / t}')")
    except Exception as e:  # the extension could not load: read the snapshot's files
        from deltalake import DeltaTable

        how = f"read_parquet over the snapshot's files ({e.__class__.__name__})"
        for t in TABLES:
            files = DeltaTable(str(data / t)).file_uris()
            con.execute(f"CREATE OR REPLACE VIEW {t} AS SELECT * FROM read_parquet({files!r})")
    return how, lambda sql: con.execute(sql).fetchall()


def polars_engine(data):
    import polars as pl

    ctx = pl.SQLContext({t: pl.scan_delta(str(data / t)) for t in TABLES})
    return "scan_delta + SQLContext", lambda sql: ctx.execute(sql, eager=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sf", default="1")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    base = ROOT / "target" / "bench-data" / f"sf{args.sf}"
    data = base / "tpch"
    if not data.exists():
        sys.exit(f"no data at {data}: run `cargo bench --bench tpch -- --sf {args.sf}` first")
    semc = {}
    medians = base / "semc_medians.json"
    if medians.exists():
        semc = json.loads(medians.read_text())
    engines = []
    for name, make in [("duckdb", duckdb_engine), ("polars", polars_engine)]:
        try:
            how, run = make(data)
            engines.append((name, run))
            print(f"{name}: {how}", file=sys.stderr)
        except Exception as e:
            print(f"{name}: unavailable ({e})", file=sys.stderr)
    print(f"{'query':<6} {'semc_s':>8} " + " ".join(f"{n + '_s':>10} {n + '/semc':>12}" for n, _ in engines))
    totals = {n: 0.0 for n, _ in engines}
    semc_total = 0.0
    for i in range(1, 23):
        q = f"q{i:02d}"
        sql = (ROOT / "tests" / "data" / "tpch-queries" / f"{q}.sql").read_text()
        s = semc.get(q)
        semc_total += s or 0.0
        cells = []
        for name, run in engines:
            try:
                m = timed(lambda: run(sql), args.runs)
                totals[name] += m
                cells.append(f"{m:>10.3f} {(m / s if s else float('nan')):>12.3f}")
            except Exception as e:
                cells.append(f"{'n/a':>10} {'':>12}")
                print(f"{name} {q}: {str(e).splitlines()[0][:120]}", file=sys.stderr)
        print(f"{q:<6} {(s or float('nan')):>8.3f} " + " ".join(cells))
    print("total semc_s=%.3f " % semc_total + " ".join(f"{n}_s={t:.3f} {n}_over_semc={t / semc_total if semc_total else float('nan'):.3f}" for n, t in totals.items()))


if __name__ == "__main__":
    main()
