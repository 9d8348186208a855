"""GMPO: log-space, sign-dependent token clipping inside a geometric mean, by hand."""

import math

import pytest
import torch
from objective_helpers import make_batch

from lit_rlvr.objectives import GMPO


def run(logp, advantage, **knobs):
    batch = make_batch([logp], [[0.0] * len(logp)], [[advantage]], [[1] * len(logp)])
    out = GMPO(**knobs)(batch)
    out.loss.backward()
    return out, batch.logp.grad[0]


def test_ratio_one_is_advantage_weighted_mean_log_prob():
    out, grad = run([0.0, 0.0], 2.0)
    assert out.loss.item() == pytest.approx(-2.0)
    assert torch.allclose(grad, torch.tensor([-1.0, -1.0], dtype=torch.float64))  # -A / |y|


def test_positive_advantage_clips_high_tokens_only():
    # log r = (0.6, 0): token 1 clipped to 0.4, seq ratio e^0.2; its gradient is cut,
    # token 2 keeps -A e^0.2 / 2.
    out, grad = run([0.6, 0.0], 1.0)
    assert out.loss.item() == pytest.approx(-math.exp(0.2))
    assert torch.allclose(grad, torch.tensor([0.0, -math.exp(0.2) / 2], dtype=torch.float64))
    assert out.metrics["objective/clip_frac_high"].item() == pytest.approx(0.5)


def test_negative_advantage_is_pessimistic():
    # A = -1, log r = (0.6, 0): sign -1 keeps the larger log-ratio 0.6 (no clip), seq ratio e^0.3.
    out, grad = run([0.6, 0.0], -1.0)
    assert out.loss.item() == pytest.approx(math.exp(0.3))
    assert torch.allclose(grad, torch.full((2,), math.exp(0.3) / 2, dtype=torch.float64))
    # log r = (-0.6, 0): clipped up to -0.4 for A < 0; the first token loses its gradient.
    out, grad = run([-0.6, 0.0], -1.0)
    assert out.loss.item() == pytest.approx(math.exp(-0.2))
    assert torch.allclose(grad, torch.tensor([0.0, math.exp(-0.2) / 2], dtype=torch.float64))
    assert out.metrics["objective/clip_frac_low"].item() == pytest.approx(0.5)


def test_asymmetric_log_space_bounds():
    out, grad = run([0.3, 0.0], 1.0, clip_low=0.4, clip_high=0.2)  # 0.3 > 0.2: clipped
    assert out.loss.item() == pytest.approx(-math.exp(0.1)) and grad[0] == 0


@pytest.mark.parametrize("bad", [{"clip_low": 0.0}, {"clip_high": -1.0}, {"entropy_coef": -0.1}])
def test_invalid_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        GMPO(**bad)
