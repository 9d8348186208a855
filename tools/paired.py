"""Arms that share seeds, compared seed by seed: the mean per-seed difference, its standard error,
Student's t with `n - 1` degrees of freedom and a 95% interval.

Pairing removes what two arms share at one seed (its prompts, its validation draws, its starting
sample) from the comparison, so a difference is measured against the spread of the differences,
not against the spread of either arm.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import mpmath


@dataclass
class Paired:
    """`treated - control` over the seeds both have; the spread and test are None for one seed."""

    seeds: int
    mean: float
    se: float | None
    t: float | None
    df: int
    low: float | None  # the 95% interval
    high: float | None


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom (through the regularized incomplete beta)."""
    tail = 0.5 * float(mpmath.betainc(df / 2, 0.5, 0, df / (df + t * t), regularized=True))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: int) -> float:
    """The `t` with `P(T <= t) = p`, by bisection (p in (0, 1))."""
    if not 0 < p < 1:
        raise ValueError(f"t_quantile takes p in (0, 1), got {p}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def paired_difference(treated: dict[int, float], control: dict[int, float]) -> Paired:
    """The per-seed differences `treated[s] - control[s]` over the seeds both arms have.

    Raises:
        ValueError: the arms share no seed.
    """
    shared = sorted(set(treated) & set(control))
    if not shared:
        raise ValueError(f"the arms share no seed (seeds {sorted(treated)} against {sorted(control)})")
    differences = [treated[seed] - control[seed] for seed in shared]
    mean, n = statistics.fmean(differences), len(differences)
    if n == 1:
        return Paired(1, mean, None, None, 0, None, None)
    se = statistics.stdev(differences) / math.sqrt(n)
    half = t_quantile(0.975, n - 1) * se
    t = mean / se if se > 0 else math.copysign(math.inf, mean) if mean else 0.0
    return Paired(n, mean, se, t, n - 1, mean - half, mean + half)
