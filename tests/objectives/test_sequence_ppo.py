"""SequencePPO (SPPO, arXiv 2604.08865): bandit advantage, BCE critic target, its timing, dual-clip."""

import math

import pytest
import torch
from objective_helpers import make_batch

from lit_rlvr.advantages import sequence_advantages
from lit_rlvr.objectives import SequencePPO
from lit_rlvr.objectives.value_losses import bce_value_loss, prompt_critic_metrics


def test_advantage_is_reward_minus_predicted_success():
    logits = torch.tensor([0.0, math.log(3.0)])  # V = 0.5, 0.75
    assert torch.allclose(sequence_advantages(torch.tensor([1.0, 0.0]), logits), torch.tensor([0.5, -0.75]))
    # G samples per prompt share the prompt's baseline.
    rewards, mask = torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.ones(4, 3, dtype=torch.bool)
    grouped = SequencePPO().advantages(rewards, mask, values=logits)
    expected = torch.tensor([0.5, -0.5, -0.75, -0.75])[:, None].expand(4, 3)
    assert torch.allclose(grouped.advantages, expected)
    assert grouped.returns is rewards  # the critic's BCE targets
    with pytest.raises(ValueError, match="value logits"):
        SequencePPO().advantages(torch.tensor([[1.0]]), torch.ones(1, 3, dtype=torch.bool))


def test_bce_target_by_hand():
    # -[R log V + (1 - R) log(1 - V)] with V = 0.75: R = 1 -> -log 0.75, R = 0 -> -log 0.25.
    logits = torch.tensor([math.log(3.0), math.log(3.0)], requires_grad=True)
    loss = bce_value_loss(logits, torch.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(-(math.log(0.75) + math.log(0.25)) / 2)
    loss.backward()
    assert torch.allclose(logits.grad, torch.tensor([0.75 - 1.0, 0.75]) / 2)  # d/dlogit = (V - R) / B
    # [B, G] targets: each sample is a target for its prompt, the same as the group's mean reward.
    grouped = bce_value_loss(torch.tensor([0.3]), torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
    assert grouped.item() == pytest.approx(bce_value_loss(torch.tensor([0.3]), torch.tensor([0.5])).item())


@pytest.mark.parametrize("rewards", [[1.0, -1.0], [2.0, 0.0]])
def test_bce_refuses_rewards_outside_unit_interval(rewards):
    with pytest.raises(ValueError, match=r"rewards in \[0, 1\]"):
        bce_value_loss(torch.zeros(2), torch.tensor(rewards))


def test_advantage_uses_the_critic_before_its_update():
    # One training step in the module's order: values -> advantages -> critic update -> actor update.
    torch.manual_seed(0)
    critic = torch.nn.Linear(3, 1)
    prompts, rewards = torch.randn(4, 3), torch.tensor([1.0, 0.0, 1.0, 1.0])
    logits = critic(prompts).squeeze(-1)  # [B]
    advantages = sequence_advantages(rewards, logits)
    assert not advantages.requires_grad  # the actor's loss cannot reach the critic
    expected = rewards - logits.detach().sigmoid()
    optimizer = torch.optim.SGD(critic.parameters(), lr=1.0)
    bce_value_loss(logits, rewards).backward()
    optimizer.step()
    after = critic(prompts).squeeze(-1).detach()
    assert torch.equal(advantages, expected)
    assert not torch.allclose(advantages, rewards - after.sigmoid())  # the update did move the critic
    # ...towards the observed rewards: the BCE step lowers the loss.
    assert bce_value_loss(after, rewards) < bce_value_loss(logits.detach(), rewards)


def test_critic_metrics():
    metrics = prompt_critic_metrics(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]))
    assert metrics["critic/value_mean"] == 0.5 and metrics["critic/calibration_gap"] == 0.0
    assert metrics["critic/brier"] == pytest.approx(0.25) and metrics["critic/explained_variance"] == 0.0
    assert prompt_critic_metrics(torch.zeros(2), torch.ones(2))["critic/explained_variance"] == 0.0


@pytest.mark.parametrize(
    ("ratio", "advantage", "loss", "grad"),
    [
        (1.0, -0.5, 0.5, 0.5),  # on-policy: -A r, gradient -A r
        (1.5, 1.0, -1.2, 0.0),  # clipped high
        (0.5, -1.0, 0.8, 0.0),  # clipped low
        (4.0, -1.0, 3.0, 0.0),  # dual-clip: -A r = 4 capped at -c A = 3, no gradient
        (2.5, -1.0, 2.5, 2.5),  # under the cap: unclipped
    ],
)
def test_token_ratio_clip_and_dual_clip(ratio, advantage, loss, grad):
    batch = make_batch([[math.log(ratio)]], [[0.0]], [[advantage]], [[1]])
    out = SequencePPO()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(loss)
    assert batch.logp.grad.item() == pytest.approx(grad)
    assert out.metrics["objective/clip_frac_dual"].item() == (ratio == 4.0)


def test_defaults_follow_the_paper():
    objective = SequencePPO()
    assert objective.min_samples_per_prompt == 1 and not objective.needs_reference
    assert (objective.clip_low, objective.clip_high, objective.dual_clip) == (0.2, 0.2, 3.0)
    assert objective.aggregation == "token_mean"


@pytest.mark.parametrize("bad", [{"clip_low": 0.0}, {"dual_clip": 1.0}, {"entropy_coef": -1.0}])
def test_invalid_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SequencePPO(**bad)
