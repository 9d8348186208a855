"""Advantage estimators against naive per-sequence loops on ragged batches."""

import math

import pytest
import torch

from lit_rlvr.advantages import gae, masked_whiten, outcome_token_rewards, reinforce_pp_advantages

GEN = torch.Generator().manual_seed(0)


def ragged(n=5, width=6, holes=True):
    lengths = torch.tensor([6, 1, 4, 0, 3][:n])
    mask = torch.arange(width)[None] < lengths[:, None]
    if holes:
        mask[0, 2] = False  # an interior hole (e.g. a tool-output token) must be skipped, not zeroed
    return mask


def gae_loop(token_rewards, values, mask, gamma, lam):
    advantages = torch.zeros_like(values)
    for i in range(len(mask)):
        index = mask[i].nonzero().flatten().tolist()
        running = 0.0
        for k in reversed(range(len(index))):
            next_value = values[i, index[k + 1]] if k + 1 < len(index) else 0.0
            t = index[k]
            running = token_rewards[i, t] + gamma * next_value - values[i, t] + gamma * lam * running
            advantages[i, t] = running
    return advantages


@pytest.mark.parametrize(("gamma", "lam"), [(1.0, 1.0), (0.9, 0.95), (1.0, 0.0)])
def test_gae_matches_a_reference_loop(gamma, lam):
    mask = ragged()
    token_rewards = torch.randn(mask.shape, generator=GEN, dtype=torch.float64)
    values = torch.randn(mask.shape, generator=GEN, dtype=torch.float64)
    garbage = values.masked_fill(~mask, 1e9)
    out = gae(token_rewards, garbage, mask, gamma=gamma, lam=lam)
    expected = gae_loop(token_rewards, values, mask, gamma, lam)
    assert torch.allclose(out.advantages, expected)
    assert torch.allclose(out.returns, torch.where(mask, expected + values, 0.0))


def test_gae_by_hand():
    # Rewards (0, 0, 1), values (0.5, 0.6, 0.8), gamma = 1, lam = 1: A_t = R - V_t; lam = 0: one-step TD.
    rewards, values, mask = (
        torch.tensor([[0.0, 0, 1]]),
        torch.tensor([[0.5, 0.6, 0.8]]),
        torch.ones(1, 3, dtype=bool),
    )
    assert torch.allclose(
        gae(rewards, values, mask, gamma=1, lam=1).advantages, torch.tensor([[0.5, 0.4, 0.2]])
    )
    assert torch.allclose(
        gae(rewards, values, mask, gamma=1, lam=0).advantages, torch.tensor([[0.1, 0.2, 0.2]])
    )


def test_outcome_reward_sits_on_the_last_token():
    mask = ragged(holes=False)
    out = outcome_token_rewards(torch.arange(1.0, 6.0), mask)
    assert out.tolist() == [
        [0, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 0],
        [0, 0, 0, 3, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 5, 0, 0, 0],
    ]


def test_masked_whiten_matches_a_loop():
    mask = ragged()
    values = torch.randn(mask.shape, generator=GEN, dtype=torch.float64)
    selected = [values[i, t].item() for i in range(len(mask)) for t in range(mask.shape[1]) if mask[i, t]]
    mean = sum(selected) / len(selected)
    std = math.sqrt(sum((x - mean) ** 2 for x in selected) / (len(selected) - 1))
    expected = torch.where(mask, (values - mean) / std, 0.0)
    assert torch.allclose(masked_whiten(values.masked_fill(~mask, float("inf")), mask), expected, atol=1e-7)


@pytest.mark.parametrize("baseline", [False, True])
def test_reinforce_pp_matches_a_loop(baseline):
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)  # B = 3, G = 2
    mask = torch.arange(4)[None] < torch.tensor([4, 2, 3, 1, 4, 2])[:, None]
    kl = torch.rand(mask.shape, generator=GEN, dtype=torch.float64)
    beta = 0.1
    flat = rewards.flatten()
    raw = torch.zeros(mask.shape, dtype=torch.float64)
    for i in range(6):
        n = int(mask[i].sum())
        if baseline:
            score = lambda j: flat[j] - beta * kl[j, : int(mask[j].sum())].sum()  # noqa: E731
            group = [2 * (i // 2), 2 * (i // 2) + 1]
            raw[i, :n] = score(i) - sum(score(j) for j in group) / 2
        else:
            for t in range(n):
                raw[i, t] = flat[i] - beta * kl[i, t:n].sum()  # KL-shaped reward-to-go
    expected = masked_whiten(raw, mask)
    out = reinforce_pp_advantages(rewards, mask, kl=kl, kl_coef=beta, baseline=baseline)
    assert torch.allclose(out, expected)
    assert out[mask].mean().abs() < 1e-12 and out[mask].std().item() == pytest.approx(1.0)
