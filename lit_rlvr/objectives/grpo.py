"""GRPO: PPO's clipped token-ratio surrogate with a group-normalised outcome advantage and no critic.

Shao et al. 2024, "DeepSeekMath", arXiv 2402.03300, eq. (3) and section 4.1.2. The paper's
objective is `seq_mean_token_mean` aggregation, a symmetric clip and k3 KL in the loss with
beta = 0.04; here aggregation, the two clip bounds, std scaling and the KL estimator are separate
knobs, with defaults of current practice (beta = 0, as TRL and verl default to; no reference model
is loaded then).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_rlvr.advantages import group_normalized_advantages
from lit_rlvr.aggregation import Aggregation, aggregate, masked_mean
from lit_rlvr.kl import KLEstimator, kl_estimate
from lit_rlvr.objectives.base import Objective, ObjectiveOutput, PolicyBatch
from lit_rlvr.objectives.surrogate import clipped_surrogate, surrogate_metrics


def grpo_loss(
    batch: PolicyBatch,
    *,
    clip_low: float,
    clip_high: float,
    aggregation: Aggregation,
    kl_coef: float,
    kl_estimator: KLEstimator,
    entropy_coef: float = 0.0,
    dual_clip: float | None = None,
) -> ObjectiveOutput:
    """`agg(-min(r A, clip(r) A) + beta KL(pi || pi_ref) - c_H H)` over the micro-batch.

    Args:
        batch: the micro-batch, every tensor `[N, T]`.
        clip_low: eps_low of the ratio clip.
        clip_high: eps_high of the ratio clip.
        aggregation: how tokens and sequences are averaged.
        kl_coef: beta; 0 disables the KL term.
        kl_estimator: which per-token KL estimate.
        entropy_coef: c_H of the entropy bonus.
        dual_clip: c of dual-clip PPO, capping the loss of A < 0 tokens at -c A; None disables it.
    """
    assert batch.logp.shape == batch.logp_old.shape == batch.advantages.shape == batch.mask.shape
    log_ratio = batch.logp - batch.logp_old
    surrogate = clipped_surrogate(
        log_ratio, batch.advantages, clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip
    )
    loss = surrogate.loss
    metrics = surrogate_metrics(surrogate, log_ratio, batch.mask)
    if kl_coef > 0:
        assert batch.ref_logp is not None, "kl_coef > 0 needs reference log-probs"
        # Padding is zeroed first: inf there would make k2's square or k3's exp NaN in the gradient.
        kl = kl_estimate(
            torch.where(batch.mask, batch.logp, 0.0),
            torch.where(batch.mask, batch.ref_logp, 0.0),
            kl_estimator,
        )
        loss = loss + kl_coef * kl
        metrics["objective/kl_ref"] = masked_mean(kl.detach(), batch.mask)
    if entropy_coef > 0:
        loss = loss - entropy_coef * batch.entropy
    metrics["objective/entropy"] = masked_mean(batch.entropy.detach(), batch.mask)
    return ObjectiveOutput(aggregate(loss, batch.mask, aggregation, batch.norm), metrics)


class GRPO(Objective):
    """Group Relative Policy Optimization.

    Args:
        clip_low: eps_low, the ratio's lower clip is `1 - clip_low`.
        clip_high: eps_high, the ratio's upper clip is `1 + clip_high`.
        scale_by_std: divide group-centred rewards by the group std (False: Dr. GRPO's advantage).
        aggregation: loss aggregation over tokens and sequences.
        kl_coef: beta of the KL-to-reference term in the loss; > 0 loads a frozen reference model.
        kl_estimator: per-token KL estimator (k3 in the paper).
        entropy_coef: weight of the entropy bonus.
    """

    min_samples_per_prompt = 2

    def __init__(
        self,
        *,
        clip_low: float = 0.2,
        clip_high: float = 0.2,
        scale_by_std: bool = True,
        aggregation: Aggregation = "seq_mean_token_mean",
        kl_coef: float = 0.0,
        kl_estimator: KLEstimator = "k3",
        entropy_coef: float = 0.0,
    ) -> None:
        for name, value in (("clip_low", clip_low), ("clip_high", clip_high)):
            if not 0.0 < value < 1.0:
                raise ValueError(f"{type(self).__name__}: {name} must be in (0, 1), got {value}")
        if kl_coef < 0 or entropy_coef < 0:
            raise ValueError(f"{type(self).__name__}: kl_coef and entropy_coef must be >= 0")
        self.clip_low = clip_low
        self.clip_high = clip_high
        self.scale_by_std = scale_by_std
        self.aggregation = aggregation
        self.kl_coef = kl_coef
        self.kl_estimator = kl_estimator
        self.entropy_coef = entropy_coef

    @property
    def needs_reference(self) -> bool:
        return self.kl_coef > 0

    def advantages(self, rewards: Tensor) -> Tensor:
        return group_normalized_advantages(rewards, scale_by_std=self.scale_by_std)

    def __call__(self, batch: PolicyBatch) -> ObjectiveOutput:
        return grpo_loss(
            batch,
            clip_low=self.clip_low,
            clip_high=self.clip_high,
            aggregation=self.aggregation,
            kl_coef=self.kl_coef,
            kl_estimator=self.kl_estimator,
            entropy_coef=self.entropy_coef,
        )
