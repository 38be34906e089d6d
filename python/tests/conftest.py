"""Fixtures: the TPC-H demo workspace (made once by the `semc` command), copied per test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def semc_bin() -> str:
    """The `semc` command the tests compare with: $SEMC_BIN, else the workspace's debug build."""
    path = os.environ.get("SEMC_BIN") or str(REPO / "target" / "debug" / "semc")
    if not Path(path).exists():
        pytest.fail(f"no semc command at {path}: run `cargo build` (or set SEMC_BIN)")
    return path


def semc_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([semc_bin(), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def demo_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TPC-H at scale factor 0.01 as Delta tables, with the 22 example models."""
    root = tmp_path_factory.mktemp("demo") / "tpch"
    done = semc_cli("demo", str(root), "--sf", "0.01")
    assert done.returncode == 0, done.stderr
    shutil.rmtree(root / "out")
    return root


@pytest.fixture
def demo(demo_tables: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo workspace, no output written yet."""
    ws = tmp_path / "ws"
    shutil.copytree(demo_tables, ws)
    return ws


def delta_versions(table: Path) -> list[int]:
    """The versions a Delta table's log holds (none if it does not exist)."""
    log = table / "_delta_log"
    if not log.exists():
        return []
    return sorted(int(p.name.split(".")[0]) for p in log.glob("*.json"))
