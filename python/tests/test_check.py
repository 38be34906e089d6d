"""semc.check and semc.compile: diagnostics as data, errors as exceptions that carry them."""

from __future__ import annotations

from pathlib import Path

import pytest

import semc


def test_the_demo_is_sound(demo: Path) -> None:
    assert semc.check(demo) == []
    c = semc.compile(demo)
    assert len(c.outputs) == 22 and "q01" in c.models


def test_a_syntax_error_is_a_diagnostic_with_its_place() -> None:
    text = 'source x from delta("t") {\n  a int\n}\n'
    (d,) = semc.check(semc.Workspace(text, name="bad.sem"), offline=True)
    assert (d.code, d.severity, d.file, d.line, d.column) == ("E0001", "error", "bad.sem", 2, 3)
    assert d.help and d.labels[0].line == 2


def test_offline_checks_declarations_without_tables(tmp_path: Path) -> None:
    text = 'source x from delta("missing") {\n  a: int64\n}\nmodel m from x {\n  select { a }\n}\n'
    ws = semc.Workspace(text, root=tmp_path)
    assert semc.check(ws, offline=True) == []
    codes = [d.code for d in semc.check(ws)]
    assert codes == ["E0301"], codes


def test_compile_raises_with_the_diagnostics(tmp_path: Path) -> None:
    text = "source x from delta(\"t\") {\n  a: int64\n}\nmodel m from x {\n  select { b }\n}\n"
    with pytest.raises(semc.SemcError) as e:
        semc.compile(semc.Workspace(text, root=tmp_path))
    assert "E0301" in e.value.codes
    with pytest.raises(semc.SemcError) as e:
        semc.compile(tmp_path / "nowhere")
    d = e.value.diagnostics[0]
    assert d.code.startswith("E0") and d.help


def test_a_user_error_of_a_call_names_its_code(demo: Path) -> None:
    c = semc.compile(demo)
    with pytest.raises(semc.SemcError) as e:
        c.show("q0l")
    (d,) = e.value.diagnostics
    assert d.code == "E0103" and "q01" in (d.help or "")
    with pytest.raises(semc.SemcError) as e:
        c.run(["nope"])
    (d,) = e.value.diagnostics
    # about the call as a whole: placed in no file (not in the standard library's)
    assert (d.code, d.file, d.line) == ("E0403", "", 0)
    with pytest.raises(ValueError):
        c.run(memory_limit="lots")


def test_hostile_inputs_are_errors_never_crashes(demo: Path) -> None:
    assert semc.check(semc.Workspace("model \x00 m"))[0].code == "E0006"
    deep = semc.check(semc.Workspace("model m from x { where " + "(" * 20000 + " }"), offline=True)
    assert deep and all(d.code.startswith("E0") for d in deep)
    assert semc.check("")[0].code == "E0004"
    c = semc.compile(demo)
    with pytest.raises(semc.SemcError) as e:
        semc.execute(c.spec(["q06"]), b"\x00\xffnot a plan")
    assert e.value.codes == ["E0404"]
    with pytest.raises(semc.SemcError) as e:
        semc.execute(c.spec(["q01", "q06"]), c.plan(["q06"]))
    assert e.value.codes == ["E0404"] and "not planned together" in str(e.value)
    with pytest.raises(semc.SemcError) as e:
        semc.execute("{", c.plan(["q06"]))
    assert e.value.codes == ["E0404"]
    with pytest.raises(ValueError, match="__arrow_c_stream__"):
        semc.shadow(c, {"q06": 5})
    with pytest.raises(semc.SemcError) as e:
        semc.shadow(c, {"q06": str(demo / "no-such-table")})
    assert e.value.codes == ["E0301"]
    with pytest.raises(semc.SemcError):
        semc.compile(demo, profile="nope")
    assert c.show("q01", 0).num_rows == 0
