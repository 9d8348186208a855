"""GRPO: PPO's clipped token-ratio surrogate with a group-normalised outcome advantage and no critic.

Shao et al. 2024, "DeepSeekMath", arXiv 2402.03300, eq. (3) and section 4.1.2:
`A_i = (R_i - mean(R)) / std(R)` over the G samples of a prompt, on every token of sample i, and
the loss `clipped_token_loss` (`lit_rlvr.objectives.surrogate`). The paper's objective is
`seq_mean_token_mean` aggregation, a symmetric clip and k3 KL in the loss with beta = 0.04; here
aggregation, the two clip bounds, std scaling and the KL estimator are separate knobs, with
defaults of current practice (beta = 0, as TRL and verl default to; no reference model is loaded then).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lit_rlvr.advantages import group_normalized_advantages
from lit_rlvr.aggregation import Aggregation
from lit_rlvr.objectives.surrogate import ClippedObjective


class GRPO(ClippedObjective):
    """Group Relative Policy Optimization; the other knobs are `ClippedObjective`'s.

    Args:
        scale_by_std: divide group-centred rewards by the group std (False: Dr. GRPO's advantage).
        aggregation: loss aggregation over tokens and sequences (the paper's per-response mean).
    """

    min_samples_per_prompt = 2

    def __init__(
        self, *, scale_by_std: bool = True, aggregation: Aggregation = "seq_mean_token_mean", **knobs: Any
    ) -> None:
        super().__init__(aggregation=aggregation, **knobs)
        self.scale_by_std = scale_by_std

    def sequence_advantages(self, rewards: Tensor) -> Tensor:
        return group_normalized_advantages(rewards, scale_by_std=self.scale_by_std)
