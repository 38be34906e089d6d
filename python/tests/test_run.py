"""Running through Python is running `semc run`: same rows, same commits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa

import semc
from conftest import delta_versions, semc_cli


def test_the_22_outputs_equal_the_cli(demo: Path, tmp_path: Path) -> None:
    by_cli = tmp_path / "by-cli"
    shutil.copytree(demo, by_cli)
    done = semc_cli("run", str(by_cli), "--format", "json")
    assert done.returncode == 0, done.stderr
    cli_rows = {
        r["output"]: r["rows"]
        for r in map(json.loads, done.stdout.splitlines())
        if r.get("kind") == "output"
    }
    reports = semc.compile(demo).run()
    assert {r.output: r.rows for r in reports} == cli_rows
    assert len(cli_rows) == 22
    assert all(delta_versions(demo / "out" / name) == [0] for name in cli_rows)
    # the rows Python committed equal those the CLI committed, output by output
    parity = semc.shadow(demo, lambda name: str(by_cli / "out" / name))
    assert [p.output for p in parity.values() if not p.equal] == []
    assert sum(p.rows for p in parity.values()) == sum(cli_rows.values())


def test_a_run_id_already_recorded_is_not_written_again(demo: Path) -> None:
    c = semc.compile(demo)
    first = c.run(["q01", "q06"], run_id="nightly-1")
    assert [(r.output, r.skipped, r.version) for r in first] == [("q01", False, 0), ("q06", False, 0)]
    again = c.run(["q01", "q06"], run_id="nightly-1")
    assert [r.skipped for r in again] == [True, True]
    assert delta_versions(demo / "out" / "q01") == [0]
    assert delta_versions(demo / "out" / "q02") == []


def test_locked_runs_read_the_versions_of_sem_lock(demo: Path) -> None:
    c = semc.compile(demo)
    c.run(["q06"], memory_limit="256M")
    assert (demo / "sem.lock").exists()
    # the same plan over the same snapshots: up to date, nothing written; `force` recomputes
    (r,) = semc.compile(demo, locked=True).run(["q06"])
    assert (r.skipped, r.version) == (True, 0) and r.up_to_date
    (r,) = semc.compile(demo, locked=True).run(["q06"], force=True)
    assert (r.skipped, r.version) == (False, 1)
    (r,) = c.run(["q06"], locked=True, force=True)
    assert r.version == 2


def test_show_hands_over_arrow_buffers_without_a_copy(demo: Path) -> None:
    c = semc.compile(demo)
    before = pa.total_allocated_bytes()
    table = c.show("q01", limit=3)
    # every buffer is semc's (imported through the Arrow C stream): pyarrow allocated none
    assert pa.total_allocated_bytes() == before
    assert table.num_rows == 3
    assert table.column_names[:2] == ["l_returnflag", "l_linestatus"]
    assert c.show("q06").num_rows == 1


def test_plan_and_explain(demo: Path) -> None:
    c = semc.compile(demo)
    plan = c.plan(["q06"])
    assert isinstance(plan, bytes) and len(plan) > 100
    assert plan == c.plan(["q06"])  # deterministic
    assert "lineitem" in c.explain("q06")
