"""The execution spec: what a run needs besides its Substrait plan, as typed Python objects.

It is the bundle's ``spec.json`` (``semc plan --bundle``), field for field: get one from
``Compilation.spec()``, or read one with ``ExecutionSpec.from_json``, change it in code (the
outputs to write and where, their write modes, the version or time each source is read at) and run
it with ``semc.execute(spec, plan)``. The JSON is plain data (msgspec, pydantic or
``json`` read it alike); semc reads it strictly and names any unknown field or wrong type.
Its JSON Schema, generated from semc's own types, is ``semc.spec_schema()``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Union

FORMAT = 2
"""The layout version of the spec this package writes; semc refuses any other."""

WriteMode = Literal["append", "overwrite"]


@dataclass
class Place:
    """Where something is declared in the ``.sem`` files (for diagnostics)."""

    file: str = ""
    line: int = 0
    column: int = 0


@dataclass
class CheckSpec:
    """A ``check (…)``: its text, and the expression as a Substrait ExtendedExpression."""

    subject: str
    text: str
    expr: dict[str, Any]
    at: Place = field(default_factory=Place)


@dataclass
class ForeignKeySpec:
    source: str
    columns: list[str]


@dataclass
class KeySpec:
    """Columns a join relies on being unique in a source's snapshot (verified before commit)."""

    source: str
    columns: list[str]
    from_: ForeignKeySpec | None = field(default=None, metadata={"json": "from", "omit": "none"})
    at: Place = field(default_factory=Place)


@dataclass
class NotNullConstraint:
    column: str
    at: Place = field(default_factory=Place)
    kind: Literal["not_null"] = "not_null"


@dataclass
class UniqueConstraint:
    columns: list[str]
    at: Place = field(default_factory=Place)
    kind: Literal["unique"] = "unique"


@dataclass
class CheckConstraint:
    check: CheckSpec
    kind: Literal["check"] = "check"


Constraint = Union[NotNullConstraint, UniqueConstraint, CheckConstraint]
_CONSTRAINTS = {"not_null": NotNullConstraint, "unique": UniqueConstraint, "check": CheckConstraint}


@dataclass
class SourceSpec:
    """A source's Delta table and the version it is read at."""

    name: str
    uri: str
    table_id: str
    version: int
    timestamp: str | None = field(default=None, metadata={"omit": "none"})
    """Read the table as it was at this time (RFC 3339), not at `version`."""
    constraints: list[Constraint] = field(default_factory=list, metadata={"omit": "empty"})


@dataclass
class OutputSpec:
    """One output: which plan root it is, where and how it is written, what is verified."""

    name: str
    root: int
    uri: str
    mode: WriteMode
    partition_by: list[str] = field(default_factory=list)
    not_null: list[str] = field(default_factory=list)
    unique: list[str] = field(default_factory=list)
    checks: list[CheckSpec] = field(default_factory=list, metadata={"omit": "empty"})
    keys: list[KeySpec] = field(default_factory=list, metadata={"omit": "empty"})
    reads: list[str] = field(default_factory=list)
    incremental: bool = False
    at: Place = field(default_factory=Place)
    contract_at: dict[str, Place] = field(default_factory=dict, metadata={"omit": "empty"})


@dataclass
class PolicySpec:
    strict: bool = False
    max_reader_version: int | None = None
    max_writer_version: int | None = None


@dataclass
class ExecutionSpec:
    """Everything a run of one Substrait plan verifies and commits."""

    semc_version: str
    outputs: list[OutputSpec]
    sources: list[SourceSpec]
    policy: PolicySpec = field(default_factory=PolicySpec)
    plan: str = "plan.substrait.pb"
    format: int = FORMAT
    relative: dict[str, str] = field(default_factory=dict, metadata={"omit": "empty"})

    # -- building in code -------------------------------------------------------------

    def output(self, name: str) -> OutputSpec:
        for o in self.outputs:
            if o.name == name:
                return o
        raise KeyError(f"no output `{name}` (outputs: {', '.join(o.name for o in self.outputs)})")

    def source(self, name: str) -> SourceSpec:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(f"no source `{name}` (sources: {', '.join(s.name for s in self.sources)})")

    def only(self, *names: str) -> ExecutionSpec:
        """This spec with only the outputs named (each keeps its plan root)."""
        for n in names:
            self.output(n)
        return dataclasses.replace(self, outputs=[o for o in self.outputs if o.name in names])

    # -- JSON -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return _encode(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ExecutionSpec:
        return _decode(ExecutionSpec, data, "")

    @staticmethod
    def from_json(text: str | bytes) -> ExecutionSpec:
        return ExecutionSpec.from_dict(json.loads(text))


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            omit = f.metadata.get("omit")
            if (omit == "empty" and not v) or (omit == "none" and v is None):
                continue
            out[f.metadata.get("json", f.name)] = _encode(v)
        return out
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(tp: Any, data: Any, path: str) -> Any:
    """Reads `data` as type `tp`, refusing unknown fields and wrong types with the path named."""
    where = path or "the spec"
    origin = typing.get_origin(tp)
    if tp is Any:
        return data
    if origin is Literal:
        if data not in typing.get_args(tp):
            raise ValueError(f"{where}: {data!r} is not one of {list(typing.get_args(tp))}")
        return data
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        if tp == Constraint or set(args) == set(_CONSTRAINTS.values()):
            if not isinstance(data, dict) or data.get("kind") not in _CONSTRAINTS:
                raise ValueError(f"{where}: a constraint needs a `kind` of {list(_CONSTRAINTS)}")
            return _decode(_CONSTRAINTS[data["kind"]], data, path)
        (inner,) = [a for a in args if a is not type(None)]
        return _decode(inner, data, path)
    if origin is list:
        if not isinstance(data, list):
            raise ValueError(f"{where}: expected a list, got {type(data).__name__}")
        (item,) = typing.get_args(tp)
        return [_decode(item, v, f"{path}[{i}]") for i, v in enumerate(data)]
    if origin is dict:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
        _, item = typing.get_args(tp)
        return {k: _decode(item, v, f"{path}.{k}" if path else k) for k, v in data.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
        hints = typing.get_type_hints(tp)
        by_json = {f.metadata.get("json", f.name): f for f in dataclasses.fields(tp)}
        unknown = [k for k in data if k not in by_json]
        if unknown:
            raise ValueError(f"{where}: unknown field `{unknown[0]}` (fields: {', '.join(by_json)})")
        kwargs = {}
        for key, f in by_json.items():
            if key in data:
                kwargs[f.name] = _decode(hints[f.name], data[key], f"{path}.{key}" if path else key)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{where}: missing field `{key}`")
        return tp(**kwargs)
    if tp is bool:
        if not isinstance(data, bool):
            raise ValueError(f"{where}: expected true or false, got {data!r}")
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise ValueError(f"{where}: expected an integer, got {data!r}")
        return data
    if tp is str:
        if not isinstance(data, str):
            raise ValueError(f"{where}: expected a string, got {data!r}")
        return data
    raise TypeError(f"{where}: cannot read a {tp!r}")
