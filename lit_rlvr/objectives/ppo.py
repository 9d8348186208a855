"""PPO with a token-value critic and GAE: the token-level MDP that RLHF started from.

Schulman et al. 2017, "Proximal Policy Optimization Algorithms", arXiv 1707.06347, eq. 7 (clipped
surrogate) and eq. 9 (value loss); GAE from arXiv 1506.02438, eq. 16; dual-clip from Ye et al. 2020,
arXiv 1912.09729. The outcome reward sits on the last token; with the KL in the reward, every token
also gets `-beta KL_t` (Ziegler et al. 2019; k1, beta fixed or adapted to a target), or else the
KL goes in the loss as GRPO's. The value loss is clipped around the rollout's values, as in verl
and OpenAI baselines. Defaults are verl's (gamma = lam = 1, eps 0.2, dual-clip 3, value clip 0.5,
token-mean, advantages whitened over the batch). The critic model is not an objective knob.
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor

from lit_rlvr.advantages import Advantages, ReduceSum, gae, kl_penalized_rewards, masked_whiten
from lit_rlvr.aggregation import LossNorm
from lit_rlvr.kl import KLEstimator
from lit_rlvr.objectives.base import ObjectiveOutput
from lit_rlvr.objectives.kl_control import AdaptiveKLController
from lit_rlvr.objectives.surrogate import ClippedObjective
from lit_rlvr.objectives.value_losses import clipped_value_loss


class PPO(ClippedObjective):
    """Token-level PPO with GAE over the token critic's values; the other knobs are
    `ClippedObjective`'s (its `aggregation` also aggregates the value loss).

    Args:
        dual_clip: c > 1 of dual-clip PPO for negative advantages; None disables it.
        gamma: GAE discount.
        lam: GAE lambda.
        whiten_advantages: standardise advantages over the batch's tokens.
        value_clip: the critic's values may move at most this far from the rollout's before the
            loss stops rewarding it; None disables value clipping.
        kl_placement: `reward` (per-token penalty before GAE) or `loss` (GRPO-style term).
        kl_coef: beta (the initial beta when adaptive); 0 disables the KL and the reference model.
        kl_estimator: per-token KL estimator (k1 is the classic reward penalty).
        kl_target: adapt beta towards this KL per sequence (reward placement only); None: fixed.
        kl_horizon: samples over which an adaptive beta changes by at most 20%.
        critic_warmup_steps: steps at the start that train only the critic.
    """

    critic_kind = "token"

    def __init__(
        self,
        *,
        dual_clip: float | None = 3.0,
        gamma: float = 1.0,
        lam: float = 1.0,
        whiten_advantages: bool = True,
        value_clip: float | None = 0.5,
        kl_placement: Literal["reward", "loss"] = "reward",
        kl_coef: float = 0.001,
        kl_estimator: KLEstimator = "k1",
        kl_target: float | None = None,
        kl_horizon: int = 10000,
        critic_warmup_steps: int = 0,
        **knobs: Any,
    ) -> None:
        super().__init__(kl_coef=kl_coef, kl_estimator=kl_estimator, dual_clip=dual_clip, **knobs)
        checks = [
            (
                0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0,
                f"gamma and lam must be in [0, 1], got {gamma}, {lam}",
            ),
            (value_clip is None or value_clip > 0, f"value_clip must be > 0 or None, got {value_clip}"),
            (
                kl_target is None or kl_placement == "reward",
                "kl_target adapts beta only with kl_placement=reward",
            ),
            (critic_warmup_steps >= 0, f"critic_warmup_steps must be >= 0, got {critic_warmup_steps}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"{type(self).__name__}: {message}")
        self.gamma = gamma
        self.lam = lam
        self.whiten_advantages = whiten_advantages
        self.value_clip = value_clip
        self.kl_placement = kl_placement
        self.kl_controller = AdaptiveKLController(init_coef=kl_coef, target=kl_target, horizon=kl_horizon)
        self.critic_warmup_steps = critic_warmup_steps

    @property
    def kl_in_reward(self) -> bool:
        return self.kl_placement == "reward" and self.kl_coef > 0

    def observe_kl(self, sequence_kl: Tensor) -> None:
        self.kl_controller.update(float(sequence_kl.mean()), len(sequence_kl))

    def state_dict(self) -> dict[str, float]:
        return {"kl_controller": self.kl_controller.state_dict()}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.kl_controller.load_state_dict(state["kl_controller"])

    def advantages(
        self,
        rewards: Tensor,
        mask: Tensor,
        *,
        kl: Tensor | None = None,
        values: Tensor | None = None,
        reduce_sum: ReduceSum = None,
    ) -> Advantages:
        """GAE advantages and returns, `[N, T]`, from `[B, G]` rewards and the rollout's `[N, T]` values.

        `kl` is the rollout's per-token `kl_estimator` KL to the reference, needed with the reward placement.
        """
        if values is None:
            raise ValueError("PPO needs the critic's values at rollout time (its token critic)")
        beta = self.kl_controller.value if self.kl_in_reward else 0.0
        token_rewards = kl_penalized_rewards(rewards, mask, kl, beta)  # [N, T]
        advantages, returns = gae(token_rewards, values, mask, gamma=self.gamma, lam=self.lam)
        if self.whiten_advantages:
            advantages = masked_whiten(advantages, mask, reduce_sum=reduce_sum)
        return Advantages(advantages, returns)

    def token_value_loss(
        self, values: Tensor, values_old: Tensor, returns: Tensor, mask: Tensor, norm: LossNorm
    ) -> ObjectiveOutput:
        """The critic's clipped squared error on one micro-batch (see `clipped_value_loss`)."""
        return clipped_value_loss(
            values,
            values_old,
            returns,
            mask,
            clip_range=self.value_clip,
            aggregation=self.aggregation,
            norm=norm,
        )
