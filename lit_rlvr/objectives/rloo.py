"""RLOO: REINFORCE with a leave-one-out baseline over the samples of each prompt, through PPO's clip.

Ahmadian et al. 2024, "Back to Basics: Revisiting REINFORCE Style Optimization for Learning from
Human Feedback in LLMs", arXiv 2402.14740: `A_i = R_i - 1/(G-1) sum_{j != i} R_j`, unbiased and
critic-free. The paper's plain REINFORCE (one update per rollout) is the ratio-1 case of the
clipped token surrogate used here, as in verl's `rloo` estimator. Simplified: the paper's KL
penalty in the reward is offered in the loss instead (`kl_coef`, off by default).
"""

from __future__ import annotations

from torch import Tensor

from lit_rlvr.advantages import leave_one_out_advantages
from lit_rlvr.aggregation import Aggregation
from lit_rlvr.kl import KLEstimator
from lit_rlvr.objectives.surrogate import ClippedObjective


class RLOO(ClippedObjective):
    """REINFORCE Leave-One-Out.

    Args:
        clip_low: eps_low, the ratio's lower clip is `1 - clip_low`.
        clip_high: eps_high, the ratio's upper clip is `1 + clip_high`.
        aggregation: loss aggregation (verl's actor default `token_mean`).
        kl_coef: beta of the KL-to-reference term in the loss; > 0 loads a reference model.
        kl_estimator: per-token KL estimator.
        entropy_coef: weight of the entropy bonus.
    """

    min_samples_per_prompt = 2

    def __init__(
        self,
        *,
        clip_low: float = 0.2,
        clip_high: float = 0.2,
        aggregation: Aggregation = "token_mean",
        kl_coef: float = 0.0,
        kl_estimator: KLEstimator = "k3",
        entropy_coef: float = 0.0,
    ) -> None:
        super().__init__(
            clip_low=clip_low,
            clip_high=clip_high,
            aggregation=aggregation,
            kl_coef=kl_coef,
            kl_estimator=kl_estimator,
            entropy_coef=entropy_coef,
        )

    def sequence_advantages(self, rewards: Tensor) -> Tensor:
        return leave_one_out_advantages(rewards)
