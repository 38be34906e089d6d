"""A text report of shapes."""
import json

from .geometry import Circle, total_area


def describe(shape):
    kind = type(shape).__name__
    return f"{kind}: {shape.area():.2f}"


def report(shapes, as_json=False):
    lines = [describe(s) for s in shapes]
    total = total_area(shapes)
    if as_json:
        return json.dumps({"lines": lines, "total": total})

    def footer():
        return f"total: {total:.2f}"

    return "\n".join(lines + [footer()])


def unit_circle():
    return Circle(1.0)
