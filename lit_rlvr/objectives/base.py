"""What every objective receives and returns, and the base class that makes objectives selectable."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

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
    #: Advantages per token from `token_advantages(rewards, mask, kl=, values=)` (PPO, REINFORCE++)
    #: instead of per sequence from `advantages(rewards)`.
    uses_token_advantages: bool = False
    #: The critic the module must build (`lit_rlvr.critics`): per token (PPO), per prompt (SPPO), none.
    critic_kind: Literal["token", "prompt"] | None = None
    #: Rollouts at the start of training that update only the critic.
    critic_warmup_steps: int = 0
    #: Dynamic sampling (DAPO): the most generation rounds the rollout callback may spend filling a
    #: batch with groups that `keep_groups` keeps.
    max_sampling_rounds: int = 1
    #: SSPO's subsentence delimiters; the module passes `completion_ids` and a `[V]` lookup when set.
    delimiters: tuple[str, ...] = ()

    @property
    def needs_reference(self) -> bool:
        """Whether a frozen reference model must be loaded."""
        return False

    @property
    def kl_in_reward(self) -> bool:
        """Whether the advantage needs the rollout's per-token KL to the reference (so `logp_old`)."""
        return False

    def advantages(self, rewards: Tensor) -> Tensor:
        """Maps rewards `[B, G]` to sequence advantages `[B, G]`."""
        raise NotImplementedError

    def keep_groups(self, rewards: Tensor, correct: Tensor) -> Tensor | None:
        """Dynamic sampling filter: `[B, G]` rewards and correctness -> `[B]` bool, or None: keep all."""
        return None

    def shape_rewards(self, rewards: Tensor, lengths: Tensor, max_len: int) -> Tensor:
        """Reward shaping after verification (DAPO's overlong penalty); `[B, G]` in and out."""
        return rewards

    def observe_kl(self, sequence_kl: Tensor) -> None:
        """Called after each rollout with its `[N]` summed per-sequence KL (PPO's adaptive beta)."""

    def state_dict(self) -> dict[str, Any]:
        """State that changes during training and belongs in the checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict()`."""

    def __call__(self, batch: PolicyBatch) -> ObjectiveOutput:
        raise NotImplementedError
