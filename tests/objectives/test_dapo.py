"""DAPO: clip-higher, token-level mean, dynamic-sampling filter and overlong penalty by hand."""

import math

import pytest
import torch
from objective_helpers import make_batch

from lit_rlvr.objectives import DAPO
from lit_rlvr.objectives.dapo import keep_informative_groups, overlong_penalty


def test_keep_informative_groups():
    rewards = torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.4]])
    assert keep_informative_groups(rewards).tolist() == [False, True, False, True]


def test_overlong_penalty_by_hand():
    # L_max 20, L_cache 4: free up to 16 tokens, then -(len - 16) / 4, -1 from 20 on.
    lengths = torch.tensor([10, 16, 17, 18, 20, 25])
    assert overlong_penalty(lengths, 20, 4, 1.0).tolist() == [0.0, 0.0, -0.25, -0.5, -1.0, -1.0]
    assert overlong_penalty(lengths, 20, 4, 0.5).tolist() == [0.0, 0.0, -0.125, -0.25, -0.5, -0.5]
    assert overlong_penalty(lengths, 20, 0, 1.0).tolist() == [0.0] * 6
    with pytest.raises(ValueError, match="buffer_len"):
        overlong_penalty(lengths, 20, 21, 1.0)


def test_shape_rewards_uses_a_fraction_of_the_budget():
    # fraction 0.2 of 20 tokens = a 4-token ramp; a 0 fraction turns the penalty off.
    rewards = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    lengths = torch.tensor([[18, 20], [5, 17]])
    assert DAPO().shape_rewards(rewards, lengths, 20).tolist() == [[0.5, -1.0], [1.0, 0.75]]
    assert torch.equal(DAPO(overlong_buffer_fraction=0.0).shape_rewards(rewards, lengths, 20), rewards)


@pytest.mark.parametrize(
    ("ratio", "advantage", "loss", "grad"),
    [
        (1.25, 1.0, -1.25, -1.25),  # inside [0.8, 1.28]: clip-higher keeps the gradient
        (1.3, 1.0, -1.28, 0.0),  # above 1 + 0.28: clipped
        (0.75, -1.0, 0.8, 0.0),  # below 1 - 0.2 with A < 0: clipped
        (0.75, 1.0, -0.75, -0.75),  # A > 0 below the range: the unclipped term is smaller, kept
    ],
)
def test_clip_higher(ratio, advantage, loss, grad):
    batch = make_batch([[math.log(ratio)]], [[0.0]], [[advantage]], [[1]])
    out = DAPO()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(loss)
    assert batch.logp.grad.item() == pytest.approx(grad)


def test_token_mean_weights_every_token_alike():
    # Lengths 1 and 3 at ratio 1, A = 1: loss = -4 / 4 tokens; each token's gradient -1/4.
    logp = [[-1.0] * 3] * 2
    batch = make_batch(logp, logp, [[1.0], [1.0]], [[1, 0, 0], [1, 1, 1]])
    out = DAPO()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(-1.0)
    assert torch.allclose(batch.logp.grad, torch.tensor([[-0.25, 0, 0], [-0.25] * 3], dtype=torch.float64))
    assert not DAPO().needs_reference


@pytest.mark.parametrize(
    "bad",
    [
        {"clip_high": 1.0},
        {"max_sampling_rounds": 0},
        {"overlong_buffer_fraction": 1.5},
        {"entropy_coef": -1.0},
    ],
)
def test_invalid_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        DAPO(**bad)
