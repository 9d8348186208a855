"""Dr. GRPO against values worked out by hand."""

import math

import pytest
import torch
from objective_helpers import make_batch

from lit_rlvr.objectives import GRPO, DrGRPO


def test_advantage_is_group_centred_without_std():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [3.0, 1.0, 1.0, 1.0]])
    assert torch.equal(
        DrGRPO().sequence_advantages(rewards), torch.tensor([[0.5, -0.5, -0.5, 0.5], [1.5, -0.5, -0.5, -0.5]])
    )


def test_ratio_one_divides_the_token_sum_by_a_constant():
    # sum of A over tokens = 2 * 3 + (-1) * 2 = 4; normaliser N * T_max = 2 * 4: loss = -0.5.
    # Every token's gradient is -A_i / 8, whatever the length of its sequence.
    batch = make_batch(
        [[-1.0, -2.0, -0.5], [-0.3, -0.7, -9.0]],
        [[-1.0, -2.0, -0.5], [-0.3, -0.7, -9.0]],
        [[2.0], [-1.0]],
        [[1, 1, 1], [1, 1, 0]],
        max_len=4,
    )
    out = DrGRPO()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(-0.5)
    assert torch.allclose(
        batch.logp.grad, torch.tensor([[-0.25] * 3, [0.125, 0.125, 0.0]], dtype=torch.float64)
    )


def test_no_length_bias_unlike_grpo():
    # Same advantage, lengths 1 and 3: GRPO's 1/|o_i| gives the short sequence's token 3x the weight;
    # Dr. GRPO weights every token alike.
    mask = [[1, 0, 0], [1, 1, 1]]
    logp = [[-1.0] * 3] * 2

    def grad(objective):
        batch = make_batch(logp, logp, [[1.0], [1.0]], mask)
        objective(batch).loss.backward()
        return batch.logp.grad

    assert grad(GRPO())[0, 0] == pytest.approx(3 * grad(GRPO())[1, 0])
    assert grad(DrGRPO())[0, 0] == pytest.approx(grad(DrGRPO())[1, 0])


def test_clip_still_applies():
    batch = make_batch([[math.log(1.5)]], [[0.0]], [[1.0]], [[1]])
    out = DrGRPO()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(-1.2) and batch.logp.grad.item() == 0.0


def test_invalid_knobs_are_refused():
    with pytest.raises(ValueError, match="clip_low"):
        DrGRPO(clip_low=1.0)
