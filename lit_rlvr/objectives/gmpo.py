"""GMPO: maximise the geometric mean of the per-token clipped ratio terms instead of their mean.

Zhao et al. 2025, "Geometric-Mean Policy Optimization", arXiv 2507.20673: per sequence,
`J_i = (prod_t min[r_it^s, clip(r_it^s, e^-eps_low, e^eps_high)]^s)^(1/|o_i|) A_i` with
`s = sign(A_i)`. Clipping is per token, in log space and pessimistic for the advantage's sign;
the mean over tokens is taken after it (GSPO clips after). Evaluated in log space as verl's
`geo_mean` loss; sequence advantage; averaged over sequences; eps = 0.4 (log space), no KL.
"""

from __future__ import annotations

import torch

from lit_rlvr.aggregation import masked_mean
from lit_rlvr.objectives.base import (
    Objective,
    ObjectiveOutput,
    PolicyBatch,
    require_in_range,
    require_non_negative,
)
from lit_rlvr.objectives.surrogate import (
    MAX_LOG_RATIO,
    approx_kl_old,
    masked_log_ratio,
    ratio_metrics,
    reduce_loss,
)


def gmpo_loss(
    batch: PolicyBatch, *, clip_low: float, clip_high: float, entropy_coef: float = 0.0
) -> ObjectiveOutput:
    """`-(exp(mean_t s min(s log r_t, s clip(log r_t, -eps_low, eps_high)))) A`, averaged over sequences.

    Args:
        batch: the micro-batch, every tensor `[N, T]`; the advantage must be constant per sequence.
        clip_low: eps_low, the log-ratio's lower clip (log space).
        clip_high: eps_high, the log-ratio's upper clip (log space).
        entropy_coef: c_H of the entropy bonus.
    """
    mask = batch.mask
    assert batch.logp.shape == batch.logp_old.shape == batch.advantages.shape == mask.shape
    log_ratio = masked_log_ratio(batch.logp, batch.logp_old, mask)  # [N, T]
    advantages = torch.where(mask, batch.advantages, 0.0)
    sign = advantages.sign()
    clipped_log_ratio = sign * torch.minimum(sign * log_ratio, sign * log_ratio.clamp(-clip_low, clip_high))
    lengths = mask.sum(dim=1, keepdim=True).clamp(min=1)  # [N, 1]
    # Per-token log-ratios are within +-MAX_LOG_RATIO, so their mean is too: exp cannot overflow.
    seq_ratio = (clipped_log_ratio.sum(dim=1, keepdim=True) / lengths).exp()  # [N, 1]
    seq_advantage = advantages.sum(dim=1, keepdim=True) / lengths  # [N, 1]
    loss = (-seq_advantage * seq_ratio).expand_as(log_ratio)  # a sequence's loss on each of its tokens
    metrics = {
        "objective/clip_frac_low": masked_mean(((log_ratio < -clip_low) & (advantages < 0)).float(), mask),
        "objective/clip_frac_high": masked_mean(((log_ratio > clip_high) & (advantages > 0)).float(), mask),
        **ratio_metrics(log_ratio.exp(), mask),
        "objective/seq_ratio_mean": masked_mean(seq_ratio.detach().expand_as(log_ratio), mask),
        "objective/approx_kl_old": approx_kl_old(log_ratio, mask),
    }
    return reduce_loss(loss, batch, metrics, aggregation="seq_mean_token_mean", entropy_coef=entropy_coef)


class GMPO(Objective):
    """Geometric-Mean Policy Optimization.

    Args:
        clip_low: eps_low in log space: token ratios below `exp(-clip_low)` are clipped when A < 0.
        clip_high: eps_high in log space: token ratios above `exp(clip_high)` are clipped when A > 0.
        entropy_coef: weight of the entropy bonus.
    """

    min_samples_per_prompt = 2

    def __init__(self, *, clip_low: float = 0.4, clip_high: float = 0.4, entropy_coef: float = 0.0) -> None:
        require_in_range(self, 0.0, MAX_LOG_RATIO, clip_low=clip_low, clip_high=clip_high)
        require_non_negative(self, entropy_coef=entropy_coef)
        self.clip_low = clip_low
        self.clip_high = clip_high
        self.entropy_coef = entropy_coef

    def loss(self, batch: PolicyBatch) -> ObjectiveOutput:
        return gmpo_loss(
            batch, clip_low=self.clip_low, clip_high=self.clip_high, entropy_coef=self.entropy_coef
        )
