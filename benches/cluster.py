#!/usr/bin/env python3
"""One process against a local Ballista cluster: the 22 TPC-H outputs, end to end.

    cargo build --release --features cluster
    python3 benches/cluster.py --sf 1 --rounds 3

Starts a scheduler and two executors (`semc cluster scheduler|executor`, one task slot each:
this machine's two cores) and, per round, interleaved: `semc run` in one process, then
`semc run --cluster df://…` (planned and committed by the client, computed by the executors).
Wall time and the client's peak RSS per run (the executors' own memory is not counted).
Ends with

    cluster sf=… local_s=… cluster_s=… cluster_over_local=… local_rss_mib=… client_rss_mib=…

With `--shuffle`, also what each query moves across its exchanges (the hash repartitions of
its plan, which a cluster turns into shuffles), read from `semc explain --analyze`: rows and
in-memory bytes per query, for the note on how the plan scales.

With `--wide`, instead: one wide output, every row of `lineitem` (≈ 6 M rows per unit of
`--sf`: `--sf 2` is ≈ 12 M), written three ways per round — locally, on the cluster with
every row sent to the client to write (`SEMC_CLUSTER_WRITES=client`, as before semc's
executors wrote), and on the cluster with the executors writing the files (semc's default).
After each, the committed table is read back (`semc show` of a digest over it) and must
equal the local run's. Ends with

    wide sf=… rows=… local_s=… client_writes_s=… executor_writes_s=… local_rss_mib=…
    client_writes_rss_mib=… executor_writes_rss_mib=…

The data is `semc demo DIR --sf N` (made once under target/bench-data/race-sf<N>/, shared
with benches/race.py).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from measure import measured

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on {port}")


def start_cluster(semc: str, executors: int) -> tuple[str, list[subprocess.Popen]]:
    port = free_port()
    procs = [subprocess.Popen([semc, "cluster", "scheduler", "--port", str(port)], stderr=subprocess.DEVNULL)]
    wait_for(port)
    address = f"df://127.0.0.1:{port}"
    for _ in range(executors):
        flight, grpc = free_port(), free_port()
        procs.append(
            subprocess.Popen(
                [semc, "cluster", "executor", "--scheduler", address, "--port", str(flight),
                 "--grpc-port", str(grpc), "--slots", "1"],
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for(flight)
    return address, procs


SIZE = re.compile(r"([\d.]+)\s*(B|KB|MB|GB)")
ROWS = re.compile(r"output_rows=([\d.]+)\s*([KMB]?)\b")


def shuffled(semc: str, ws: Path, output: str) -> tuple[float, float]:
    """Rows and bytes leaving the hash repartitions of one output's executed plan."""
    text = subprocess.run(
        [semc, "explain", str(ws), "--output", output, "--analyze"], check=True, capture_output=True, text=True
    ).stdout
    rows = size = 0.0
    for line in text.splitlines():
        if "RepartitionExec: partitioning=Hash" not in line:
            continue
        if m := ROWS.search(line):
            rows += float(m[1]) * {"": 1, "K": 1e3, "M": 1e6, "B": 1e9}[m[2]]
        if m := SIZE.search(line.split("output_bytes=", 1)[-1]):
            size += float(m[1]) * {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30}[m[2]]
    return rows, size


WIDE = """import "schema.sem"

model wide from lineitem {
  select { l_orderkey, l_linenumber, l_partkey, l_suppkey, l_quantity, l_extendedprice, l_discount, l_shipdate, l_shipmode, l_comment }
}

output wide to delta("out/wide") mode overwrite
"""

# the committed table read back: what every way of writing it must agree on
DIGEST = """source written from delta("out/wide") {
  l_orderkey: int64 not null
  l_linenumber: int32 not null
  l_quantity: decimal(15, 2) not null
  l_comment: string
}

model digest from written {
  aggregate {
    rows = count()
    keys = sum(l_orderkey * 10 + l_linenumber)
    quantity = sum(l_quantity)
    comments = sum(length(l_comment))
  }
}
"""


def wide(args: argparse.Namespace, data: Path) -> None:
    ws = ROOT / "target" / "bench-data" / f"wide-sf{args.sf}"
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True)
    shutil.copy(data / "schema.sem", ws / "schema.sem")
    (ws / "tpch").symlink_to(data / "tpch")
    (ws / "wide.sem").write_text(WIDE)
    check = ws.parent / f"wide-sf{args.sf}-digest"
    shutil.rmtree(check, ignore_errors=True)
    check.mkdir()
    (check / "digest.sem").write_text(DIGEST)
    (check / "out").symlink_to(ws / "out")

    def digest() -> str:
        return subprocess.run(
            [args.semc, "show", str(check), "--model", "digest", "--format", "csv"], check=True, capture_output=True, text=True
        ).stdout.strip()

    address, procs = start_cluster(args.semc, args.executors)
    env_client = dict(os.environ, SEMC_CLUSTER_WRITES="client")
    ways = {
        "local": ([args.semc, "run", str(ws), "--force"], None),
        "client_writes": ([args.semc, "run", str(ws), "--force", "--cluster", address], env_client),
        "executor_writes": ([args.semc, "run", str(ws), "--force", "--cluster", address], None),
    }
    times: dict[str, list[float]] = {k: [] for k in ways}
    rss: dict[str, list[float]] = {k: [] for k in ways}
    try:
        for r in range(args.rounds):
            want = None
            for name, (cmd, env) in ways.items():
                wall, peak, _ = measured(cmd, env)
                times[name].append(wall)
                rss[name].append(peak)
                got = digest()
                want = want or got
                if got != want:
                    sys.exit(f"{name} committed other rows than the local run:\n{got}\n{want}")
            print(f"round {r + 1}: " + "  ".join(f"{k}={times[k][-1]:.2f}s/{rss[k][-1]:.0f}MiB" for k in ways), flush=True)
    finally:
        for p in procs:
            p.kill()
    rows = (want or "").splitlines()[-1].split(",")[0]
    med = {k: statistics.median(v) for k, v in times.items()}
    mem = {k: statistics.median(v) for k, v in rss.items()}
    print(want)
    print(
        f"wide sf={args.sf} rows={rows} "
        + " ".join(f"{k}_s={med[k]:.3f}" for k in ways)
        + " "
        + " ".join(f"{k}_rss_mib={mem[k]:.0f}" for k in ways)
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sf", default="1")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--executors", type=int, default=2)
    ap.add_argument("--shuffle", action="store_true")
    ap.add_argument("--wide", action="store_true")
    ap.add_argument("--semc", default=str(ROOT / "target" / "release" / "semc"))
    args = ap.parse_args()

    ws = ROOT / "target" / "bench-data" / f"race-sf{args.sf}"
    if not (ws / "tpch" / "lineitem").exists():
        shutil.rmtree(ws, ignore_errors=True)
        subprocess.run([args.semc, "demo", str(ws), "--sf", args.sf], check=True, capture_output=True)
    if args.wide:
        wide(args, ws)
        return

    address, procs = start_cluster(args.semc, args.executors)
    try:
        runs = {
            "local": [args.semc, "run", str(ws), "--force"],
            "cluster": [args.semc, "run", str(ws), "--force", "--cluster", address],
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        rss: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.rounds):
            for name, cmd in runs.items():
                wall, peak, _ = measured(cmd)
                times[name].append(wall)
                rss[name].append(peak)
            print(f"round {r + 1}: " + "  ".join(f"{k}={times[k][-1]:.2f}s/{rss[k][-1]:.0f}MiB" for k in runs), flush=True)
    finally:
        for p in procs:
            p.kill()
    med = {k: statistics.median(v) for k, v in times.items()}
    mem = {k: statistics.median(v) for k, v in rss.items()}
    if args.shuffle:
        total_rows = total_bytes = 0.0
        for i in range(1, 23):
            rows, size = shuffled(args.semc, ws, f"q{i:02d}")
            total_rows += rows
            total_bytes += size
            print(f"q{i:02d} shuffled rows={rows:,.0f} bytes={size / 2**20:,.1f} MiB")
        print(f"shuffle sf={args.sf} rows={total_rows:,.0f} mib={total_bytes / 2**20:,.1f}")
    print(
        f"cluster sf={args.sf} executors={args.executors} local_s={med['local']:.3f} cluster_s={med['cluster']:.3f} "
        f"cluster_over_local={med['cluster'] / med['local']:.3f} local_rss_mib={mem['local']:.0f} "
        f"client_rss_mib={mem['cluster']:.0f}"
    )


if __name__ == "__main__":
    main()
