"""CISPO: clip the importance-sampling weight, not the update, so every token keeps a gradient.

MiniMax 2025, "MiniMax-M1", arXiv 2506.13585, the CISPO objective:
`J = 1/sum|o_i| sum_i sum_t sg(clip(r_it, 1 - eps_low, 1 + eps_high)) A_it log pi_theta(o_it)`.
Unlike PPO's clip, a clipped token still gets the gradient `w A grad log pi`, so rare "reflection"
tokens are not dropped. Group-relative advantage, token-mean, no KL. In practice only the upper
bound is used: `clip_low=None` (the default) disables the lower one; the eps_high default of 0.2
is verl's example (TRL caps at an absolute 5.0 instead: `clip_high=4.0`).
"""

from __future__ import annotations

import torch

from lit_rlvr.aggregation import Aggregation, masked_mean
from lit_rlvr.objectives.base import (
    Objective,
    ObjectiveOutput,
    PolicyBatch,
    require_in_range,
    require_non_negative,
)
from lit_rlvr.objectives.surrogate import approx_kl_old, masked_log_ratio, ratio_metrics, reduce_loss


def cispo_loss(
    batch: PolicyBatch,
    *,
    clip_low: float | None,
    clip_high: float,
    aggregation: Aggregation,
    entropy_coef: float = 0.0,
) -> ObjectiveOutput:
    """`agg(-sg(clip(r, 1 - eps_low, 1 + eps_high)) A log pi_theta - c_H H)`.

    Args:
        batch: the micro-batch, every tensor `[N, T]`.
        clip_low: eps_low of the weight's clip, or None for no lower bound.
        clip_high: eps_high of the weight's clip.
        aggregation: `token_mean` in the paper.
        entropy_coef: c_H of the entropy bonus.
    """
    mask = batch.mask
    assert batch.logp.shape == batch.logp_old.shape == batch.advantages.shape == mask.shape
    log_ratio = masked_log_ratio(batch.logp, batch.logp_old, mask)  # [N, T]
    ratio = log_ratio.exp()
    lower = None if clip_low is None else 1.0 - clip_low
    weight = ratio.detach().clamp(lower, 1.0 + clip_high)
    advantages = torch.where(mask, batch.advantages, 0.0)
    loss = -weight * advantages * torch.where(mask, batch.logp, 0.0)
    clipped_low = ratio < lower if lower is not None else torch.zeros_like(mask)
    metrics = {
        "objective/clip_frac_low": masked_mean(clipped_low.float(), mask),
        "objective/clip_frac_high": masked_mean((ratio > 1.0 + clip_high).float(), mask),
        **ratio_metrics(ratio, mask),
        "objective/approx_kl_old": approx_kl_old(log_ratio, mask),
    }
    return reduce_loss(loss, batch, metrics, aggregation=aggregation, entropy_coef=entropy_coef)


class CISPO(Objective):
    """Clipped IS-weight Policy Optimization.

    Args:
        clip_low: eps_low, the weight's lower clip is `1 - clip_low`; None: no lower clip.
        clip_high: eps_high, the weight's upper clip is `1 + clip_high`.
        aggregation: loss aggregation over tokens and sequences.
        entropy_coef: weight of the entropy bonus.
    """

    min_samples_per_prompt = 2

    def __init__(
        self,
        *,
        clip_low: float | None = None,
        clip_high: float = 0.2,
        aggregation: Aggregation = "token_mean",
        entropy_coef: float = 0.0,
    ) -> None:
        require_in_range(self, 0.0, 1.0, clip_low=clip_low)
        require_in_range(self, 0.0, float("inf"), clip_high=clip_high)
        require_non_negative(self, entropy_coef=entropy_coef)
        self.clip_low = clip_low
        self.clip_high = clip_high
        self.aggregation = aggregation
        self.entropy_coef = entropy_coef

    def loss(self, batch: PolicyBatch) -> ObjectiveOutput:
        return cispo_loss(
            batch,
            clip_low=self.clip_low,
            clip_high=self.clip_high,
            aggregation=self.aggregation,
            entropy_coef=self.entropy_coef,
        )
