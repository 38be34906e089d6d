"""A small package for `semc demo codeanatomy`: shapes, their areas, and a report."""
from .geometry import Circle, Square, area_of
from . import report

__all__ = ["Circle", "Square", "area_of", "report"]
