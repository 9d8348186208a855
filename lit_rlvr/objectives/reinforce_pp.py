"""REINFORCE++ and REINFORCE++-baseline: critic-free PPO-clip with batch-whitened advantages.

Hu et al. 2025, "REINFORCE++", arXiv 2501.03262, section 3. REINFORCE++: one sample per prompt, the
k1 KL to the reference in the reward, `A_t = R - beta sum_{s >= t} KL_s` (GAE with gamma = lam = 1
and no critic), whitened over all tokens of the batch, token-ratio PPO clip 0.2. REINFORCE++-
baseline: several samples per prompt, the group mean subtracted before the batch whitening (not
the group std), and the KL as a k2 term in the loss. Both placements are knobs of both variants;
the advantage is per token, as PPO's.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from lit_rlvr.advantages import Advantages, ReduceSum, reinforce_pp_advantages
from lit_rlvr.aggregation import Aggregation
from lit_rlvr.kl import KLEstimator
from lit_rlvr.objectives.surrogate import ClippedObjective


class REINFORCEPP(ClippedObjective):
    """REINFORCE++ (no baseline): KL-shaped reward-to-go, whitened over the batch.

    Args:
        clip_low: eps_low, the ratio's lower clip is `1 - clip_low`.
        clip_high: eps_high, the ratio's upper clip is `1 + clip_high`.
        aggregation: loss aggregation.
        kl_placement: `reward` (shapes the return) or `loss` (a term in the loss).
        kl_coef: beta; 0 disables the KL and the reference model.
        kl_estimator: per-token KL estimator (the paper: k1 in the reward, k2 in the loss).
        entropy_coef: weight of the entropy bonus.
    """

    baseline = False

    def __init__(
        self,
        *,
        clip_low: float = 0.2,
        clip_high: float = 0.2,
        aggregation: Aggregation = "token_mean",
        kl_placement: Literal["reward", "loss"] = "reward",
        kl_coef: float = 0.001,
        kl_estimator: KLEstimator = "k1",
        entropy_coef: float = 0.0,
    ) -> None:
        super().__init__(
            clip_low=clip_low,
            clip_high=clip_high,
            aggregation=aggregation,
            kl_coef=kl_coef,
            kl_estimator=kl_estimator,
            entropy_coef=entropy_coef,
        )
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
    """REINFORCE++-baseline: group-mean baseline, then batch whitening; k2 KL in the loss by default.

    Args: those of `REINFORCEPP`, with the paper's defaults for this variant.
    """

    min_samples_per_prompt = 2
    baseline = True

    def __init__(
        self,
        *,
        clip_low: float = 0.2,
        clip_high: float = 0.2,
        aggregation: Aggregation = "token_mean",
        kl_placement: Literal["reward", "loss"] = "loss",
        kl_coef: float = 0.001,
        kl_estimator: KLEstimator = "k2",
        entropy_coef: float = 0.0,
    ) -> None:
        super().__init__(
            clip_low=clip_low,
            clip_high=clip_high,
            aggregation=aggregation,
            kl_placement=kl_placement,
            kl_coef=kl_coef,
            kl_estimator=kl_estimator,
            entropy_coef=entropy_coef,
        )
