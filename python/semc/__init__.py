"""semc from Python: check, compile, run and shadow ``.sem`` semantic models over Delta tables.

Every call runs semc's own compiler and runner (the ones the ``semc`` command runs), with the
GIL released; Ctrl-C stops a call, and a run stopped before a commit commits nothing. Errors
in your program, data or spec raise :class:`SemcError` carrying the diagnostics (code,
message, file, line, column, help).

>>> import semc
>>> semc.check("demo-data")                 # the workspace `semc demo` writes
[]
>>> c = semc.compile("demo-data")
>>> c.show("q03", limit=5)                  # a pyarrow.Table
>>> c.run()                                # verified, then committed: one report per output
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from . import _semc
from ._errors import Diagnostic, InternalError, Label, SemcError, _diagnostics, _pick
from .spec import ExecutionSpec

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "Compilation",
    "Diagnostic",
    "ExecutionSpec",
    "InternalError",
    "Label",
    "OutputReport",
    "Parity",
    "SemcError",
    "Workspace",
    "check",
    "compile",
    "execute",
    "register_function",
    "shadow",
    "spec_schema",
]

__version__: str = _semc.__version__

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Workspace:
    """``.sem`` text held in memory (a notebook cell, a generated model).

    Relative table locations and imports resolve against ``root``.
    """

    text: str
    name: str = "main.sem"
    root: PathLike = "."


@dataclass(frozen=True)
class OutputReport:
    """What a run did for one output."""

    output: str
    location: str
    rows: int
    files: int
    version: int
    millis: int
    skipped: bool
    """Nothing was written: the table already recorded this run id, or it was up to date."""
    incremental: str | None = None
    up_to_date: str | None = None
    """Why nothing was computed: the same plan over the same snapshots made its last commit."""
    warnings: tuple[Diagnostic, ...] = field(default=())


def _reports(reports_json: str) -> list[OutputReport]:
    return [
        _pick(OutputReport, {**r, "warnings": tuple(Diagnostic._of(w) for w in r.get("warnings", []))})
        for r in json.loads(reports_json)
    ]


def _memory(limit: int | str | None) -> int | None:
    if limit is None or isinstance(limit, int):
        return limit
    return _semc.parse_size(limit)


def check(
    where: PathLike | Workspace,
    *,
    profile: str | None = None,
    offline: bool = False,
) -> list[Diagnostic]:
    """Checks a workspace (a ``.sem`` file, a folder, or a :class:`Workspace`).

    Returns every diagnostic (empty when the workspace is sound); raises only when the
    workspace cannot be read at all. ``offline`` checks the declarations without opening
    any Delta table.
    """
    return _diagnostics(_semc.check(where, profile=profile, offline=offline))


def compile(  # noqa: A001 - the verb of the tool
    where: PathLike | Workspace,
    *,
    profile: str | None = None,
    locked: bool = False,
) -> Compilation:
    """Compiles a workspace against its Delta snapshots (each source at its pin, or with
    ``locked`` at the version ``sem.lock`` records). Raises :class:`SemcError` if it has errors.
    ``profile`` selects a ``[profile.NAME]`` of the workspace's ``semc.toml``."""
    return Compilation(_semc.compile(where, profile=profile, locked=locked))


class Compilation:
    """A checked workspace and the snapshots it was checked against."""

    def __init__(self, native: _semc.Compilation):
        self._native = native
        names = json.loads(native.names())
        self.outputs: list[str] = names["outputs"]
        self.models: list[str] = names["models"]

    def __repr__(self) -> str:
        return f"<semc.Compilation outputs={self.outputs}>"

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """The warnings of the check (a compilation with errors is never made)."""
        return _diagnostics(self._native.diagnostics())

    def plan(self, outputs: Sequence[str] | None = None) -> bytes:
        """The ONE Substrait plan of the outputs (all, or those named): protobuf bytes,
        every read pinned to its snapshot."""
        return self._native.plan(_names(outputs))

    def spec(self, outputs: Sequence[str] | None = None) -> ExecutionSpec:
        """The execution spec of the outputs (all, or those named), for :func:`execute`."""
        return ExecutionSpec.from_json(self._native.spec(_names(outputs)))

    def explain(self, output: str, analyze: bool = False) -> str:
        """The optimized engine plan of one output; with ``analyze`` it runs (nothing is
        written) and shows what each operator and scan did."""
        return self._native.explain(output, analyze)

    def show(self, model: str, limit: int = 20) -> pyarrow.Table:
        """The first ``limit`` rows of any model, computed and not written, as a pyarrow
        Table over semc's own buffers (no copy)."""
        import pyarrow as pa

        return pa.RecordBatchReader.from_stream(self._native.show(model, limit)).read_all()

    def run(
        self,
        outputs: Sequence[str] | None = None,
        *,
        locked: bool = False,
        run_id: str | None = None,
        memory_limit: int | str | None = None,
        force: bool = False,
    ) -> list[OutputReport]:
        """Runs the outputs (all, or those named) as ``semc run`` does: keys, contracts and
        constraints verified before anything commits, then one atomic Delta commit per output.

        ``run_id`` is recorded in each commit (an output that already records it is skipped);
        ``memory_limit`` (bytes, or e.g. ``"256M"``) makes operators spill beyond it; an output
        whose last commit the same plan made over the same snapshots is skipped as up to date
        unless ``force``."""
        return _reports(
            self._native.run(_names(outputs), locked, run_id, _memory(memory_limit), force)
        )


def _names(outputs: Sequence[str] | None) -> list[str] | None:
    if isinstance(outputs, str):
        return [outputs]
    return None if outputs is None else list(outputs)


def execute(
    spec: ExecutionSpec | str,
    plan: bytes,
    *,
    root: str | None = None,
    bind: Mapping[str, str] | None = None,
    run_id: str | None = None,
    memory_limit: int | str | None = None,
    force: bool = False,
) -> list[OutputReport]:
    """Runs a Substrait plan under its execution spec, as ``semc exec`` runs a bundle: the
    same verification, the same commits (``force``: up-to-date outputs too).

    ``spec`` is an :class:`ExecutionSpec` (or its JSON); ``root`` moves the tables the spec
    records relative to its workspace; ``bind`` maps a source or output name to another
    location (a source must be the same Delta table there)."""
    text = spec if isinstance(spec, str) else spec.to_json()
    binds = list((bind or {}).items())
    return _reports(
        _semc.execute(
            text, bytes(plan), root=root, bind=binds, run_id=run_id, memory_limit=_memory(memory_limit), force=force
        )
    )


def spec_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`ExecutionSpec`, generated from semc's own types."""
    return json.loads(_semc.spec_schema())


@dataclass(frozen=True)
class Parity:
    """How an output's rows compare with its reference, as multisets."""

    output: str
    rows: int
    reference_rows: int
    extra_count: int
    """Rows the output has more often than the reference."""
    missing_count: int
    """Rows the reference has more often than the output."""
    extra: pyarrow.Table = field(repr=False)
    """The first of those extra rows."""
    missing: pyarrow.Table = field(repr=False)
    """The first of those missing rows."""
    columns_differ: str | None = None
    """Why the rows could not be compared (their columns differ), if so."""

    @property
    def equal(self) -> bool:
        return self.columns_differ is None and self.extra_count == 0 and self.missing_count == 0

    def __str__(self) -> str:
        if self.columns_differ:
            return f"{self.output}: columns differ: {self.columns_differ}"
        if self.equal:
            return f"{self.output}: equal ({self.rows} rows)"
        return (
            f"{self.output}: differs: {self.extra_count} row(s) not in the reference, "
            f"{self.missing_count} reference row(s) missing ({self.rows} vs {self.reference_rows} rows)"
        )


Reference = Union[Callable[[str], Any], Mapping[str, Any]]


def shadow(
    where: PathLike | Workspace | Compilation,
    reference: Reference,
    *,
    outputs: Sequence[str] | None = None,
    limit: int = 10,
) -> dict[str, Parity]:
    """Shadow mode: computes each output (nothing is written) and compares its rows with the
    old lane's, before a cutover.

    ``reference`` gives, per output name, the rows to match: a callable or a mapping whose
    values are Arrow data (a pyarrow Table, or anything with ``__arrow_c_stream__``) or a
    Delta table's location. Outputs the mapping lacks are not compared. Returns a
    :class:`Parity` per output; ``all(p.equal for p in result.values())`` is the gate."""
    import pyarrow as pa

    c = where if isinstance(where, Compilation) else compile(where)
    names = _names(outputs) or c.outputs
    result = {}
    for name in names:
        if isinstance(reference, Mapping):
            if name not in reference:
                continue
            ref = reference[name]
        else:
            ref = reference(name)
        if isinstance(ref, os.PathLike):
            ref = os.fspath(ref)
        counts, extra, missing = c._native.parity(name, ref, limit)
        rows = {
            "extra": pa.RecordBatchReader.from_stream(extra).read_all(),
            "missing": pa.RecordBatchReader.from_stream(missing).read_all(),
        }
        result[name] = _pick(Parity, {**json.loads(counts), **rows})
    return result


def register_function(name: str, fn: Callable[..., Any], returns: str) -> None:
    """Registers ``fn`` as the host function ``name``: what a workspace declares as
    ``extern fn name(a: T, …) -> R`` calls it, in every run of this process from now on.

    ``fn`` is called with one ``pyarrow.Array`` per argument (a batch of rows at a time) and
    gives one value per row: a ``pyarrow.Array``, or anything ``pyarrow.array`` takes.
    ``returns`` is the ``.sem`` type the declaration gives (``"int64"``, ``"string"``, …): a
    run whose declaration says another type stops before it starts (E0415), and an
    exception ``fn`` raises fails the run (E0415), nothing committed.

    >>> import pyarrow.compute as pc
    >>> semc.register_function("shout", lambda s: pc.utf8_upper(s), returns="string")
    """
    import pyarrow as pa

    def call(stream: Any) -> Any:
        batch = pa.RecordBatchReader.from_stream(stream).read_all()
        out = fn(*(batch.column(i) for i in range(batch.num_columns)))
        if not isinstance(out, (pa.Array, pa.ChunkedArray)):
            out = pa.array(out)
        return pa.table({"result": out})

    _semc.register_function(name, call, returns)
