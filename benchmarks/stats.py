"""Statistics of samples: medians, percentiles, ratios. Pure functions, tested on the host."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def quantile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) of ``values``, interpolating linearly between the two
    nearest ranks (numpy's default, "linear"). Raises ValueError on no values."""
    if not values:
        raise ValueError("no values")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in 0..1, not {fraction!r}")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    weight = position - below
    return ordered[below] * (1.0 - weight) + ordered[above] * weight


def median(values: Sequence[float]) -> float:
    """The median (the 0.5 quantile)."""
    return quantile(values, 0.5)


def percentiles(values: Sequence[float], points: int = 101) -> list[float]:
    """``points`` evenly spaced quantiles from the minimum to the maximum (a compact CDF)."""
    ordered = sorted(values)
    return [quantile(ordered, i / (points - 1)) for i in range(points)]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def finite(values: Iterable[float | None]) -> list[float]:
    """The values that are numbers (errors and gaps left out)."""
    return [v for v in values if v is not None and math.isfinite(v)]
