"""CISPO: a stop-gradient clipped IS weight times A times log pi, by hand."""

import math

import pytest
import torch
from objective_helpers import make_batch, random_batch

from lit_rlvr.objectives import CISPO


def run(ratio, advantage, logp_old=-1.0, **knobs):
    batch = make_batch([[logp_old + math.log(ratio)]], [[logp_old]], [[advantage]], [[1]])
    out = CISPO(**knobs)(batch)
    out.loss.backward()
    return out, batch.logp.grad.item()


def test_ratio_one_is_reinforce():
    out, grad = run(1.0, 2.0, logp_old=-0.5)
    assert out.loss.item() == pytest.approx(-2.0 * -0.5)  # -w A log pi with w = 1
    assert grad == pytest.approx(-2.0)


@pytest.mark.parametrize("advantage", [1.0, -1.0])
def test_clipped_weight_keeps_the_gradient(advantage):
    # ratio 2 > 1 + 0.2: w = 1.2 and, unlike PPO's clip, the token still gets -w A.
    out, grad = run(2.0, advantage)
    assert grad == pytest.approx(-1.2 * advantage)
    assert out.metrics["objective/clip_frac_high"] == 1


def test_lower_bound_is_off_by_default():
    assert run(0.1, 1.0)[1] == pytest.approx(-0.1)
    out, grad = run(0.1, 1.0, clip_low=0.2)
    assert grad == pytest.approx(-0.8) and out.metrics["objective/clip_frac_low"] == 1


def test_weight_gradient_is_stopped():
    # d/dlogp of -sg(w) A logp is exactly -w A per aggregated token, with w = clip(exp(logp - logp_old)).
    batch = random_batch(seed=5)
    CISPO(clip_low=0.3)(batch).loss.backward()
    weight = (batch.logp - batch.logp_old).exp().clamp(0.7, 1.2).detach()
    expected = torch.where(batch.mask, -weight * batch.advantages / batch.norm.tokens, 0.0)
    assert torch.allclose(batch.logp.grad, expected)


@pytest.mark.parametrize("bad", [{"clip_low": 1.0}, {"clip_high": 0.0}, {"entropy_coef": -0.1}])
def test_invalid_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        CISPO(**bad)
