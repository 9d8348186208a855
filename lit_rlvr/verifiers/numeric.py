"""Equality of SymPy values: exact when both are exact, at the shown precision when one is a decimal.

No fixed tolerance is ever applied between exact values: 1000001 is not 1000000 and 1/2004! is not
1/2006!. Irrational constants are compared by evaluating at a precision relative to their size, so
tiny and huge values are as safe as ordinary ones. Expressions with variables are compared at
several fixed points, which is how CAS test suites check identities without `simplify` hanging.
"""

from __future__ import annotations

import sympy

_DIGITS = 60  # working precision of numeric checks
_RELATIVE = sympy.Rational(1, 10**40)  # agreement required between two exact non-rational values
_POINT_RELATIVE = 1e-20  # agreement required between two expressions at a sample point
_MIN_EXACT_DECIMALS = 6  # a decimal stands for an exact irrational gold only when this precise
# Sample points avoid 0, 1, small integers and simple fractions, where distinct functions often meet.
_POINTS = (
    (0.5377, 1.8339, -2.2588),
    (1.3254, -0.7694, 0.3188),
    (-1.3077, 0.4336, 2.7694),
    (2.1503, -0.3426, -1.1201),
)


def _number(value: sympy.Expr) -> complex | None:
    """Evaluates `value` at high precision; None when it is not a finite number."""
    result = sympy.N(value, _DIGITS)
    if not result.is_number or result.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        return None
    real, imaginary = result.as_real_imag()
    return sympy.Float(real, _DIGITS), sympy.Float(imaginary, _DIGITS)


def _close(a: sympy.Expr, b: sympy.Expr, relative: sympy.Expr) -> bool:
    left, right = _number(a), _number(b)
    if left is None or right is None:
        return False
    scale = max(abs(left[0]), abs(left[1]), abs(right[0]), abs(right[1]))
    gap = max(abs(left[0] - right[0]), abs(left[1] - right[1]))
    return bool(gap <= relative * scale) if scale else True


def exact_equal(a: sympy.Expr, b: sympy.Expr) -> bool:
    """True when two exact values (or expressions in the same variables) are equal."""
    if a == b:
        return True
    if a.is_Rational and b.is_Rational:
        return False
    if a.has(sympy.oo, -sympy.oo, sympy.zoo) or b.has(sympy.oo, -sympy.oo, sympy.zoo):
        return False
    if not (a.free_symbols or b.free_symbols):
        difference = sympy.expand(a - b) if max(sympy.count_ops(a), sympy.count_ops(b)) < 40 else a - b
        return difference == 0 or _close(a, b, _RELATIVE)
    return same_function(a, b)


def same_function(a: sympy.Expr, b: sympy.Expr) -> bool:
    """True when `a` and `b` agree at every sample point where both are finite (at least two)."""
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    if len(symbols) > len(_POINTS[0]) * 2:
        return False
    agreed = 0
    for point in _POINTS:
        values = {symbol: sympy.Float(point[i % 3] + 0.1 * (i // 3), 30) for i, symbol in enumerate(symbols)}
        left, right = _number(a.xreplace(values)), _number(b.xreplace(values))
        if left is None or right is None:
            continue
        # sympy Floats, not Python floats: (1.5377)^10000 overflows a double to inf.
        scale = max(sympy.Float(1), *(abs(part) for part in (*left, *right)))
        if max(abs(left[0] - right[0]), abs(left[1] - right[1])) > _POINT_RELATIVE * scale:
            return False
        agreed += 1
    return agreed >= 2


def proportional(a: sympy.Expr, b: sympy.Expr, *, positive: bool) -> bool:
    """True when `a = c * b` for a constant `c` (positive when asked), e.g. two forms of one equation."""
    symbols = a.free_symbols | b.free_symbols
    if not symbols:
        return False
    for point in _POINTS:
        values = {symbol: sympy.Float(point[i % 3], 30) for i, symbol in enumerate(sorted(symbols, key=str))}
        left, right = _number(a.xreplace(values)), _number(b.xreplace(values))
        if left is None or right is None or not (right[0] or right[1]) or left[1] or right[1]:
            continue
        ratio = sympy.nsimplify(left[0] / right[0], rational=True, tolerance=1e-12)
        if ratio == 0 or (positive and ratio < 0):
            return False
        return same_function(a, ratio * b)
    return False


def decimal_equal(
    gold: sympy.Expr, gold_decimals: int | None, pred: sympy.Expr, pred_decimals: int | None
) -> bool:
    """Compares two numbers when at least one was written as a decimal.

    A decimal gold with `d` places is matched by any value that rounds to it at `d` places, unless
    the prediction is itself a shorter decimal (16386.2 is not 16386.17). An exact gold is matched by
    a decimal only when they are equal, or when the decimal has at least six places and is within a
    unit of its last place (0.0833333 for 1/12, 2.1666666667 for 13/6, but not 3.14159 for pi,
    0.7071 for sqrt(2)/2, or 0.1250001 for 1/8, whose decimal ends).
    """
    if gold.free_symbols or pred.free_symbols:
        return False
    if gold_decimals is not None:
        if pred_decimals is not None and pred_decimals < gold_decimals:
            return gold == pred
        return _within(gold, pred, sympy.Rational(1, 2 * 10**gold_decimals))
    if gold == pred:
        return True
    if pred_decimals < _MIN_EXACT_DECIMALS or gold.is_Rational and _terminates(gold):
        return False  # a terminating fraction has one decimal: only that one equals it
    return _within(gold, pred, sympy.Rational(1, 10**pred_decimals))


def _terminates(value: sympy.Rational) -> bool:
    """Whether `value`'s decimal expansion ends (its denominator has no prime factor but 2 and 5)."""
    rest = int(value.q)
    for prime in (2, 5):
        while rest % prime == 0:
            rest //= prime
    return rest == 1


def _within(a: sympy.Expr, b: sympy.Expr, tolerance: sympy.Rational) -> bool:
    if a.is_Rational and b.is_Rational:
        return abs(a - b) <= tolerance
    left, right = _number(a), _number(b)
    if left is None or right is None or left[1] or right[1]:
        return False
    return bool(abs(left[0] - right[0]) <= tolerance)
