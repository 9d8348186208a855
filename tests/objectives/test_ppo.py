"""Token-level PPO: GAE advantages with the KL in the reward, clipped value loss, adaptive beta."""

import math

import pytest
import torch
from objective_helpers import make_batch

from lit_rlvr.aggregation import LossNorm
from lit_rlvr.objectives import PPO
from lit_rlvr.objectives.kl_control import AdaptiveKLController
from lit_rlvr.objectives.value_losses import clipped_value_loss

MASK = torch.tensor([[True, True, True], [True, False, False]])


def test_advantages_with_kl_in_the_reward():
    # beta 0.1, KL 1 per token: rewards (-0.1, -0.1, 1 - 0.1) and (0 - 0.1 + 0.0) for a 0-reward sequence.
    # gamma = lam = 1, values 0: advantages are rewards-to-go (0.7, 0.8, 0.9) and (-0.1); returns equal them.
    ppo = PPO(kl_coef=0.1, whiten_advantages=False)
    out = ppo.advantages(torch.tensor([[1.0], [0.0]]), MASK, kl=torch.ones(2, 3), values=torch.zeros(2, 3))
    assert torch.allclose(out.advantages, torch.tensor([[0.7, 0.8, 0.9], [-0.1, 0.0, 0.0]]))
    assert torch.allclose(out.returns, out.advantages)
    whitened = PPO(kl_coef=0.1).advantages(
        torch.tensor([[1.0], [0.0]]), MASK, kl=torch.ones(2, 3), values=torch.zeros(2, 3)
    )
    assert whitened.advantages[MASK].mean().abs() < 1e-6 and torch.equal(whitened.returns, out.returns)


def test_kl_in_the_loss_leaves_the_reward_alone():
    ppo = PPO(kl_placement="loss", kl_coef=0.1, whiten_advantages=False)
    out = ppo.advantages(torch.tensor([[1.0], [0.0]]), MASK, values=torch.zeros(2, 3))
    assert torch.allclose(out.advantages, torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    # In the loss: k3 with logp = log 0.5, ref = log 0.25 -> beta (log 2 - 0.5), as GRPO.
    batch = make_batch([[math.log(0.5)]], [[math.log(0.5)]], [[0.0]], [[1]], ref_logp=[[math.log(0.25)]])
    assert PPO(kl_placement="loss", kl_estimator="k3", kl_coef=0.1)(batch).loss.item() == pytest.approx(
        0.1 * (math.log(2) - 0.5)
    )
    assert PPO()(batch).loss.item() == 0.0  # reward placement: no KL term in the loss
    assert PPO(kl_coef=0.0).needs_reference is False and PPO().needs_reference


def test_dual_clip():
    batch = make_batch([[math.log(4.0)]], [[0.0]], [[-1.0]], [[1]])
    out = PPO()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(3.0) and batch.logp.grad.item() == 0.0


def test_clipped_value_loss_by_hand():
    # V_old 0, returns 1, clip 0.5. V = 0.2: unclipped 0.5 * 0.64 = 0.32 (clipped term equal). V = 0.8:
    # plain 0.5 * 0.04 = 0.02, clipped V 0.5 -> 0.125: the max takes it and its gradient is 0.
    # V = -1: plain 2.0, clipped V -0.5 -> 1.125: plain wins, gradient (V - R) = -2.
    values = torch.tensor([[0.2, 0.8, -1.0]], dtype=torch.float64, requires_grad=True)
    mask = torch.ones(1, 3, dtype=torch.bool)
    out = clipped_value_loss(
        values,
        torch.zeros(1, 3, dtype=torch.float64),
        torch.ones(1, 3, dtype=torch.float64),
        mask,
        clip_range=0.5,
        aggregation="token_mean",
        norm=LossNorm(3.0, 1.0, 3.0),
    )
    out.loss.backward()
    assert out.loss.item() == pytest.approx((0.32 + 0.125 + 2.0) / 3)
    assert torch.allclose(values.grad, torch.tensor([[-0.8, 0.0, -2.0]], dtype=torch.float64) / 3)
    assert out.metrics["critic/value_clip_frac"].item() == pytest.approx(1 / 3)


def test_value_loss_ignores_padding():
    values = torch.tensor([[0.2, float("inf")]], requires_grad=True)
    out = PPO().token_value_loss(
        values, torch.zeros(1, 2), torch.ones(1, 2), torch.tensor([[True, False]]), LossNorm(1, 1, 2)
    )
    out.loss.backward()
    assert out.loss.item() == pytest.approx(0.32) and values.grad[0, 1] == 0


def test_adaptive_kl_controller_and_checkpoint():
    controller = AdaptiveKLController(init_coef=0.1, target=1.0, horizon=100)
    controller.update(current_kl=2.0, n_samples=10)  # error clipped to +0.2: beta * (1 + 0.2 * 10 / 100)
    assert controller.value == pytest.approx(0.1 * 1.02)
    controller.update(current_kl=0.9, n_samples=10)  # error -0.1
    assert controller.value == pytest.approx(0.1 * 1.02 * 0.99)
    restored = AdaptiveKLController(init_coef=0.5, target=1.0, horizon=100)
    restored.load_state_dict(controller.state_dict())
    assert restored.value == controller.value
    fixed = AdaptiveKLController(init_coef=0.1)
    fixed.update(current_kl=50.0, n_samples=1000)
    assert fixed.value == 0.1


def test_advantages_without_critic_are_refused():
    with pytest.raises(ValueError, match="critic's values"):
        PPO().advantages(torch.zeros(2, 1), MASK)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"dual_clip": 0.5}, "dual_clip"),
        ({"lam": 1.5}, "lam"),
        ({"value_clip": 0.0}, "value_clip"),
        ({"kl_placement": "loss", "kl_target": 0.1}, "kl_target.*kl_placement"),
        ({"critic_warmup_steps": -1}, "critic_warmup_steps"),
        ({"clip_high": 1.0}, "clip_high"),
    ],
)
def test_invalid_knobs_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        PPO(**bad)
