"""Dr. GRPO: GRPO without its two biases, the advantage's std division and the per-response length mean.

Liu et al. 2025, "Understanding R1-Zero-Like Training: A Critical Perspective", arXiv 2503.20783.
GRPO's `1 / |o_i|` rewards short correct answers and lets wrong ones grow long; its
std division re-weights prompts by difficulty. Dr. GRPO uses `A_i = R_i - mean(R)` and divides the
token sum by a constant, the generation budget (`seq_mean_token_sum_norm`: sequences x `T_max`,
as the authors' Oat code and TRL's `dr_grpo`). Token ratio, symmetric clip, no KL (beta = 0) by
default; the KL and entropy knobs are GRPO's.
"""

from __future__ import annotations

from lit_rlvr.kl import KLEstimator
from lit_rlvr.objectives.grpo import GRPO


class DrGRPO(GRPO):
    """GRPO Done Right: group-centred (not standardised) advantage, constant-length normaliser.

    Args:
        clip_low: eps_low, the ratio's lower clip is `1 - clip_low`.
        clip_high: eps_high, the ratio's upper clip is `1 + clip_high`.
        kl_coef: beta of the KL-to-reference term in the loss (0 in the paper); > 0 loads a reference.
        kl_estimator: per-token KL estimator.
        entropy_coef: weight of the entropy bonus.
    """

    def __init__(
        self,
        *,
        clip_low: float = 0.2,
        clip_high: float = 0.2,
        kl_coef: float = 0.0,
        kl_estimator: KLEstimator = "k3",
        entropy_coef: float = 0.0,
    ) -> None:
        super().__init__(
            clip_low=clip_low,
            clip_high=clip_high,
            scale_by_std=False,
            aggregation="seq_mean_token_sum_norm",
            kl_coef=kl_coef,
            kl_estimator=kl_estimator,
            entropy_coef=entropy_coef,
        )
