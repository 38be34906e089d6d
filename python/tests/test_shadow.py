"""Shadow mode: an output's rows beside a reference's, as multisets."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

import semc
from conftest import delta_versions


def test_a_reference_equal_up_to_order_is_equal(demo: Path) -> None:
    c = semc.compile(demo)
    rows = c.show("q03", limit=100)
    shuffled = rows.take(pa.array(list(reversed(range(rows.num_rows)))))
    (p,) = semc.shadow(c, {"q03": shuffled}).values()
    assert p.equal and p.rows == p.reference_rows == 10
    assert delta_versions(demo / "out" / "q03") == []  # shadow writes nothing


def test_a_changed_row_is_one_extra_and_one_missing(demo: Path) -> None:
    c = semc.compile(demo)
    rows = c.show("q01", limit=100)
    counts = rows.column("count_order").to_pylist()
    changed = rows.set_column(
        rows.column_names.index("count_order"),
        "count_order",
        pa.array([counts[0] + 1, *counts[1:]], type=pa.int64()),
    )
    p = semc.shadow(c, lambda name: changed, outputs=["q01"])["q01"]
    assert not p.equal
    assert (p.extra_count, p.missing_count) == (1, 1)
    assert p.extra.column("count_order").to_pylist() == [counts[0]]
    assert p.missing.column("count_order").to_pylist() == [counts[0] + 1]
    assert "differs" in str(p)


def test_a_repeated_row_counts(demo: Path) -> None:
    c = semc.compile(demo)
    rows = c.show("q06")
    (p,) = semc.shadow(c, {"q06": pa.concat_tables([rows, rows])}).values()
    assert (p.extra_count, p.missing_count, p.reference_rows) == (0, 1, 2)


def test_columns_that_differ_are_named(demo: Path) -> None:
    c = semc.compile(demo)
    rows = c.show("q06").rename_columns(["income"])
    (p,) = semc.shadow(c, {"q06": rows}).values()
    assert not p.equal and "`revenue`" in (p.columns_differ or "") and "`income`" in (p.columns_differ or "")


def test_a_reference_of_other_types_is_cast(demo: Path) -> None:
    c = semc.compile(demo)
    rows = c.show("q01", limit=100)
    i = rows.column_names.index("count_order")
    narrower = rows.set_column(i, "count_order", pc.cast(rows.column(i), pa.int32()))
    (p,) = semc.shadow(c, {"q01": narrower}).values()
    assert p.equal
