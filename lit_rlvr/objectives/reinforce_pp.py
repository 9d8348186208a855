"""REINFORCE++ and REINFORCE++-baseline: critic-free PPO-clip with batch-whitened advantages.

Hu et al. 2025, "REINFORCE++", arXiv 2501.03262, section 3. REINFORCE++: one sample per prompt, the
k1 KL to the reference in the reward, `A_t = R - beta sum_{s >= t} KL_s` (GAE with gamma = lam = 1
and no critic), whitened over all tokens of the batch, token-ratio PPO clip 0.2. REINFORCE++-
baseline: several samples per prompt, the group mean subtracted before the batch whitening (not
the group std), and the KL as a k2 term in the loss. Both placements are knobs of both variants;
the advantage is per token, as PPO's.
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor

from lit_rlvr.advantages import Advantages, ReduceSum, reinforce_pp_advantages
from lit_rlvr.kl import KLEstimator
from lit_rlvr.objectives.surrogate import ClippedObjective


class REINFORCEPP(ClippedObjective):
    """REINFORCE++ (no baseline): KL-shaped reward-to-go, whitened over the batch; the other knobs
    are `ClippedObjective`'s.

    Args:
        kl_placement: `reward` (shapes the return) or `loss` (a term in the loss).
        kl_coef: beta; 0 disables the KL and the reference model.
        kl_estimator: per-token KL estimator (the paper: k1 in the reward, k2 in the loss).
    """

    baseline = False

    def __init__(
        self,
        *,
        kl_placement: Literal["reward", "loss"] = "reward",
        kl_coef: float = 0.001,
        kl_estimator: KLEstimator = "k1",
        **knobs: Any,
    ) -> None:
        super().__init__(kl_coef=kl_coef, kl_estimator=kl_estimator, **knobs)
        self.kl_placement = kl_placement

    @property
    def kl_in_reward(self) -> bool:
        return self.kl_placement == "reward" and self.kl_coef > 0

    def advantages(
        self,
        rewards: Tensor,
        mask: Tensor,
        *,
        kl: Tensor | None = None,
        values: Tensor | None = None,
        reduce_sum: ReduceSum = None,
    ) -> Advantages:
        """`[N, T]` advantages from `[B, G]` rewards; `kl` `[N, T]` is needed with the reward placement."""
        in_reward = self.kl_coef if self.kl_placement == "reward" else 0.0
        advantages = reinforce_pp_advantages(
            rewards, mask, kl=kl, kl_coef=in_reward, baseline=self.baseline, reduce_sum=reduce_sum
        )
        return Advantages(advantages, None)


class REINFORCEPPBaseline(REINFORCEPP):
    """REINFORCE++-baseline: group-mean baseline, then batch whitening; the k2 KL in the loss by
    default. Its knobs are `REINFORCEPP`'s.

    Args:
        kl_placement: `reward` (shapes the return) or `loss` (a term in the loss).
        kl_estimator: per-token KL estimator.
    """

    min_samples_per_prompt = 2
    baseline = True

    def __init__(
        self,
        *,
        kl_placement: Literal["reward", "loss"] = "loss",
        kl_estimator: KLEstimator = "k2",
        **knobs: Any,
    ) -> None:
        super().__init__(kl_placement=kl_placement, kl_estimator=kl_estimator, **knobs)
