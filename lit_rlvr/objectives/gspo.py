"""GSPO and GSPO-token: one importance ratio per sequence, the geometric mean of its token ratios.

Zheng et al. 2025, "Group Sequence Policy Optimization", arXiv 2507.18071 (clip range
from section 5.1):
`s_i = exp(1/|y_i| sum_t log r_it)`, loss `-min(s_i A_i, clip(s_i, 1 - eps_low, 1 + eps_high) A_i)`
averaged over sequences, with the paper's tight range eps = 3e-4 / 4e-4 (geometric-mean ratios
stay near 1). GSPO-token uses `s_it = sg[s_i] pi_theta(y_t) / sg[pi_theta(y_t)]`: the same value
and, with a sequence advantage broadcast over tokens, the same gradient, but it would admit
per-token advantages. Clipping is per sequence, so clip fractions are also logged per sequence.
No KL term (beta = 0, as the Qwen authors use).
"""

from __future__ import annotations

import torch

from lit_rlvr.aggregation import Aggregation
from lit_rlvr.objectives.base import (
    Objective,
    ObjectiveOutput,
    PolicyBatch,
    require_in_range,
    require_non_negative,
)
from lit_rlvr.objectives.surrogate import (
    approx_kl_old,
    clipped_surrogate,
    masked_log_ratio,
    ratio_metrics,
    reduce_loss,
    unit_clip_fractions,
)


def gspo_loss(
    batch: PolicyBatch,
    *,
    clip_low: float,
    clip_high: float,
    aggregation: Aggregation,
    token_level: bool,
    entropy_coef: float = 0.0,
) -> ObjectiveOutput:
    """The clipped surrogate of the length-normalised sequence ratio, per token so it aggregates.

    Args:
        batch: the micro-batch, every tensor `[N, T]`.
        clip_low: eps_low of the sequence-ratio clip.
        clip_high: eps_high of the sequence-ratio clip.
        aggregation: `seq_mean_token_mean` gives the paper's mean over sequences.
        token_level: GSPO-token's straight-through ratio instead of the plain sequence ratio.
        entropy_coef: c_H of the entropy bonus.
    """
    mask = batch.mask
    assert batch.logp.shape == batch.logp_old.shape == batch.advantages.shape == mask.shape
    log_ratio = masked_log_ratio(batch.logp, batch.logp_old, mask)  # [N, T]
    seq_log_ratio = log_ratio.sum(dim=1, keepdim=True) / mask.sum(dim=1, keepdim=True).clamp(min=1)  # [N, 1]
    if token_level:
        # log s_it = sg[log s_i] + log pi(y_t) - sg[log pi(y_t)]; `where` keeps padding's inf - inf out.
        unit_log_ratio = seq_log_ratio.detach() + torch.where(mask, batch.logp - batch.logp.detach(), 0.0)
    else:
        unit_log_ratio = seq_log_ratio.expand_as(log_ratio)
    advantages = torch.where(mask, batch.advantages, 0.0)
    surrogate = clipped_surrogate(unit_log_ratio, advantages, clip_low=clip_low, clip_high=clip_high)
    metrics = {
        **unit_clip_fractions(surrogate, torch.zeros_like(mask, dtype=torch.long), mask, "seq"),
        **ratio_metrics(surrogate.ratio, mask),
        "objective/approx_kl_old": approx_kl_old(log_ratio, mask),
    }
    return reduce_loss(surrogate.loss, batch, metrics, aggregation=aggregation, entropy_coef=entropy_coef)


class GSPO(Objective):
    """Group Sequence Policy Optimization (sequence-level ratio and clipping).

    Args:
        clip_low: eps_low of the sequence ratio, whose lower clip is `1 - clip_low`.
        clip_high: eps_high of the sequence ratio, whose upper clip is `1 + clip_high`.
        aggregation: loss aggregation; `seq_mean_token_mean` is the paper's mean over sequences.
        entropy_coef: weight of the entropy bonus.
    """

    min_samples_per_prompt = 2
    token_level = False

    def __init__(
        self,
        *,
        clip_low: float = 3e-4,
        clip_high: float = 4e-4,
        aggregation: Aggregation = "seq_mean_token_mean",
        entropy_coef: float = 0.0,
    ) -> None:
        require_in_range(self, 0.0, 1.0, clip_low=clip_low, clip_high=clip_high)
        require_non_negative(self, entropy_coef=entropy_coef)
        self.clip_low = clip_low
        self.clip_high = clip_high
        self.aggregation = aggregation
        self.entropy_coef = entropy_coef

    def loss(self, batch: PolicyBatch) -> ObjectiveOutput:
        return gspo_loss(
            batch,
            clip_low=self.clip_low,
            clip_high=self.clip_high,
            aggregation=self.aggregation,
            token_level=self.token_level,
            entropy_coef=self.entropy_coef,
        )


class GSPOToken(GSPO):
    """GSPO-token: GSPO's sequence ratio with a straight-through per-token gradient (same knobs)."""

    token_level = True
