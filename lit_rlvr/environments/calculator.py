"""The calculator tool: exact arithmetic on an expression, read as a syntax tree, never `eval`ed."""

from __future__ import annotations

import ast
import math
import operator
from fractions import Fraction

OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
#: The most digits a power may have: 10 ** 10 ** 10 is refused at once instead of filling memory.
MAX_DIGITS = 10_000


def calculator(expression: str) -> str:
    """Evaluates an arithmetic expression exactly and returns the result.

    Args:
        expression: numbers with + - * / // % ** and parentheses, e.g. "(1234 * 5678) - 90 / 4".
    """
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"not an arithmetic expression: {error.msg}") from None
    value = _evaluate(tree.body)
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator} (about {float(value):.12g})"


def _evaluate(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return Fraction(str(node.value))  # 0.1 is one tenth, not the float nearest it
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        return _power(_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if right == 0 and not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
            raise ZeroDivisionError("division by zero")
        return OPERATORS[type(node.op)](left, right)
    raise ValueError(
        f"not allowed in an expression: {ast.unparse(node)!r} (numbers and + - * / // % ** only)"
    )


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        raise ValueError("only whole-number powers are exact")
    if base == 0 and exponent < 0:
        raise ZeroDivisionError("zero to a negative power")
    size = max(abs(base.numerator), base.denominator)
    if size > 1 and abs(exponent) * math.log10(size) > MAX_DIGITS:
        raise ValueError(f"the result would have more than {MAX_DIGITS} digits")
    return base**exponent.numerator
