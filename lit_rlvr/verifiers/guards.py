"""Size guards: refuse inputs whose parsing or arithmetic could take unbounded time or memory.

Every limit is checked on the string before SymPy sees it, or on a number before it is built, so a
refused input costs microseconds. A refused answer is still compared as normalized text, so a
response that copies a huge gold verbatim keeps its credit.
"""

from __future__ import annotations

import re

MAX_ANSWER_CHARS = 2000  # longer "answers" are essays or garbage, not a final answer
MAX_DEPTH = 40  # nesting of (), [], {}; recursive descent uses about 10 frames per level
MAX_DIGITS = 400  # digits in one literal; beyond this only text comparison is sound and fast
MAX_CARETS = 24  # exponent signs in one answer
MAX_BITS = 40_000  # bits of an exact integer built from a power or a factorial (about 12,000 digits)
MAX_FACTORIAL = 3000  # 3000! has about 30,000 bits
MAX_TERMS = 1000  # terms of a sum written as an answer, each built exactly
MAX_DEGREE = 100  # degree of an integrand; expanding it builds every coefficient

_DIGIT_RUN = re.compile(r"\d{" + str(MAX_DIGITS + 1) + ",}")


class TooLarge(ValueError):
    """An input past a size guard; the caller falls back to text comparison."""


def check_text(text: str) -> None:
    """Raises `TooLarge` when `text` is too long, too deep, has too many digits or exponents."""
    if len(text) > MAX_ANSWER_CHARS:
        raise TooLarge(f"{len(text)} characters")
    if _DIGIT_RUN.search(text):
        raise TooLarge("a literal with too many digits")
    if text.count("^") + text.count("**") > MAX_CARETS:
        raise TooLarge("too many exponents")
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise TooLarge(f"nesting depth {deepest}")


def check_power_bits(base_bits: float, exponent: int) -> None:
    """Raises `TooLarge` when `base ** exponent` would need more than `MAX_BITS` bits."""
    if base_bits * abs(exponent) > MAX_BITS:
        raise TooLarge("power too large")
