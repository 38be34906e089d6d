"""Shapes and their areas."""
import math
from dataclasses import dataclass


@dataclass
class Circle:
    """A circle by its radius."""

    radius: float

    def area(self):
        return math.pi * self.radius ** 2

    def scaled(self, k):
        return Circle(self.radius * k)


@dataclass
class Square:
    side: float

    def area(self):
        return self.side * self.side


def area_of(shape):
    """The area of any shape that has one."""
    return shape.area()


def total_area(shapes):
    total = 0
    for s in shapes:
        total = total + area_of(s)
    return total
