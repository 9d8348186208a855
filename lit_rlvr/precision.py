"""Numeric precision: Lightning's `trainer.precision`, and the dtype each model is loaded in under it.

- `32-true`: everything in float32.
- `bf16-mixed`: the trained models (policy, critic) keep float32 weights and optimizer states and
  run their matmuls in bfloat16 under autocast; the frozen reference, which no optimizer touches,
  is held in bfloat16, the compute dtype, at half the memory.
- `bf16-true`: every model in bfloat16, optimizer states included (the least memory; AdamW on
  bfloat16 weights rounds away updates smaller than about 1/256 of a weight).

Loading straight in the target dtype (not float32 and then cast) keeps peak memory at one copy.
Whatever the precision, the vocabulary projection's log-softmax, the log-probs, ratios, KL,
advantages and losses are float32 (`lit_rlvr.logprobs`, `Objective.__call__`). float16 is refused:
its loss scaler would have to sit between our gradient clipping and the optimizer step.
"""

from __future__ import annotations

from typing import Literal

import torch

Precision = Literal["32-true", "bf16-mixed", "bf16-true"]

_ALIASES: dict[object, Precision] = {
    None: "32-true",
    32: "32-true",
    "32": "32-true",
    "32-true": "32-true",
    "bf16": "bf16-mixed",
    "bf16-mixed": "bf16-mixed",
    "bf16-true": "bf16-true",
}


def normalize(precision: object) -> Precision:
    """Lightning's name for `precision` (None, 32, "bf16", ... as `Trainer` accepts them)."""
    try:
        return _ALIASES[precision]
    except (KeyError, TypeError):
        raise ValueError(
            f"trainer.precision={precision!r} is not supported: expected 32-true, bf16-mixed or bf16-true"
        ) from None


def trained_dtype(precision: Precision) -> torch.dtype:
    """The weights' dtype of a model an optimizer updates (policy, critic)."""
    return torch.bfloat16 if precision == "bf16-true" else torch.float32


def frozen_dtype(precision: Precision) -> torch.dtype:
    """The weights' dtype of a frozen model (the reference): the compute dtype."""
    return torch.float32 if precision == "32-true" else torch.bfloat16
