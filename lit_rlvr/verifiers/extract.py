"""Pulls the final answer out of a model response."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def last_boxed(text: str) -> str | None:
    """Returns the content of the last `\\boxed{...}` or `\\fbox{...}`, matching nested braces."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0:
        return None
    depth = 0
    for index in range(brace, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[brace + 1 : index]
    return None


def extract_answer(response: str) -> str | None:
    """Returns the final answer of `response`: the last box, else the last number, else None."""
    final = response.rsplit("</think>", 1)[-1]
    boxed = last_boxed(final)
    if boxed is not None:
        return boxed
    numbers = _NUMBER.findall(final.replace(",", ""))
    return numbers[-1] if numbers else None
