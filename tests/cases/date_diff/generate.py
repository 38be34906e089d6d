"""Writes duckdb.csv: date_diff of every unit over generated pairs of dates and
timestamps, as DuckDB 1.4.4 computes them (the reference semc's `date_diff` follows).

    python -m pip install duckdb==1.4.4
    python tests/cases/date_diff/generate.py

The file is kept as data: the tests read it and need no DuckDB.
"""

import csv
import datetime as dt
import pathlib
import random

import duckdb

UNITS = ["year", "quarter", "month", "week", "day", "hour", "minute", "second"]
EPOCH = dt.datetime(1970, 1, 1)


def micros(t: dt.datetime) -> int:
    delta = t - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def pairs():
    rng = random.Random(20261202)
    lo, hi = micros(dt.datetime(1890, 1, 1)), micros(dt.datetime(2110, 1, 1))
    # edges: weeks, months and years around the epoch and across boundaries
    edges = [
        ("2024-03-01", "2024-03-07"), ("2024-03-01", "2024-03-08"), ("2024-03-07", "2024-03-01"),
        ("2024-03-15", "2024-03-01"), ("2024-01-31", "2024-02-01"), ("1969-12-26", "1970-01-01"),
        ("1969-12-25", "1970-01-01"), ("2023-12-31", "2024-01-01"), ("2024-02-29", "2025-02-28"),
        ("1900-03-01", "2100-02-28"), ("2024-03-31", "2024-04-01"), ("1970-01-01", "1970-01-01"),
    ]
    for a, b in edges:
        yield "date", dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)
    for _ in range(300):
        a = EPOCH + dt.timedelta(microseconds=rng.randrange(lo, hi))
        span = rng.choice([60, 3_600, 86_400, 7 * 86_400, 40 * 86_400, 400 * 86_400, 40 * 365 * 86_400])
        b = a + dt.timedelta(microseconds=rng.randrange(-span * 1_000_000, span * 1_000_000))
        if rng.random() < 0.4:
            yield "date", dt.datetime(a.year, a.month, a.day), dt.datetime(b.year, b.month, b.day)
        else:
            yield "timestamp", a, b


def main():
    out = pathlib.Path(__file__).with_name("duckdb.csv")
    con = duckdb.connect()
    with out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["kind", "start_us", "end_us", "unit", "expected"])
        for kind, a, b in pairs():
            lit = (lambda t: f"date '{t.date().isoformat()}'") if kind == "date" else (
                lambda t: f"timestamp '{t.isoformat(sep=' ')}'")
            for unit in UNITS:
                (got,) = con.sql(f"select date_diff('{unit}', {lit(a)}, {lit(b)})").fetchone()
                w.writerow([kind, micros(a), micros(b), unit, got])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
