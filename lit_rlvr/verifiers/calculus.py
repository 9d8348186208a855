"""Finite sums and definite integrals written as an answer, evaluated exactly under the size guards.

`\\sum_{k=1}^{10} k` is 55 and `\\int_0^1 x^2\\,dx` is 1/3. A sum is added term by term (the
caller caps the terms, `MAX_TERMS` in one answer), and each term's size is estimated in floating
point before it is built exactly.

An integral is taken only of a sum of powers of the variable and of `exp`, `sin`, `cos` of a linear
argument, whose antiderivatives are written down directly: SymPy's general integrators can run
for minutes on an innocent-looking integrand such as `sin^7 x cos^5 x`. Anything else returns None.
"""

from __future__ import annotations

import mpmath
import sympy

from lit_rlvr.verifiers.guards import MAX_BITS, MAX_DEGREE, TooLarge

_ANTIDERIVATIVES = {sympy.exp: sympy.exp, sympy.sin: lambda u: -sympy.cos(u), sympy.cos: sympy.sin}


def _exact_at(expression: sympy.Expr, variable: sympy.Symbol, point: sympy.Expr) -> sympy.Expr | None:
    """`expression` at `variable = point`; None where undefined, `TooLarge` where too large to build."""
    estimate = expression.evalf(15, subs={variable: point})
    if not estimate.is_number or estimate.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return None
    size = mpmath.mpf(abs(estimate))
    if size and abs(mpmath.log(size, 2)) > MAX_BITS:
        raise TooLarge("term too large")
    return expression.xreplace({variable: point})


def finite_sum(
    summand: sympy.Expr, variable: sympy.Symbol, low: sympy.Expr, high: sympy.Expr, max_terms: int
) -> sympy.Expr | None:
    """`sum(summand for variable in low..high)` for integer bounds and a summand in `variable` only."""
    if not (low.is_Integer and high.is_Integer) or summand.free_symbols - {variable}:
        return None
    if high - low + 1 > max_terms:
        raise TooLarge("too many terms")
    rational, others = sympy.Integer(0), []
    for index in range(int(low), int(high) + 1):
        term = _exact_at(summand, variable, sympy.Integer(index))
        if term is None:
            return None
        if term.is_Rational:
            rational += term
            if max(abs(rational.p).bit_length(), rational.q.bit_length()) > MAX_BITS:
                raise TooLarge("sum too large")
        else:
            others.append(term)
    return sympy.Add(rational, *others)  # one Add: adding terms one at a time is quadratic


def _degree(expression: sympy.Expr, variable: sympy.Symbol) -> int:
    """An upper bound on the degree in `variable`, found without expanding anything."""
    if not expression.has(variable):
        return 0
    if isinstance(expression, sympy.Add):
        return max(_degree(arg, variable) for arg in expression.args)
    if isinstance(expression, sympy.Mul):
        return sum(_degree(arg, variable) for arg in expression.args)
    if isinstance(expression, sympy.Pow) and expression.exp.is_Integer and expression.exp > 0:
        return int(expression.exp) * _degree(expression.base, variable)
    return 1


def _power(factor: sympy.Expr, variable: sympy.Symbol) -> int | None:
    """`n` when `factor` is `variable ** n` (`n >= 0`), else None."""
    if factor == 1:
        return 0
    if factor == variable:
        return 1
    if factor.is_Pow and factor.base == variable and factor.exp.is_Integer and factor.exp > 0:
        return int(factor.exp)
    return None


def _antiderivative(integrand: sympy.Expr, variable: sympy.Symbol) -> sympy.Expr | None:
    if _degree(integrand, variable) > MAX_DEGREE:
        raise TooLarge("integrand degree")
    total = sympy.Integer(0)
    for term in sympy.Add.make_args(sympy.expand(integrand)):
        coefficient, factor = term.as_independent(variable, as_Add=False)
        power = _power(factor, variable)
        if power is not None:
            total += coefficient * variable ** (power + 1) / (power + 1)
        elif factor.func in _ANTIDERIVATIVES and factor.args[0].is_polynomial(variable):
            slope = sympy.diff(factor.args[0], variable)
            if not slope.is_number or slope == 0:
                return None
            total += coefficient * _ANTIDERIVATIVES[factor.func](factor.args[0]) / slope
        else:
            return None
    return total


def definite_integral(
    integrand: sympy.Expr, variable: sympy.Symbol, low: sympy.Expr, high: sympy.Expr
) -> sympy.Expr | None:
    """The integral of `integrand` from `low` to `high` (finite numbers), for the integrands above."""
    if integrand.free_symbols - {variable} or not all(
        bound.is_number and bound.is_finite for bound in (low, high)
    ):
        return None
    antiderivative = _antiderivative(integrand, variable)
    if antiderivative is None:
        return None
    upper, lower = _exact_at(antiderivative, variable, high), _exact_at(antiderivative, variable, low)
    return None if upper is None or lower is None else upper - lower
