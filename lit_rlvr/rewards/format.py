"""Format rewards: credit for a well-formed answer, whatever its value."""

from __future__ import annotations

from typing import Any

from lit_rlvr.verifiers.extract import last_boxed


def boxed(completion: str, gold: str, row: dict[str, Any]) -> float:
    """1.0 when the completion's last `\\boxed{}` (nested braces matched) holds a non-empty answer."""
    try:
        answer = last_boxed(completion)
    except ValueError:  # a box never closed: the completion was cut off mid-answer
        return 0.0
    return float(bool(answer and answer.strip()))


def think_tags(completion: str, gold: str, row: dict[str, Any]) -> float:
    """1.0 when the reasoning is one `<think>...</think>` block followed by a non-empty answer.

    The opening tag may be absent: chat templates of reasoning models (DeepSeek-R1's) put it in the
    prompt. Nested, repeated, unclosed or trailing blocks score 0.
    """
    opens, closes = completion.count("<think>"), completion.count("</think>")
    if closes != 1 or opens > 1:
        return 0.0
    thought, answer = completion.split("</think>")
    if opens and not thought.lstrip().startswith("<think>"):
        return 0.0
    return float(bool(answer.strip()))
