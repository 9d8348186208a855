"""The PPO clipped surrogate, shared by every objective, and the base of the token-ratio objectives.

`clipped_surrogate` is the per-unit formula (a unit is a token, a subsentence or a sequence whose
ratio every token carries); `clipped_token_loss` is the whole token-ratio loss of PPO, GRPO, DAPO,
Dr. GRPO, RLOO, REINFORCE++ and SPPO, which differ only in their advantage, knobs and defaults:
each is a `ClippedObjective` whose file holds just that difference.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from lit_rlvr.aggregation import Aggregation, aggregate, masked_mean
from lit_rlvr.kl import KLEstimator, kl_estimate
from lit_rlvr.objectives.base import (
    Objective,
    ObjectiveOutput,
    PolicyBatch,
    require_in_range,
    require_non_negative,
)

# A log-ratio beyond +-20 nats means the sample is ~5e8 times more or less likely than when it was
# drawn; exp() of it adds nothing but the risk of inf * 0 = NaN in the clipped branch.
MAX_LOG_RATIO = 20.0


class ClippedSurrogate(NamedTuple):
    """Per-token PPO loss and where each clip was active, all `[N, T]`."""

    loss: Tensor
    ratio: Tensor
    clipped_low: Tensor  # ratio < 1 - eps_low with A < 0: the update is stopped
    clipped_high: Tensor  # ratio > 1 + eps_high with A > 0: the update is stopped
    clipped_dual: Tensor  # A < 0 and the dual-clip cap -c * A was taken


def clipped_surrogate(
    log_ratio: Tensor,
    advantages: Tensor,
    *,
    clip_low: float,
    clip_high: float,
    dual_clip: float | None = None,
) -> ClippedSurrogate:
    """`-min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A)`, optionally capped at `-c A` for A < 0.

    Args:
        log_ratio: `[N, T]` log(pi_theta / pi_old) per unit (token, or a segment's ratio broadcast).
        advantages: `[N, T]`.
        clip_low: eps_low.
        clip_high: eps_high.
        dual_clip: c > 1 of dual-clip PPO (Ye et al. 2020), or None.
    """
    ratio = log_ratio.clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO).exp()
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    loss = torch.maximum(unclipped, clipped)
    clipped_dual = torch.zeros_like(loss, dtype=torch.bool)
    if dual_clip is not None:
        cap = -advantages * dual_clip  # positive where A < 0
        clipped_dual = (advantages < 0) & (loss > cap)
        loss = torch.where(advantages < 0, torch.minimum(loss, cap), loss)
    return ClippedSurrogate(
        loss=loss,
        ratio=ratio,
        clipped_low=(ratio < 1.0 - clip_low) & (advantages < 0),
        clipped_high=(ratio > 1.0 + clip_high) & (advantages > 0),
        clipped_dual=clipped_dual,
    )


def surrogate_metrics(surrogate: ClippedSurrogate, log_ratio: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """Clip fractions, ratio statistics and the approximate KL to the sampling policy (k3)."""
    ratio = surrogate.ratio.detach()
    masked_ratio = ratio[mask]
    approx_kl = (ratio - 1.0) - log_ratio.detach().clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)
    return {
        "objective/clip_frac_low": masked_mean(surrogate.clipped_low.float(), mask),
        "objective/clip_frac_high": masked_mean(surrogate.clipped_high.float(), mask),
        "objective/clip_frac_dual": masked_mean(surrogate.clipped_dual.float(), mask),
        "objective/ratio_mean": masked_mean(ratio, mask),
        "objective/ratio_max": masked_ratio.max() if masked_ratio.numel() else ratio.new_zeros(()),
        "objective/ratio_min": masked_ratio.min() if masked_ratio.numel() else ratio.new_zeros(()),
        "objective/approx_kl_old": masked_mean(approx_kl, mask),
    }


def masked_log_ratio(logp: Tensor, logp_old: Tensor, mask: Tensor) -> Tensor:
    """`log(pi_theta / pi_old)` `[N, T]`, 0 under the mask.

    Selecting with `where` (not multiplying by the mask) keeps padding, even inf or NaN there, out
    of both the value and the gradient: `0 * inf` would be NaN.
    """
    return torch.where(mask, logp - logp_old, 0.0).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)


def approx_kl_old(log_ratio: Tensor, mask: Tensor) -> Tensor:
    """Mean per-token k3 estimate of KL(pi_old || pi_theta) from `[N, T]` token log-ratios."""
    log_ratio = log_ratio.detach().clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)
    return masked_mean(log_ratio.exp() - 1.0 - log_ratio, mask)


def ratio_metrics(ratio: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """Mean, max and min of a `[N, T]` ratio over the masked positions."""
    ratio = ratio.detach()
    selected = ratio[mask]
    empty = ratio.new_zeros(())
    return {
        "objective/ratio_mean": masked_mean(ratio, mask),
        "objective/ratio_max": selected.max() if selected.numel() else empty,
        "objective/ratio_min": selected.min() if selected.numel() else empty,
    }


def unit_clip_fractions(
    surrogate: ClippedSurrogate, units: Tensor, mask: Tensor, unit: str
) -> dict[str, Tensor]:
    """Fractions of units (sequences, segments) whose shared ratio was clipped, low and high.

    Args:
        surrogate: the per-token surrogate, every token of a unit carrying the unit's ratio.
        units: `[N, T]` long, the unit of each token, numbered from 0 within each row.
        mask: `[N, T]` bool.
        unit: the metric name's unit, e.g. `seq` gives `objective/seq_clip_frac_low`.
    """
    rows, length = mask.shape
    offsets = torch.arange(rows, device=mask.device)[:, None] * length
    index = torch.where(mask, units + offsets, 0).flatten()  # [N * T]: one slot per (row, unit)

    def per_unit(flags: Tensor) -> Tensor:
        counts = (flags & mask).flatten().float()  # float32 whatever the default dtype
        return torch.zeros_like(counts).index_add(0, index, counts)

    present = per_unit(mask) > 0
    count = present.sum().clamp(min=1)
    return {
        f"objective/{unit}_clip_frac_low": (per_unit(surrogate.clipped_low) > 0).sum() / count,
        f"objective/{unit}_clip_frac_high": (per_unit(surrogate.clipped_high) > 0).sum() / count,
    }


def reduce_loss(
    loss: Tensor,
    batch: PolicyBatch,
    metrics: dict[str, Tensor],
    *,
    aggregation: Aggregation,
    entropy_coef: float,
) -> ObjectiveOutput:
    """Subtracts the entropy bonus `c_H H`, logs the entropy and aggregates the `[N, T]` loss."""
    if entropy_coef > 0:
        loss = loss - entropy_coef * torch.where(batch.mask, batch.entropy, 0.0)
    metrics["objective/entropy"] = masked_mean(
        torch.where(batch.mask, batch.entropy.detach(), 0.0), batch.mask
    )
    return ObjectiveOutput(aggregate(loss, batch.mask, aggregation, batch.norm, batch.weights), metrics)


def clipped_token_loss(
    batch: PolicyBatch,
    *,
    clip_low: float,
    clip_high: float,
    aggregation: Aggregation,
    kl_coef: float = 0.0,
    kl_estimator: KLEstimator = "k3",
    entropy_coef: float = 0.0,
    dual_clip: float | None = None,
) -> ObjectiveOutput:
    """`agg(-min(r A, clip(r, 1 - eps_low, 1 + eps_high) A) + beta KL(pi || pi_ref) - c_H H)` per token.

    Args:
        batch: the micro-batch, every tensor `[N, T]`.
        clip_low: eps_low of the token-ratio clip.
        clip_high: eps_high of the token-ratio clip.
        aggregation: how tokens and sequences are averaged.
        kl_coef: beta of the KL-to-reference term in the loss; 0 disables it.
        kl_estimator: which per-token KL estimate.
        entropy_coef: c_H of the entropy bonus.
        dual_clip: c of dual-clip PPO, capping the loss of A < 0 tokens at -c A; None disables it.
    """
    assert batch.logp.shape == batch.logp_old.shape == batch.advantages.shape == batch.mask.shape
    log_ratio = batch.logp - batch.logp_old
    surrogate = clipped_surrogate(
        log_ratio, batch.advantages, clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip
    )
    loss = surrogate.loss
    metrics = surrogate_metrics(surrogate, log_ratio, batch.mask)
    if kl_coef > 0:
        assert batch.ref_logp is not None, "kl_coef > 0 needs reference log-probs"
        # Padding is zeroed first: inf there would make k2's square or k3's exp NaN in the gradient.
        kl = kl_estimate(
            torch.where(batch.mask, batch.logp, 0.0),
            torch.where(batch.mask, batch.ref_logp, 0.0),
            kl_estimator,
        )
        loss = loss + kl_coef * kl
        metrics["objective/kl_ref"] = masked_mean(kl.detach(), batch.mask)
    return reduce_loss(loss, batch, metrics, aggregation=aggregation, entropy_coef=entropy_coef)


class ClippedObjective(Objective):
    """An objective whose loss is `clipped_token_loss`; subclasses give the advantage and change a
    default by naming that knob alone and passing the others on (`**knobs`).

    Args:
        clip_low: eps_low, the token ratio's lower clip is `1 - clip_low`.
        clip_high: eps_high, the token ratio's upper clip is `1 + clip_high`.
        aggregation: loss aggregation over tokens and sequences.
        kl_coef: beta of the KL to the reference; > 0 loads a frozen reference model.
        kl_estimator: per-token KL estimator.
        entropy_coef: weight of the entropy bonus.
        dual_clip: c > 1 of dual-clip PPO for negative advantages; None disables it.
    """

    def __init__(
        self,
        *,
        clip_low: float = 0.2,
        clip_high: float = 0.2,
        aggregation: Aggregation = "token_mean",
        kl_coef: float = 0.0,
        kl_estimator: KLEstimator = "k3",
        entropy_coef: float = 0.0,
        dual_clip: float | None = None,
    ) -> None:
        require_in_range(self, 0.0, 1.0, clip_low=clip_low, clip_high=clip_high)
        require_non_negative(self, kl_coef=kl_coef, entropy_coef=entropy_coef)
        if dual_clip is not None and dual_clip <= 1.0:
            raise ValueError(f"{type(self).__name__}: dual_clip must be > 1 or None, got {dual_clip}")
        self.clip_low = clip_low
        self.clip_high = clip_high
        self.aggregation = aggregation
        self.kl_coef = kl_coef
        self.kl_estimator = kl_estimator
        self.entropy_coef = entropy_coef
        self.dual_clip = dual_clip

    @property
    def needs_reference(self) -> bool:
        return self.kl_coef > 0

    @property
    def kl_in_reward(self) -> bool:
        return False

    def loss(self, batch: PolicyBatch) -> ObjectiveOutput:
        return clipped_token_loss(
            batch,
            clip_low=self.clip_low,
            clip_high=self.clip_high,
            aggregation=self.aggregation,
            kl_coef=0.0 if self.kl_in_reward else self.kl_coef,
            kl_estimator=self.kl_estimator,
            entropy_coef=self.entropy_coef,
            dual_clip=self.dual_clip,
        )
