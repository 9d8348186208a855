"""Loss aggregation: how a per-token loss matrix becomes one scalar (verl's `loss_agg_mode`, typed).

Every mode divides by normalisers of the whole mini-batch (`LossNorm`), never of the micro-batch,
so gradient accumulation over any split reproduces the unsplit gradient exactly; across processes,
`LossNorm.of` counts every process's part of the mini-batch, so the data-parallel gradient does not
depend on how the mini-batch falls across them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import torch
from torch import Tensor


class LossNorm(NamedTuple):
    """Normalisers of the whole mini-batch, so that splitting it into micro-batches is exact.

    A micro-batch's loss is its share of the mini-batch loss: summing the micro-batch losses (and
    their gradients) gives exactly the mini-batch's, however the mini-batch is split.
    """

    tokens: float  # completion tokens in the mini-batch
    sequences: float  # sequences in the mini-batch
    max_len: float  # generation budget T_max, the constant of Dr. GRPO's normaliser

    @classmethod
    def of(
        cls, mask: Tensor, max_len: int, mean_over_processes: Callable[[Tensor], Tensor] | None = None
    ) -> LossNorm:
        """The normalisers of the mini-batch whose rows on this process are `mask` `[n, T]`.

        DDP and FSDP average the processes' gradients. `mean_over_processes` (the mean of a tensor
        over them) turns each count into the global mini-batch's count / the number of processes,
        so that average is the gradient of the global mini-batch's loss, exactly as one process
        holding all of it would compute, however unevenly its tokens fall across processes.
        """
        counts = torch.tensor([float(mask.sum()), float(len(mask))], dtype=torch.float64, device=mask.device)
        if mean_over_processes is not None:
            counts = mean_over_processes(counts)
        tokens, sequences = counts.tolist()
        return cls(tokens=tokens, sequences=sequences, max_len=float(max_len))


Aggregation = Literal["token_mean", "seq_mean_token_mean", "seq_mean_token_sum", "seq_mean_token_sum_norm"]


def aggregate(
    loss: Tensor, mask: Tensor, mode: Aggregation, norm: LossNorm, weights: Tensor | None = None
) -> Tensor:
    """Reduces a per-token loss to this micro-batch's share of the mini-batch loss.

    Args:
        loss: `[N, T]` per-token loss.
        mask: `[N, T]` bool, True on tokens that count.
        mode: `token_mean` sums over all tokens / all tokens (DAPO); `seq_mean_token_mean` averages
            each sequence's tokens, then the sequences (GRPO); `seq_mean_token_sum` sums each
            sequence's tokens and averages the sequences; `seq_mean_token_sum_norm` divides the sum
            by sequences x the generation budget, a constant (Dr. GRPO).
        norm: mini-batch normalisers.
        weights: `[N, T]` constant per-token loss weights (`lit_rlvr.mismatch`); None: all 1. They
            leave the normalisers as they are.
    """
    if weights is not None:
        loss = loss * weights
    masked = torch.where(mask, loss, torch.zeros_like(loss))
    if mode == "token_mean":
        return masked.sum() / max(norm.tokens, 1.0)
    if mode == "seq_mean_token_mean":
        lengths = mask.sum(-1).clamp(min=1)  # [N]; an all-masked row contributes 0, not NaN
        return (masked.sum(-1) / lengths).sum() / max(norm.sequences, 1.0)
    if mode == "seq_mean_token_sum":
        return masked.sum() / max(norm.sequences, 1.0)
    if mode == "seq_mean_token_sum_norm":
        return masked.sum() / (max(norm.sequences, 1.0) * norm.max_len)
    raise ValueError(f"unknown aggregation mode {mode!r}; expected one of {Aggregation.__args__}")


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of `values` over positions where `mask` is True (0 when none are)."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1)
