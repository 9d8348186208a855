"""What every objective receives and returns, and the base class that makes objectives selectable."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

from lit_rlvr.advantages import Advantages, ReduceSum, group_normalized_advantages
from lit_rlvr.aggregation import LossNorm


class PolicyBatch(NamedTuple):
    """One micro-batch as an objective sees it: `N` sequences, `T` completion positions."""

    logp: Tensor  # [N, T] log pi_theta(y_t | x, y_<t), with grad
    logp_old: Tensor  # [N, T] under the policy that sampled the rollout
    ref_logp: Tensor | None  # [N, T] under the frozen reference; None when no objective KL
    advantages: Tensor  # [N, T] per token (sequence advantages broadcast over tokens)
    mask: Tensor  # [N, T] bool, True on completion tokens up to and including EOS
    entropy: Tensor  # [N, T] entropy of pi_theta at each position
    norm: LossNorm
    completion_ids: Tensor | None = None  # [N, T] long, the sampled tokens (SSPO cuts them into segments)
    weights: Tensor | None = None  # [N, T] constant loss weights, the sampler correction (lit_rlvr.mismatch)


class ObjectiveOutput(NamedTuple):
    """The micro-batch's share of the loss and detached scalar metrics keyed `objective/...`."""

    loss: Tensor
    metrics: dict[str, Tensor]


def require_in_range(owner: object, low: float, high: float, **knobs: float | None) -> None:
    """Raises naming the first knob outside the open interval `(low, high)`; None values are skipped."""
    for knob, value in knobs.items():
        if value is not None and not low < value < high:
            raise ValueError(f"{type(owner).__name__}: {knob} must be in ({low:g}, {high:g}), got {value}")


def require_non_negative(owner: object, **knobs: float) -> None:
    """Raises naming the first knob below 0."""
    for knob, value in knobs.items():
        if value < 0:
            raise ValueError(f"{type(owner).__name__}: {knob} must be >= 0, got {value}")


class Objective:
    """Base of every objective. The package imports each subclass; that import list is the registry.

    The module calls, per rollout: `shape_rewards`, then `advantages` (the one advantage entry point,
    also what the critics learn from), then the objective itself on each micro-batch.
    """

    #: The fewest samples per prompt the advantage estimator works with.
    min_samples_per_prompt: int = 1
    #: c_H of the entropy bonus; an objective with the knob sets it (0: the entropy is only logged).
    entropy_coef: float = 0.0
    #: The critic the module must build (`lit_rlvr.critics`): per token (PPO), per prompt (SPPO), none.
    critic_kind: Literal["token", "prompt"] | None = None
    #: Rollouts at the start of training that update only the critic.
    critic_warmup_steps: int = 0
    #: Dynamic sampling (DAPO): the most generation rounds the rollout callback may spend filling a
    #: batch with groups that `keep_groups` keeps.
    max_sampling_rounds: int = 1

    @property
    def needs_reference(self) -> bool:
        """Whether a frozen reference model must be loaded."""
        return False

    @property
    def entropy_in_loss(self) -> bool:
        """Whether the loss differentiates the policy's entropy (an entropy bonus); else it is only logged."""
        return self.entropy_coef > 0

    @property
    def kl_in_reward(self) -> bool:
        """Whether the advantage needs the rollout's per-token KL to the reference (so `logp_old`)."""
        return False

    def setup(self, tokenizer: Any, vocab_size: int) -> None:
        """Called once by the module with the policy's tokenizer and embedding rows (SSPO's delimiters)."""

    @classmethod
    def check_samples_per_prompt(cls, samples_per_prompt: int) -> None:
        """Refuses a G the advantage cannot use; the CLI calls it at parse time, the callback at setup."""
        if samples_per_prompt < cls.min_samples_per_prompt:
            raise ValueError(
                f"model.objective={cls.__name__} needs rollout.engine.samples_per_prompt >= "
                f"{cls.min_samples_per_prompt} (its advantage compares samples of one prompt), "
                f"got {samples_per_prompt}"
            )

    def sequence_advantages(self, rewards: Tensor) -> Tensor:
        """`[B, G]` rewards -> one advantage per sequence `[B, G]`; GRPO's group-normalised by default."""
        return group_normalized_advantages(rewards)

    def advantages(
        self,
        rewards: Tensor,
        mask: Tensor,
        *,
        kl: Tensor | None = None,
        values: Tensor | None = None,
        reduce_sum: ReduceSum = None,
    ) -> Advantages:
        """The advantage of every completion token, and the targets a critic learns from.

        Args:
            rewards: `[B, G]` shaped rewards.
            mask: `[N, T]` bool completion mask, rows ordered prompt-major (`rewards.flatten()`).
            kl: `[N, T]` per-token KL to the reference at rollout time, when `kl_in_reward`.
            values: the critic's estimates at rollout time: `[N, T]` per token (`critic_kind`
                token) or `[B]` logits per prompt (prompt); None without a critic.
            reduce_sum: sums a tensor over the data-parallel processes, for statistics of the
                whole batch (PPO's and REINFORCE++'s whitening); None in one process. Groups never
                straddle processes, so group statistics need none.

        Returns:
            `[N, T]` advantages (sequence advantages broadcast over tokens here) and the critic's
            targets (None without a critic).
        """
        assert rewards.numel() == len(mask), f"rewards {tuple(rewards.shape)} for {len(mask)} sequences"
        sequence = self.sequence_advantages(rewards).reshape(-1)  # [N]
        return Advantages(sequence[:, None].expand(mask.shape), None)

    def keep_groups(self, rewards: Tensor, correct: Tensor) -> Tensor | None:
        """Dynamic sampling filter: `[B, G]` rewards and correctness -> `[B]` bool, or None: keep all."""
        return None

    def shape_rewards(self, rewards: Tensor, lengths: Tensor, max_len: int) -> Tensor:
        """Reward shaping after verification (DAPO's overlong penalty); `[B, G]` in and out."""
        return rewards

    def observe_kl(self, sequence_kl: Tensor) -> None:
        """Called after the advantages with the `[N]` summed per-sequence KL (PPO's adaptive beta)."""

    def state_dict(self) -> dict[str, Any]:
        """State that changes during training and belongs in the checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict()`."""

    def __call__(self, batch: PolicyBatch) -> ObjectiveOutput:
        """`loss` on one micro-batch, computed in float32 at least: bfloat16 or float16 inputs are upcast.

        In bfloat16 a log-prob of -2 carries about 2 significant digits, so `exp(logp - logp_old)`
        would be off by about 1% and clip decisions would flip on rounding alone.
        """
        low = (torch.bfloat16, torch.float16)
        upcast = {
            field: value.float()
            for field, value in batch._asdict().items()
            if torch.is_tensor(value) and value.dtype in low
        }
        return self.loss(batch._replace(**upcast))

    def loss(self, batch: PolicyBatch) -> ObjectiveOutput:
        """The micro-batch's share of the mini-batch loss and its `objective/` metrics."""
        raise NotImplementedError
