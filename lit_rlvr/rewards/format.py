"""Format rewards: credit for a well-formed answer, whatever its value."""

from __future__ import annotations

import re
from typing import Any

_BOXED = re.compile(r"\\boxed\{[^{}\s][^{}]*\}")


def boxed(completion: str, gold: str, row: dict[str, Any]) -> float:
    """1.0 when the completion puts a non-empty answer in `\\boxed{}`."""
    return float(_BOXED.search(completion) is not None)
