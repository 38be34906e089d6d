"""The execution spec from Python: typed, built in code, the same JSON, read strictly by semc."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import semc
from semc.spec import ExecutionSpec, OutputSpec, PolicySpec, SourceSpec
from conftest import delta_versions, semc_cli

SHIPPED_SCHEMA = Path(semc.__file__).parent / "spec.schema.json"


def test_the_spec_round_trips_to_the_same_json(demo: Path) -> None:
    c = semc.compile(demo)
    native = json.loads(c._native.spec(None))
    spec = c.spec()
    assert spec.to_dict() == native
    assert ExecutionSpec.from_json(spec.to_json()) == spec
    # the bundle's spec.json is the same document
    done = semc_cli("plan", str(demo), "--bundle", str(demo / "bundle"))
    assert done.returncode == 0, done.stderr
    assert json.loads((demo / "bundle" / "spec.json").read_text()) == native


def test_the_schema_is_generated_from_semc_and_shipped(demo: Path) -> None:
    schema = semc.spec_schema()
    assert json.loads(SHIPPED_SCHEMA.read_text()) == schema
    assert json.loads(semc_cli("spec-schema").stdout) == schema
    jsonschema.validate(semc.compile(demo).spec().to_dict(), schema)
    bad = semc.compile(demo).spec().to_dict()
    bad["outputs"][0]["extra"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_a_spec_built_in_code_runs(demo: Path, tmp_path: Path) -> None:
    c = semc.compile(demo)
    lineitem = c.spec(["q06"]).source("lineitem")
    moved = tmp_path / "elsewhere" / "revenue"
    spec = ExecutionSpec(
        semc_version=semc.__version__,
        outputs=[
            OutputSpec(
                name="q06",
                root=0,
                uri=moved.as_uri() + "/",
                mode="append",
                not_null=[],
                reads=["lineitem"],
            )
        ],
        sources=[SourceSpec(name="lineitem", uri=lineitem.uri, table_id=lineitem.table_id, version=lineitem.version)],
        policy=PolicySpec(strict=True),
    )
    plan = c.plan(["q06"])
    (r,) = semc.execute(spec, plan)
    assert (r.output, r.rows, r.version) == ("q06", 1, 0)
    (r,) = semc.execute(spec, plan)  # the same plan over the same snapshots: up to date
    assert (r.skipped, r.version) == (True, 0) and r.up_to_date
    (r,) = semc.execute(spec, plan, force=True)  # append: a second commit, two rows
    assert r.version == 1
    assert semc.shadow(c, {"q06": str(moved)})["q06"].reference_rows == 2
    assert delta_versions(demo / "out" / "q06") == []  # nothing written where the .sem says


def test_an_edited_spec_runs_only_what_it_keeps(demo: Path, tmp_path: Path) -> None:
    c = semc.compile(demo)
    spec = c.spec(["q01", "q03", "q06"]).only("q03")
    spec.output("q03").uri = (tmp_path / "q03").as_uri() + "/"
    (r,) = semc.execute(spec, c.plan(["q01", "q03", "q06"]))
    assert r.output == "q03" and r.rows == 10
    assert delta_versions(tmp_path / "q03") == [0]
    assert delta_versions(demo / "out" / "q01") == []


def test_bad_specs_are_refused_with_the_field_named(demo: Path) -> None:
    c = semc.compile(demo)
    plan = c.plan(["q06"])
    good = c.spec(["q06"]).to_dict()

    def refused(spec: dict) -> str:
        with pytest.raises(semc.SemcError) as e:
            semc.execute(json.dumps(spec), plan)
        (d,) = e.value.diagnostics
        assert d.code == "E0404" and d.help
        return d.message

    unknown = json.loads(json.dumps(good))
    unknown["outputs"][0]["bogus"] = True
    assert "outputs[0]" in refused(unknown) and "bogus" in refused(unknown)
    wrong = json.loads(json.dumps(good))
    wrong["sources"][0]["version"] = "3"
    assert "sources[0].version" in refused(wrong)
    mode = json.loads(json.dumps(good))
    mode["outputs"][0]["mode"] = "upsert"
    assert "outputs[0].mode" in refused(mode)
    other = json.loads(json.dumps(good))
    other["format"] = 1
    assert "format 1" in refused(other)
    # Python reads a spec as strictly, naming the same field
    with pytest.raises(ValueError, match=r"sources\[0\]\.version"):
        ExecutionSpec.from_dict(wrong)
    with pytest.raises(ValueError, match="bogus"):
        ExecutionSpec.from_dict(unknown)
    assert delta_versions(demo / "out" / "q06") == []


def test_a_source_pinned_to_a_version_it_lacks_is_refused(demo: Path) -> None:
    c = semc.compile(demo)
    spec = c.spec(["q06"])
    spec.source("lineitem").version = 7
    with pytest.raises(semc.SemcError) as e:
        semc.execute(spec, c.plan(["q06"]))
    (d,) = e.value.diagnostics
    assert d.code == "E0404" and "lineitem" in d.message and "version 7" in d.message
    assert delta_versions(demo / "out" / "q06") == []


def test_a_source_pinned_by_time_reads_the_version_of_that_time(demo: Path) -> None:
    c = semc.compile(demo)
    plan = c.plan(["q06"])
    spec = c.spec(["q06"])
    spec.source("lineitem").timestamp = "2999-01-01T00:00:00Z"
    assert spec.to_dict()["sources"][spec.sources.index(spec.source("lineitem"))]["timestamp"]
    (r,) = semc.execute(spec, plan)
    assert (r.output, r.rows) == ("q06", 1)
    spec.source("lineitem").timestamp = "2000-01-01T00:00:00Z"  # before the table existed
    with pytest.raises(semc.SemcError) as e:
        semc.execute(spec, plan)
    (d,) = e.value.diagnostics
    assert d.code == "E0404" and "lineitem" in d.message and "2000-01-01" in d.message
    spec.source("lineitem").timestamp = "yesterday"
    with pytest.raises(semc.SemcError, match="RFC 3339"):
        semc.execute(spec, plan)
