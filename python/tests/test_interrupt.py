"""Ctrl-C during a run: the call stops promptly, and every output is at a committed version."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import semc
from conftest import delta_versions

# The child takes Ctrl-C as an interactive Python does, whatever it inherits: a CI job
# started in the background runs with SIGINT ignored, and so would the child.
RUNNER = textwrap.dedent(
    """
    import signal, sys, semc
    signal.signal(signal.SIGINT, signal.default_int_handler)
    c = semc.compile(sys.argv[1])
    print("compiled", flush=True)
    try:
        c.run(run_id="interrupted-run")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
    print("finished", flush=True)
    """
)


# Outputs declared after the 22 queries', so the run is still going when the signal comes:
# the 22 demo outputs after q01 take about as long as one of the 50 ms between the run's
# checks for a signal.
MORE_OUTPUTS = 200


def test_sigint_stops_the_run_and_leaves_committed_versions(demo: Path) -> None:
    outputs = demo / "out"
    (demo / "zz_more_outputs.sem").write_text(
        "".join(
            f'model zz_more_{i:03} from region {{ }}\noutput zz_more_{i:03} to delta("out/zz_more_{i:03}") mode overwrite\n'
            for i in range(MORE_OUTPUTS)
        )
    )
    child = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(demo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "compiled"
    # interrupt once the first output has committed: the run is between its commits
    deadline = time.monotonic() + 120
    while not delta_versions(outputs / "q01") and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 3, (out, err)
    assert "interrupted" in out
    assert time.monotonic() - sent < 10, "the run did not stop promptly"
    names = semc.compile(demo).outputs
    versions = {n: delta_versions(outputs / n) for n in names}
    # each output is either untouched or holds one whole commit of this run
    assert all(v in ([], [0]) for v in versions.values()), versions
    done = [n for n, v in versions.items() if v == [0]]
    assert "q01" in done and len(done) < len(names), versions
    for name in done:
        assert "interrupted-run" in (outputs / name / "_delta_log" / "00000000000000000000.json").read_text()
    # the same run id goes on where it stopped: committed outputs are skipped, the rest written
    reports = semc.compile(demo).run(run_id="interrupted-run")
    assert sorted(r.output for r in reports if r.skipped) == sorted(done)
    assert all(delta_versions(outputs / n) == [0] for n in names)
