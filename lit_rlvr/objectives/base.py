"""What every objective receives and returns, and the base class that makes objectives selectable."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

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
    # Optional inputs that only some objectives read; every other objective ignores them.
    completion_ids: Tensor | None = None  # [N, T] long, the sampled tokens (SSPO cuts them into segments)
    delimiter_mask: Tensor | None = None  # [V] bool, True for tokens whose text holds a delimiter (SSPO)


class ObjectiveOutput(NamedTuple):
    """The micro-batch's share of the loss and detached scalar metrics keyed `objective/...`."""

    loss: Tensor
    metrics: dict[str, Tensor]


class Objective:
    """Base of every objective. The package imports each subclass; that import list is the registry."""

    #: The fewest samples per prompt the advantage estimator works with.
    min_samples_per_prompt: int = 1

    @property
    def needs_reference(self) -> bool:
        """Whether a frozen reference model must be loaded."""
        return False

    def advantages(self, rewards: Tensor) -> Tensor:
        """Maps rewards `[B, G]` to sequence advantages `[B, G]`."""
        raise NotImplementedError

    def __call__(self, batch: PolicyBatch) -> ObjectiveOutput:
        raise NotImplementedError
