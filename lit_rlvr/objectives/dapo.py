"""DAPO: GRPO with clip-higher, a token-level loss, dynamic sampling and a soft overlong penalty.

Yu et al. 2025, "DAPO: An Open-Source LLM Reinforcement Learning System at Scale", arXiv 2503.14476:
the objective (token ratio clipped to `[1 - 0.2, 1 + 0.28]`, group-normalised advantage, all
tokens of all responses averaged together, no KL), dynamic sampling (keep a group only if
`0 < #correct < G`) and the soft overlong punishment added to the reward. The sampling loop lives
in the rollout callback; this file holds its knobs and the pure pieces it calls. The overlong
buffer is a fraction of the generation budget (the paper: 4096 of 20480 tokens) so one config
works at any budget.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from lit_rlvr.objectives.surrogate import ClippedObjective


def keep_informative_groups(rewards: Tensor) -> Tensor:
    """Dynamic sampling's filter: True for groups whose rewards are not all equal.

    Args:
        rewards: `[B, G]` correctness rewards (before any shaping).

    Returns:
        `[B]` bool; a False group has zero advantage everywhere and would only dilute the batch.
    """
    return rewards.amax(dim=1) > rewards.amin(dim=1)


def overlong_penalty(lengths: Tensor, max_len: int, buffer_len: int, penalty_factor: float) -> Tensor:
    """DAPO's soft overlong punishment, added to the reward.

    0 up to `max_len - buffer_len` tokens, then falling linearly to `-penalty_factor` at `max_len`,
    and `-penalty_factor` beyond.

    Args:
        lengths: completion lengths in tokens, any shape.
        max_len: the generation budget `L_max`.
        buffer_len: `L_cache`, the length of the linear ramp; 0 disables the penalty.
        penalty_factor: the penalty at and beyond `max_len`.

    Returns:
        float penalties (<= 0), the shape of `lengths`.
    """
    if not 0 <= buffer_len <= max_len:
        raise ValueError(f"overlong buffer_len must be in [0, max_len={max_len}], got {buffer_len}")
    if buffer_len == 0:
        return torch.zeros(lengths.shape, dtype=torch.float32, device=lengths.device)
    excess = (lengths.float() - (max_len - buffer_len)).clamp(0.0, buffer_len)
    return -penalty_factor * excess / buffer_len


class DAPO(ClippedObjective):
    """Decoupled Clip and Dynamic sAmpling Policy Optimization; the other knobs are `ClippedObjective`'s.

    Args:
        clip_high: eps_high, the ratio's upper clip is `1 + clip_high` (clip-higher).
        filter_groups: dynamic sampling; the rollout callback drops groups whose `filter_metric` is
            all equal and samples more prompts until the batch has `data.prompts_per_step` groups.
        filter_metric: `correct` (the paper's and verl's default `acc`: the first reward term
            scored 1) or `reward` (the summed reward, for tasks with continuous rewards).
        max_sampling_rounds: most generation rounds per batch (the first included), verl's
            `max_num_gen_batches`; when they are spent, the step trains on the groups it has (with
            a warning naming this knob) rather than stopping the run.
        overlong_buffer_fraction: `L_cache / L_max` of the soft overlong penalty; 0 disables it.
        overlong_penalty_factor: the reward penalty at the generation budget.
    """

    min_samples_per_prompt = 2

    def __init__(
        self,
        *,
        clip_high: float = 0.28,
        filter_groups: bool = True,
        filter_metric: Literal["correct", "reward"] = "correct",
        max_sampling_rounds: int = 10,
        overlong_buffer_fraction: float = 0.2,
        overlong_penalty_factor: float = 1.0,
        **knobs: Any,
    ) -> None:
        super().__init__(clip_high=clip_high, **knobs)
        name = type(self).__name__
        if max_sampling_rounds < 1:
            raise ValueError(f"{name}: max_sampling_rounds must be >= 1, got {max_sampling_rounds}")
        if not 0.0 <= overlong_buffer_fraction <= 1.0 or overlong_penalty_factor < 0:
            raise ValueError(
                f"{name}: overlong_buffer_fraction must be in [0, 1] and overlong_penalty_factor >= 0, "
                f"got {overlong_buffer_fraction} and {overlong_penalty_factor}"
            )
        self.filter_groups = filter_groups
        self.filter_metric = filter_metric
        self.max_sampling_rounds = max_sampling_rounds
        self.overlong_buffer_fraction = overlong_buffer_fraction
        self.overlong_penalty_factor = overlong_penalty_factor

    def keep_groups(self, rewards: Tensor, correct: Tensor) -> Tensor | None:
        if not self.filter_groups:
            return None
        return keep_informative_groups(correct.float() if self.filter_metric == "correct" else rewards)

    def shape_rewards(self, rewards: Tensor, lengths: Tensor, max_len: int) -> Tensor:
        """Adds the soft overlong penalty to `[B, G]` rewards given `[B, G]` completion lengths."""
        buffer_len = round(self.overlong_buffer_fraction * max_len)
        return rewards + overlong_penalty(lengths, max_len, buffer_len, self.overlong_penalty_factor).to(
            rewards
        )
