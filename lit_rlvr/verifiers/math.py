"""Math answer verification: `score(response, gold)` is 1.0 when the final answer equals the gold."""

from __future__ import annotations

from fractions import Fraction

from lit_rlvr.verifiers.extract import extract_answer


def _value(text: str) -> Fraction | None:
    try:
        return Fraction(text.strip().replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def score(response: str, gold: str) -> float:
    """Returns 1.0 if the final answer of `response` equals `gold`, else 0.0."""
    answer = extract_answer(response)
    if answer is None:
        return 0.0
    if answer.strip() == gold.strip():
        return 1.0
    value, expected = _value(answer), _value(gold)
    return float(value is not None and value == expected)
