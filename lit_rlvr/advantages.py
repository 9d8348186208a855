"""Advantage estimators over a `[B, G]` reward matrix (B prompts, G samples each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

#: Sums a tensor over the data-parallel processes, so that batch-wide statistics cover the global
#: batch; None: this process's batch is the whole batch.
ReduceSum = Callable[[Tensor], Tensor] | None


def group_normalized_advantages(rewards: Tensor, *, scale_by_std: bool = True, eps: float = 1e-6) -> Tensor:
    """GRPO's outcome advantage (DeepSeekMath eq. 4.1.2): `(r - mean_group) / (std_group + eps)`.

    Args:
        rewards: `[B, G]` rewards.
        scale_by_std: divide by the group's standard deviation (Bessel-corrected, as verl and TRL);
            False gives Dr. GRPO's `r - mean_group`.
        eps: keeps groups whose rewards are all equal at advantage 0 instead of NaN.

    Returns:
        `[B, G]` advantages.
    """
    centered = rewards - rewards.mean(dim=1, keepdim=True)
    if not scale_by_std:
        return centered
    return centered / (rewards.std(dim=1, keepdim=True) + eps)


def leave_one_out_advantages(rewards: Tensor) -> Tensor:
    """RLOO (Ahmadian et al. 2024, arXiv 2402.14740): `r_i - mean_{j != i} r_j = G / (G - 1) (r_i - mean)`.

    Args:
        rewards: `[B, G]` rewards, G >= 2.

    Returns:
        `[B, G]` advantages.
    """
    group_size = rewards.shape[1]
    assert group_size >= 2, "the leave-one-out baseline needs at least 2 samples per prompt"
    return (rewards - rewards.mean(dim=1, keepdim=True)) * (group_size / (group_size - 1))


def sequence_advantages(rewards: Tensor, value_logits: Tensor) -> Tensor:
    """SPPO's bandit advantage (arXiv 2604.08865): `R - sigmoid(logit(prompt))`, the critic held fixed.

    The logits must come from the critic *before* its update on these rewards, so the baseline
    never depends on the outcome it is compared against; they are detached here.

    Args:
        rewards: `[B]` or `[B, G]` rewards in [0, 1].
        value_logits: `[B]` the prompt critic's logit per prompt.

    Returns:
        advantages, the shape of `rewards`.
    """
    assert value_logits.shape == rewards.shape[:1], f"{value_logits.shape} logits for rewards {rewards.shape}"
    values = value_logits.detach().sigmoid()
    return rewards - values.view(-1, *([1] * (rewards.dim() - 1)))


class Advantages(NamedTuple):
    """Per-token advantages `[N, T]` (0 under the mask) and the targets a critic learns from."""

    advantages: Tensor
    returns: Tensor | None  # [N, T] GAE returns (token critic), [B, G] rewards (prompt critic), or None


def outcome_token_rewards(rewards: Tensor, mask: Tensor) -> Tensor:
    """Puts each sequence's outcome reward on its last completion token, 0 elsewhere.

    Args:
        rewards: `[N]` one reward per sequence.
        mask: `[N, T]` bool, True on completion tokens.

    Returns:
        `[N, T]` token rewards.
    """
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask, positions, -1).amax(dim=1, keepdim=True)  # [N, 1]; -1 for an empty row
    return torch.where(positions == last, rewards[:, None], 0.0)


def gae(token_rewards: Tensor, values: Tensor, mask: Tensor, *, gamma: float, lam: float) -> Advantages:
    """Generalised advantage estimation (Schulman et al. 2016, arXiv 1506.02438, eq. 16).

    `delta_t = r_t + gamma V(s_{t+1}) - V(s_t)`, `A_t = sum_l (gamma lam)^l delta_{t+l}`, returns
    `A_t + V(s_t)`. Masked positions are skipped (the next value is that of the next unmasked token;
    0 after the last), so padding anywhere leaves the result unchanged.

    Args:
        token_rewards: `[N, T]` per-token rewards.
        values: `[N, T]` V(s_t) of the critic at each completion position.
        mask: `[N, T]` bool, True on completion tokens.
        gamma: discount.
        lam: GAE lambda.
    """
    token_rewards = torch.where(mask, token_rewards.detach(), 0.0)
    values = torch.where(mask, values.detach(), 0.0)
    advantages = torch.zeros_like(values)
    next_value = values.new_zeros(values.shape[0])  # [N]
    next_advantage = values.new_zeros(values.shape[0])  # [N]
    for t in reversed(range(values.shape[1])):
        delta = token_rewards[:, t] + gamma * next_value - values[:, t]
        advantage = delta + gamma * lam * next_advantage
        next_value = torch.where(mask[:, t], values[:, t], next_value)
        next_advantage = torch.where(mask[:, t], advantage, next_advantage)
        advantages[:, t] = advantage
    advantages = torch.where(mask, advantages, 0.0)
    return Advantages(advantages, torch.where(mask, advantages + values, 0.0))


def masked_whiten(values: Tensor, mask: Tensor, eps: float = 1e-8, *, reduce_sum: ReduceSum = None) -> Tensor:
    """`(x - mean) / sqrt(var + eps)` over the masked entries (Bessel-corrected, as verl); 0 elsewhere.

    Args:
        values: `[N, T]`.
        mask: `[N, T]` bool.
        eps: keeps a batch of equal values at 0 instead of NaN.
        reduce_sum: with several processes, the moments are those of every process's entries
            (a count and a sum, then the centred sum of squares: two small all-reduces).
    """
    selected = values[mask]
    if reduce_sum is None:
        if selected.numel() < 2:
            return torch.zeros_like(values)
        mean, var = selected.mean(), selected.var()
    else:
        wide = selected.double()
        count, total = reduce_sum(torch.stack([wide.new_tensor(wide.numel()), wide.sum()]))
        if count < 2:
            return torch.zeros_like(values)
        mean = total / count
        var = reduce_sum((wide - mean).square().sum()) / (count - 1)
        mean, var = mean.to(values.dtype), var.to(values.dtype)
    whitened = (values - mean) * torch.rsqrt(var + eps)
    return torch.where(mask, whitened, 0.0)


def kl_penalized_rewards(rewards: Tensor, mask: Tensor, kl: Tensor | None, kl_coef: float) -> Tensor:
    """The KL in the reward (PPO's, REINFORCE++'s): `[N, T]` outcome rewards on each sequence's last
    token, minus `kl_coef` times the rollout's `[N, T]` per-token KL to the reference.

    Args:
        rewards: `[B, G]` outcome rewards.
        mask: `[N, T]` bool, rows ordered prompt-major (`rewards.flatten()`).
        kl: `[N, T]` per-token KL at rollout time; needed when `kl_coef > 0`.
        kl_coef: beta; 0 ignores `kl`.
    """
    token_rewards = outcome_token_rewards(rewards.flatten(), mask)  # [N, T]
    if kl_coef > 0:
        if kl is None:
            raise ValueError("the KL in the reward (kl_coef > 0) needs the rollout's per-token KL")
        token_rewards = token_rewards - kl_coef * torch.where(mask, kl, 0.0)
    return token_rewards


def reinforce_pp_advantages(
    rewards: Tensor,
    mask: Tensor,
    *,
    kl: Tensor | None,
    kl_coef: float,
    baseline: bool,
    reduce_sum: ReduceSum = None,
) -> Tensor:
    """REINFORCE++ (Hu et al. 2025, arXiv 2501.03262, section 3): KL-shaped return, whitened over the batch.

    Without baseline: `A_t = R - beta sum_{s >= t} KL_s` (gamma = 1, no critic). With baseline
    (REINFORCE++-baseline): the sequence score `R - beta sum_s KL_s` minus its group mean, on every
    token. Either way the result is whitened over all completion tokens of the batch, as verl does.

    Args:
        rewards: `[B, G]` outcome rewards.
        mask: `[N, T]` bool, N = B * G, rows ordered prompt-major (`rewards.flatten()`).
        kl: `[N, T]` per-token KL to the reference at rollout time (k1), or None.
        kl_coef: beta; 0 ignores `kl`.
        baseline: subtract the group mean of the scores (needs G >= 2).
        reduce_sum: whiten over every process's batch (see `masked_whiten`).

    Returns:
        `[N, T]` advantages, 0 under the mask.
    """
    token_rewards = kl_penalized_rewards(rewards, mask, kl, kl_coef)  # [N, T]
    if baseline:
        scores = token_rewards.sum(dim=1).view(rewards.shape)  # [B, G]
        centered = group_normalized_advantages(scores, scale_by_std=False).flatten()  # [N]
        returns = centered[:, None].expand_as(token_rewards)
    else:
        returns = token_rewards.flip(1).cumsum(1).flip(1)  # reward-to-go, gamma = 1
    return masked_whiten(returns, mask, reduce_sum=reduce_sum)
