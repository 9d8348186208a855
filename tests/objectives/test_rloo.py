"""RLOO: the leave-one-out advantage against a loop, and the surrogate by hand."""

import math

import pytest
import torch
from objective_helpers import make_batch

from lit_rlvr.advantages import leave_one_out_advantages
from lit_rlvr.objectives import RLOO


def test_leave_one_out_matches_a_loop():
    rewards = torch.randn(4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = [[r[i] - (r.sum() - r[i]) / (len(r) - 1) for i in range(len(r))] for r in rewards]
    assert torch.allclose(leave_one_out_advantages(rewards), torch.tensor(expected, dtype=torch.float64))
    # rewards 1,0,0,1: 1 - 1/3 = 2/3 and 0 - 2/3 = -2/3.
    assert torch.allclose(
        RLOO().sequence_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]])), torch.tensor([[2, -2, -2, 2]]) / 3
    )


def test_ratio_one_and_clip():
    batch = make_batch([[-1.0, -1.0]], [[-1.0, -1.0]], [[0.5]], [[1, 1]])
    out = RLOO()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(-0.5)
    assert torch.allclose(batch.logp.grad, torch.full((1, 2), -0.25, dtype=torch.float64))
    clipped = make_batch([[math.log(1.5)]], [[0.0]], [[1.0]], [[1]])
    RLOO()(clipped).loss.backward()
    assert clipped.logp.grad.item() == 0.0


@pytest.mark.parametrize("bad", [{"clip_low": 0.0}, {"kl_coef": -1.0}])
def test_invalid_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        RLOO(**bad)
    assert RLOO(kl_coef=0.1).needs_reference and RLOO.min_samples_per_prompt == 2
