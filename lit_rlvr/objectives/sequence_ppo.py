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

from torch import Tensor

from lit_rlvr.advantages import sequence_advantages
from lit_rlvr.aggregation import Aggregation
from lit_rlvr.objectives.base import Objective, ObjectiveOutput, PolicyBatch
from lit_rlvr.objectives.grpo import grpo_loss
from lit_rlvr.objectives.value_losses import bce_value_loss, prompt_critic_metrics


def sequence_ppo_loss(
    batch: PolicyBatch,
    *,
    clip_low: float,
    clip_high: float,
    dual_clip: float | None,
    aggregation: Aggregation,
    entropy_coef: float = 0.0,
) -> ObjectiveOutput:
    """`agg(-min(r A, clip(r) A))` per token, capped at `-c A` where A < 0; A = R - V broadcast.

    Args:
        batch: the micro-batch, every tensor `[N, T]`.
        clip_low: eps_low of the token-ratio clip.
        clip_high: eps_high of the token-ratio clip.
        dual_clip: c of dual-clip PPO, or None.
        aggregation: loss aggregation.
        entropy_coef: c_H of the entropy bonus.
    """
    return grpo_loss(
        batch,
        clip_low=clip_low,
        clip_high=clip_high,
        aggregation=aggregation,
        kl_coef=0.0,
        kl_estimator="k3",
        entropy_coef=entropy_coef,
        dual_clip=dual_clip,
    )


class SequencePPO(Objective):
    """Sequence-Level PPO (arXiv 2604.08865; not Self-Play Preference Optimization).

    Args:
        clip_low: eps_low, the token ratio's lower clip is `1 - clip_low`.
        clip_high: eps_high, the token ratio's upper clip is `1 + clip_high`.
        dual_clip: c > 1 of dual-clip PPO for negative advantages; None disables it.
        aggregation: loss aggregation over tokens and sequences.
        entropy_coef: weight of the entropy bonus.
    """

    min_samples_per_prompt = 1
    critic_kind = "prompt"

    def __init__(
        self,
        *,
        clip_low: float = 0.2,
        clip_high: float = 0.2,
        dual_clip: float | None = 3.0,
        aggregation: Aggregation = "token_mean",
        entropy_coef: float = 0.0,
    ) -> None:
        name = type(self).__name__
        for knob, value in (("clip_low", clip_low), ("clip_high", clip_high)):
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name}: {knob} must be in (0, 1), got {value}")
        if dual_clip is not None and dual_clip <= 1.0:
            raise ValueError(f"{name}: dual_clip must be > 1 or None, got {dual_clip}")
        if entropy_coef < 0:
            raise ValueError(f"{name}: entropy_coef must be >= 0, got {entropy_coef}")
        self.clip_low = clip_low
        self.clip_high = clip_high
        self.dual_clip = dual_clip
        self.aggregation = aggregation
        self.entropy_coef = entropy_coef

    def advantages(self, rewards: Tensor, value_logits: Tensor | None = None) -> Tensor:
        """`[B, G]` advantages `R - sigmoid(logit)` from the prompt critic's pre-update `[B]` logits."""
        if value_logits is None:
            raise ValueError("SequencePPO needs the prompt critic's value_logits, taken before its update")
        return sequence_advantages(rewards, value_logits)

    value_loss = staticmethod(bce_value_loss)
    critic_metrics = staticmethod(prompt_critic_metrics)

    def __call__(self, batch: PolicyBatch) -> ObjectiveOutput:
        return sequence_ppo_loss(
            batch,
            clip_low=self.clip_low,
            clip_high=self.clip_high,
            dual_clip=self.dual_clip,
            aggregation=self.aggregation,
            entropy_coef=self.entropy_coef,
        )
