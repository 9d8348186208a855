"""The critics' losses and metrics: PPO's clipped token-value regression, SPPO's prompt-value BCE."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lit_rlvr.aggregation import Aggregation, LossNorm, aggregate, masked_mean
from lit_rlvr.objectives.base import ObjectiveOutput


def clipped_value_loss(
    values: Tensor,
    values_old: Tensor,
    returns: Tensor,
    mask: Tensor,
    *,
    clip_range: float | None,
    aggregation: Aggregation,
    norm: LossNorm,
) -> ObjectiveOutput:
    """`agg(1/2 max((V - R)^2, (clip(V, V_old - c, V_old + c) - R)^2))` and the critic's metrics.

    Args:
        values: `[N, T]` the critic's values now, with grad.
        values_old: `[N, T]` its values at rollout time.
        returns: `[N, T]` GAE returns.
        mask: `[N, T]` bool.
        clip_range: c, or None for the plain squared error.
        aggregation: loss aggregation.
        norm: mini-batch normalisers.
    """
    values = torch.where(mask, values, 0.0)
    values_old = torch.where(mask, values_old, 0.0)
    returns = torch.where(mask, returns, 0.0)
    loss = 0.5 * (values - returns).square()
    clipped = torch.zeros_like(mask)
    if clip_range is not None:
        values_clipped = values_old + (values - values_old).clamp(-clip_range, clip_range)
        loss_clipped = 0.5 * (values_clipped - returns).square()
        clipped = loss_clipped > loss
        loss = torch.maximum(loss, loss_clipped)
    reduced = aggregate(loss, mask, aggregation, norm)
    residual = (returns - values.detach())[mask]
    explained = 1 - residual.var(correction=0) / returns[mask].var(correction=0).clamp(min=1e-8)
    return ObjectiveOutput(
        reduced,
        {
            "critic/value_loss": reduced.detach(),
            "critic/value_clip_frac": masked_mean(clipped.float(), mask),
            "critic/value_mean": masked_mean(values.detach(), mask),
            "critic/return_mean": masked_mean(returns, mask),
            "critic/explained_variance": explained if residual.numel() > 1 else explained.new_zeros(()),
        },
    )


def bce_value_loss(value_logits: Tensor, rewards: Tensor) -> Tensor:
    """The prompt critic's loss: mean binary cross-entropy of `sigmoid(logit)` against R in [0, 1].

    Args:
        value_logits: `[B]` logits, with grad.
        rewards: `[B]` or `[B, G]` rewards; with G > 1 each sample is one target for its prompt.
    """
    if rewards.numel() and (rewards.min() < 0 or rewards.max() > 1):
        raise ValueError(
            f"SequencePPO's critic is trained with BCE and needs rewards in [0, 1], got "
            f"[{rewards.min().item()}, {rewards.max().item()}]; map the task's rewards to [0, 1]"
        )
    logits = value_logits.view(-1, *([1] * (rewards.dim() - 1))).expand_as(rewards)
    return F.binary_cross_entropy_with_logits(logits, rewards.to(logits.dtype))


def prompt_critic_metrics(value_logits: Tensor, rewards: Tensor) -> dict[str, Tensor]:
    """Calibration of the prompt critic on one batch: predicted success against observed reward.

    Args:
        value_logits: `[B]` logits (before the critic's update).
        rewards: `[B]` or `[B, G]` rewards in [0, 1].
    """
    values = value_logits.detach().sigmoid().view(-1, *([1] * (rewards.dim() - 1))).expand_as(rewards)
    rewards = rewards.to(values.dtype)
    reward_var = rewards.var(correction=0)
    explained = 1 - (rewards - values).var(correction=0) / reward_var.clamp(min=1e-8)
    return {
        "critic/value_mean": values.mean(),
        "critic/reward_mean": rewards.mean(),
        "critic/calibration_gap": values.mean() - rewards.mean(),  # > 0: the critic is optimistic
        "critic/brier": (values - rewards).square().mean(),
        # 1 - Var(R - V) / Var(R); 0 when the rewards are all equal and there is nothing to explain.
        "critic/explained_variance": torch.where(reward_var > 0, explained, 0.0),
    }
