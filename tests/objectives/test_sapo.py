"""SAPO: the soft sigmoid gate with sign-dependent temperatures, by hand."""

import math

import pytest
from objective_helpers import make_batch

from lit_rlvr.objectives import SAPO


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def run(ratio, advantage, **knobs):
    batch = make_batch([[math.log(ratio)]], [[0.0]], [[advantage]], [[1]])
    out = SAPO(**knobs)(batch)
    out.loss.backward()
    return out, batch.logp.grad.item()


@pytest.mark.parametrize(("advantage", "tau"), [(1.5, 1.0), (-1.5, 1.05)])
def test_ratio_one(advantage, tau):
    # f(1) = 4/tau * 1/2; f'(1) = 4 sigma (1 - sigma) = 1, and d r / d logp = 1: gradient -A.
    out, grad = run(1.0, advantage)
    assert out.loss.item() == pytest.approx(-2.0 / tau * advantage)
    assert grad == pytest.approx(-advantage)
    assert out.metrics["objective/gate_weight_mean"].item() == pytest.approx(1.0)


def test_gate_decays_off_policy():
    # r = 2, A = 1, tau = 1: loss -4 sigma(1); gradient -4 sigma(1)(1 - sigma(1)) * r.
    s = sigmoid(1.0)
    out, grad = run(2.0, 1.0)
    assert out.loss.item() == pytest.approx(-4 * s)
    assert grad == pytest.approx(-4 * s * (1 - s) * 2)
    # A < 0 uses tau_neg = 3: gradient 4 sigma(3)(1 - sigma(3)) * r * |A|, smaller than with tau 1.
    s3 = sigmoid(3.0)
    assert run(2.0, -1.0, tau_neg=3.0)[1] == pytest.approx(4 * s3 * (1 - s3) * 2)


@pytest.mark.parametrize("bad", [{"tau_pos": 0.0}, {"tau_neg": -1.0}, {"entropy_coef": -0.1}])
def test_invalid_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SAPO(**bad)
