"""The sampler/trainer mismatch: how far the sampler's log-probs are from the trainer's, and its correction.

Even with the same weights the engine that samples (vLLM, or our decoder in another batch shape)
and the trainer give the sampled tokens different log-probs: other kernels, precision and
batch-dependent reductions, and top-k/top-p when only the sampler truncates. The rollout was drawn
from the sampler, pi_s, while the objective's ratio takes pi_old from the trainer, so the gradient
is off-policy by `rho_t = pi_old(y_t) / pi_s(y_t)` (verl #2996, vLLM #18352, open-instruct #1473).

`mismatch_metrics` measures it on every rollout; `SamplerCorrection` reweights the per-token loss by
a constant (no gradient flows through it) computed from `rho`, the same for every objective:
- `token_tis`: `w_t = min(rho_t, C)`, truncated importance sampling per token (Yao et al., "Your
  Efficient RL Framework Secretly Brings You Off-Policy RL Training", 2025; verl's token-level
  `rollout_is`, TRL's `vllm_importance_sampling_correction`);
- `sequence_tis`: `w = min(prod_t rho_t, C)` on every token of the sequence (verl's sequence-level
  `rollout_is`);
- `token_mask`: `w_t = 1[low <= rho_t <= high]`, tokens outside the band dropped (IcePop, Ring-1T,
  arXiv 2510.18855; OpenRLHF's and NeMo-RL's `icepop`);
- `sequence_mask`: `w = 1[low <= geometric mean of rho over the sequence <= high]` (the length-
  normalised sequence mask of OpenRLHF's and NeMo-RL's `seq-mask-tis`, TRL's `sequence_mask`).
A dropped token keeps its place in the loss normaliser, as IcePop's indicator inside the sum does.

Shapes: `N` sequences, `T` completion positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from lit_rlvr.aggregation import masked_mean

Correction = Literal["token_tis", "sequence_tis", "token_mask", "sequence_mask"]

#: The band of `rho` outside which `mismatch/ratio_outside` counts a token.
BAND = (0.5, 2.0)
# exp of a log-ratio past this overflows float32 products; a token so far off is capped or dropped anyway.
_MAX_LOG_RATIO = 20.0


@dataclass
class SamplerCorrection:
    """Reweights each token's loss by the sampler/trainer ratio `rho = pi_old / pi_sampler`.

    Args:
        mode: `token_tis`, `sequence_tis`, `token_mask` or `sequence_mask` (see the module).
        cap: C, the truncation of the importance weight (the TIS modes); verl's default 2.
        low: the lowest `rho` a mask keeps.
        high: the highest `rho` a mask keeps.
    """

    mode: Correction = "token_tis"
    cap: float = 2.0
    low: float = 0.5
    high: float = 2.0

    def __post_init__(self) -> None:
        if self.cap <= 0:
            raise ValueError(f"model.sampler_correction.cap must be > 0, got {self.cap}")
        if not 0 <= self.low < 1 < self.high:
            raise ValueError(
                "model.sampler_correction.low and .high must satisfy 0 <= low < 1 < high, "
                f"got low={self.low}, high={self.high}"
            )

    def weights(self, logp_old: Tensor, sampler_logp: Tensor, mask: Tensor) -> Tensor:
        """`[N, T]` constant loss weights, 0 off the mask.

        Args:
            logp_old: `[N, T]` the trainer's log-probs of the sampled tokens at the sampling weights.
            sampler_logp: `[N, T]` the sampler's log-probs of the same tokens.
            mask: `[N, T]` bool, the completion tokens.
        """
        log_rho = log_ratio(logp_old, sampler_logp, mask)
        if self.mode == "token_tis":
            weights = log_rho.clamp(max=math.log(self.cap)).exp()
        elif self.mode == "sequence_tis":
            weights = log_rho.sum(-1, keepdim=True).clamp(max=math.log(self.cap)).exp().expand_as(log_rho)
        elif self.mode == "token_mask":
            weights = in_band(log_rho, self.low, self.high).to(log_rho.dtype)
        else:
            per_token = log_rho.sum(-1, keepdim=True) / mask.sum(-1, keepdim=True).clamp(min=1)
            weights = in_band(per_token, self.low, self.high).to(log_rho.dtype).expand_as(log_rho)
        return torch.where(mask, weights, 0.0)


def log_ratio(logp_old: Tensor, sampler_logp: Tensor, mask: Tensor) -> Tensor:
    """`[N, T]` `log rho = logp_old - sampler_logp` on the mask, 0 elsewhere, detached and clamped."""
    delta = (logp_old.detach().float() - sampler_logp.float()).clamp(-_MAX_LOG_RATIO, _MAX_LOG_RATIO)
    return torch.where(mask, delta, 0.0)


def in_band(log_rho: Tensor, low: float, high: float) -> Tensor:
    """Bool, `low <= rho <= high` (`low` 0 has no lower bound)."""
    above = log_rho >= math.log(low) if low > 0 else torch.ones_like(log_rho, dtype=torch.bool)
    return above & (log_rho <= math.log(high))


def kl_to_sampler(logp: Tensor, sampler_logp: Tensor, mask: Tensor) -> Tensor:
    """The k3 estimate of KL(pi_sampler || pi) on the sampler's own tokens, `mean(rho - 1 - log rho)`
    with `rho = pi / pi_sampler`: non-negative, 0 only where the two agree (`expm1` keeps it so for
    the 1e-5 gaps two float32 kernels leave, where `exp(x) - 1` rounds below 0).

    Args:
        logp: `[N, T]` the trainer's log-probs of the sampled tokens.
        sampler_logp: `[N, T]` the sampler's.
        mask: `[N, T]` bool, the completion tokens.
    """
    log_rho = log_ratio(logp, sampler_logp, mask)
    return masked_mean(torch.where(mask, log_rho.expm1() - log_rho, 0.0), mask)


def mismatch_metrics(logp_old: Tensor, sampler_logp: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """`mismatch/` readings over the completion tokens of a rollout, at the sampling weights."""
    log_rho = log_ratio(logp_old, sampler_logp, mask)
    delta = log_rho.abs()
    return {
        "mismatch/kl": kl_to_sampler(logp_old, sampler_logp, mask),
        "mismatch/abs_logp_diff_mean": masked_mean(delta, mask),
        "mismatch/abs_logp_diff_max": delta.max() if delta.numel() else delta.new_zeros(()),
        "mismatch/ratio_outside": masked_mean((~in_band(log_rho, *BAND) & mask).float(), mask),
    }


def correction_metrics(weights: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """`mismatch/` readings of a correction's `[N, T]` weights: their mean and the share they change."""
    return {
        "mismatch/weight_mean": masked_mean(weights, mask),
        "mismatch/weight_changed": masked_mean((weights != 1).float(), mask),
    }
