"""Host functions from Python: an `extern fn` a workspace declares, computed by a Python
callable registered with `semc.register_function`."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import semc

PROGRAM = """
source region from delta("tpch/region") {
  r_regionkey: int64 key
  r_name: string
}
## The name, shouted.
extern fn shout(s: string) -> string
extern fn weight(k: int64, w: float64) -> float64
model loud from region { select { r_regionkey, r_name, loud = shout(r_name), w = weight(r_regionkey, 1.5) } }
output loud to delta("out/loud") mode overwrite
"""


def workspace(demo: Path, program: str) -> semc.Workspace:
    return semc.Workspace(program, root=demo)


def test_a_registered_python_function_computes_its_rows(demo: Path) -> None:
    semc.register_function("shout", lambda s: pc.utf8_upper(s), returns="string")
    semc.register_function("weight", lambda k, w: pc.multiply(pc.cast(k, pa.float64()), w), returns="float64")
    c = semc.compile(workspace(demo, PROGRAM))
    rows = c.show("loud").to_pylist()
    assert len(rows) == 5
    for r in rows:
        assert r["loud"] == r["r_name"].upper()
        assert r["w"] == r["r_regionkey"] * 1.5
    [report] = c.run()
    assert report.rows == 5


def test_an_unregistered_or_mistyped_host_function_stops_the_run_before_it_starts(demo: Path) -> None:
    program = PROGRAM.replace("shout", "whisper_nobody_registered")
    c = semc.compile(workspace(demo, program))
    with pytest.raises(semc.SemcError) as e:
        c.run()
    assert [d.code for d in e.value.diagnostics] == ["E0415"]
    assert not (demo / "out" / "loud" / "_delta_log").exists()
    semc.register_function("shout_typed", lambda s: pc.utf8_length(s), returns="int32")
    c = semc.compile(workspace(demo, PROGRAM.replace("shout", "shout_typed")))
    with pytest.raises(semc.SemcError) as e:
        c.run()
    assert e.value.diagnostics[0].code == "E0415"
    assert "int32" in e.value.diagnostics[0].message


def test_a_python_function_that_raises_fails_the_run_with_a_code(demo: Path) -> None:
    def broken(s: pa.Array) -> pa.Array:
        raise RuntimeError("no shouting today")

    semc.register_function("shout_broken", broken, returns="string")
    c = semc.compile(workspace(demo, PROGRAM.replace("shout", "shout_broken")))
    with pytest.raises(semc.SemcError) as e:
        c.run()
    assert e.value.diagnostics[0].code == "E0415"
    assert "no shouting today" in e.value.diagnostics[0].message
    assert not (demo / "out" / "loud" / "_delta_log").exists()
