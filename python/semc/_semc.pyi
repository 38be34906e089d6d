"""The native module (Rust). Use the typed API of `semc` instead."""

from typing import Any

__version__: str

class ArrowStream:
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class Compilation:
    def plan(self, outputs: list[str] | None = None) -> bytes: ...
    def spec(self, outputs: list[str] | None = None) -> str: ...
    def explain(self, output: str, analyze: bool = False) -> str: ...
    def show(self, model: str, limit: int) -> ArrowStream: ...
    def parity(self, output: str, reference: Any, limit: int = 10) -> tuple[str, ArrowStream, ArrowStream]: ...
    def run(
        self,
        outputs: list[str] | None = None,
        locked: bool = False,
        run_id: str | None = None,
        memory_limit: int | None = None,
    ) -> str: ...
    def diagnostics(self) -> str: ...
    def names(self) -> str: ...

def check(
    path: str | None = None,
    *,
    text: str | None = None,
    name: str | None = None,
    root: str | None = None,
    profile: str | None = None,
    offline: bool = False,
) -> str: ...
def compile(
    path: str | None = None,
    *,
    text: str | None = None,
    name: str | None = None,
    root: str | None = None,
    profile: str | None = None,
    locked: bool = False,
) -> Compilation: ...
def execute(
    spec: str,
    plan: bytes,
    *,
    root: str | None = None,
    bind: list[tuple[str, str]] | None = None,
    run_id: str | None = None,
    memory_limit: int | None = None,
) -> str: ...
def spec_schema() -> str: ...
def parse_size(size: str) -> int: ...
