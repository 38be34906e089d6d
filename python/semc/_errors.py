"""Diagnostics and the exceptions that carry them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Literal


@dataclass(frozen=True)
class Label:
    """A place a diagnostic points at, with what it says there."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    message: str


@dataclass(frozen=True)
class Diagnostic:
    """One finding of semc: a code (``semc codes CODE`` explains it), where, what, and help.

    Lines and columns are 1-based; columns count characters.
    """

    code: str
    severity: Literal["error", "warning"]
    message: str
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    help: str | None = None
    labels: tuple[Label, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: " if self.file else ""
        text = f"{where}{self.severity}[{self.code}]: {self.message}"
        return text + (f"\n  help: {self.help}" if self.help else "")

    @staticmethod
    def _of(record: dict[str, Any]) -> Diagnostic:
        labels = tuple(_pick(Label, lb) for lb in record.get("labels", []))
        return _pick(Diagnostic, {**record, "labels": labels})


def _pick(cls: Any, record: dict[str, Any]) -> Any:
    """An instance of dataclass `cls` from the record's fields of the same names."""
    return cls(**{f.name: record[f.name] for f in fields(cls) if f.name in record})


def _diagnostics(records_json: str) -> list[Diagnostic]:
    return [Diagnostic._of(r) for r in json.loads(records_json)]


class SemcError(Exception):
    """The workspace, its data or a spec is wrong: ``diagnostics`` say where and why.

    Nothing was committed by the call that raised it.
    """

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics) or "semc failed")

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]


class InternalError(Exception):
    """A bug in semc itself (not in your program): please report it."""


def _user_error(records_json: str) -> SemcError:
    return SemcError(_diagnostics(records_json))


def _internal_error(message: str) -> InternalError:
    return InternalError(f"internal error (a bug in semc, not in your program): {message}")
