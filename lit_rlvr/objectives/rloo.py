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
from lit_rlvr.objectives.surrogate import ClippedObjective


class RLOO(ClippedObjective):
    """REINFORCE Leave-One-Out; its knobs are `ClippedObjective`'s, defaults included (verl's
    actor default `token_mean` aggregation)."""

    min_samples_per_prompt = 2

    def sequence_advantages(self, rewards: Tensor) -> Tensor:
        return leave_one_out_advantages(rewards)
