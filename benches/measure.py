"""What the benches share: a process run to its end, measured."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Runs `cmd` to its end: (wall seconds, peak RSS in MiB, its standard output); exits
    with its error output if it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{err.read().decode()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()
