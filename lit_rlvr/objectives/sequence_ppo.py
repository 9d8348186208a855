"""SPPO, Sequence-Level PPO: token-ratio PPO with a bandit advantage `R - V(prompt)` from a prompt critic.

Wang, Li et al. 2026, "SPPO: Sequence-Level PPO for Long-Horizon Reasoning Tasks", arXiv 2604.08865,
and its official verl fork (`sustech-nlp/SPPO`, `compute_sequence_level_advantage`). Reasoning is a
contextual bandit: the prompt is the context, the whole response one action, the 0/1 verifier
outcome its reward. A decoupled critic reads only the prompt and gives one logit; `V = sigmoid`
is the prompt's predicted success rate, trained with binary cross-entropy on R. The advantage
`A = R - V`, taken from the critic *before* its update on these rewards, goes to every token; the
actor loss is verl's vanilla PPO (token ratio, eps = 0.2, dual-clip 3, token-mean); no KL, so no
reference model; one sample per prompt by default. Named `SequencePPO`, not `SPPO`, because
verl and others use "SPPO" for Self-Play Preference Optimization, an unrelated method.
The critic model (its backbone, head, optimizer and learning rate) is not an objective knob.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lit_rlvr.advantages import Advantages, ReduceSum, sequence_advantages
from lit_rlvr.objectives.surrogate import ClippedObjective
from lit_rlvr.objectives.value_losses import bce_value_loss, prompt_critic_metrics


class SequencePPO(ClippedObjective):
    """Sequence-Level PPO (arXiv 2604.08865; not Self-Play Preference Optimization); the other knobs
    are `ClippedObjective`'s.

    Args:
        dual_clip: c > 1 of dual-clip PPO for negative advantages; None disables it.
    """

    critic_kind = "prompt"

    def __init__(self, *, dual_clip: float | None = 3.0, **knobs: Any) -> None:
        super().__init__(dual_clip=dual_clip, **knobs)

    def advantages(
        self,
        rewards: Tensor,
        mask: Tensor,
        *,
        kl: Tensor | None = None,
        values: Tensor | None = None,
        reduce_sum: ReduceSum = None,
    ) -> Advantages:
        """`A = R - sigmoid(logit)` on every token, from the prompt critic's pre-update `[B]` logits.

        The critic's targets are the `[B, G]` rewards themselves.
        """
        if values is None:
            raise ValueError("SequencePPO needs the prompt critic's value logits, taken before its update")
        sequence = sequence_advantages(rewards, values).reshape(-1)  # [N]
        return Advantages(sequence[:, None].expand(mask.shape), rewards)

    prompt_value_loss = staticmethod(bce_value_loss)
    critic_metrics = staticmethod(prompt_critic_metrics)
