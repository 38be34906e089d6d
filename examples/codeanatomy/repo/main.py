"""Prints a report of a few shapes."""
import sys

from shapes import Circle, Square
from shapes.report import report, unit_circle


def main(argv):
    shapes = [Circle(2.0), Square(3.0), unit_circle().scaled(2)]
    print(report(shapes, as_json="--json" in argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
