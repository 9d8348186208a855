"""Countdown reward: 1.0 when the answer expression reaches the target using each number at most once.

The expression is parsed with `ast` and walked by hand: only integer literals, `+ - * /` and
parentheses are accepted, and it is evaluated exactly with `Fraction`. Nothing is ever passed to
`eval`, so an answer can at worst be rejected, never run.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from fractions import Fraction
from typing import Any

from lit_rlvr.verifiers.extract import final_segment, last_boxed

MAX_EXPRESSION_CHARS = 200
_OPERATORS = {ast.Add: Fraction.__add__, ast.Sub: Fraction.__sub__, ast.Mult: Fraction.__mul__}
_SPELLINGS = (("\\times", "*"), ("\\cdot", "*"), ("×", "*"), ("\\div", "/"), ("÷", "/"), ("\\left", ""),
              ("\\right", ""), ("−", "-"))  # fmt: skip


def parse_gold(gold: str) -> tuple[int, list[int]]:
    """Reads the gold `{"target": t, "numbers": [...]}` written by `CountdownTask`."""
    data = json.loads(gold)
    return int(data["target"]), [int(number) for number in data["numbers"]]


def answer_expression(completion: str) -> str | None:
    """The expression in the last `\\boxed{}` or `<answer>` tag after any `</think>`, without `= target`."""
    final = final_segment(completion)
    if final is None:
        return None
    tags = re.findall(r"<answer>(.*?)</answer>", final, re.DOTALL)
    try:
        boxed = last_boxed(final)
    except ValueError:
        boxed = None
    expression = boxed if boxed is not None else tags[-1] if tags else None
    if expression is None:
        return None
    for spelling, operator in _SPELLINGS:
        expression = expression.replace(spelling, operator)
    return expression.split("=")[0].strip()


def evaluate(expression: str) -> tuple[Fraction, list[int]] | None:
    """The exact value of an arithmetic expression and the numbers it uses; None if not allowed."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        return None
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    numbers: list[int] = []

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            numbers.append(node.value)
            return Fraction(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (*_OPERATORS, ast.Div)):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Div):
                if right == 0:
                    raise ZeroDivisionError
                return left / right
            return _OPERATORS[type(node.op)](left, right)
        raise ValueError(f"{type(node).__name__} is not allowed")

    try:
        return walk(tree.body), numbers
    except (ValueError, ZeroDivisionError, RecursionError):
        return None


def reach_target(completion: str, gold: str, row: dict[str, Any]) -> float:
    """1.0 when the completion's expression equals the target with each given number used at most once."""
    target, available = parse_gold(gold)
    expression = answer_expression(completion)
    result = evaluate(expression) if expression else None
    if result is None:
        return 0.0
    value, used = result
    return float(value == target and not Counter(used) - Counter(available))
