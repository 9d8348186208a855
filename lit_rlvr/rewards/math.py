"""Correctness reward for math answers: 1.0 when the final answer equals the gold, else 0.0."""

from __future__ import annotations

from typing import Any

from lit_rlvr.verifiers.math import score


def correct(completion: str, gold: str, row: dict[str, Any]) -> float:
    """Scores `completion` with the math verifier against `gold`."""
    return score(completion, gold)
