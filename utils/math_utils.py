"""Small numeric helpers."""
from __future__ import annotations

from typing import Optional, Union

Number = Union[int, float]


def make_divisible(value: Number, divisor: int = 8, min_value: Optional[int] = None) -> int:
    """Round ``value`` to a multiple of ``divisor``, never below ``min_value`` nor 10% below ``value``."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def bound(low: Number, high: Number, value: Number) -> Number:
    return max(low, min(high, value))
