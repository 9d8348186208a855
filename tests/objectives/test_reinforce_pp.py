"""REINFORCE++ and its baseline variant: KL placement, whitening, group baseline."""

import pytest
import torch

from lit_rlvr.objectives import REINFORCEPP, REINFORCEPPBaseline

MASK = torch.tensor([[True, True, False], [True, True, True], [True, False, False], [True, True, False]])
REWARDS = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # B = 2 prompts, G = 2


def test_without_kl_the_advantage_is_the_whitened_reward():
    out = REINFORCEPP(kl_coef=0.0).advantages(REWARDS, MASK)
    # With gamma = 1 and no KL every token's reward-to-go is its R: tokens 1,1 | 0,0,0 | 1 | 1,1.
    values = torch.tensor([1, 1, 0, 0, 0, 1, 1, 1], dtype=torch.float32)
    expected = (values - values.mean()) / values.std()
    assert torch.allclose(out.advantages[MASK], expected, atol=1e-6) and out.returns is None


def test_baseline_subtracts_the_group_mean_before_whitening():
    out = REINFORCEPPBaseline(kl_coef=0.0).advantages(REWARDS, MASK)
    # Group 1: 1 - 0.5 = 0.5 and -0.5; group 2: 0 and 0. Tokens: .5,.5 | -.5,-.5,-.5 | 0 | 0,0.
    values = torch.tensor([0.5, 0.5, -0.5, -0.5, -0.5, 0, 0, 0])
    assert torch.allclose(out.advantages[MASK], (values - values.mean()) / values.std(), atol=1e-6)


def test_kl_placement():
    kl = torch.zeros(4, 3)
    kl[0, 0] = 10.0  # only the first token of sequence 0 is far from the reference
    in_reward = REINFORCEPP(kl_coef=0.1).advantages(REWARDS, MASK, kl=kl).advantages
    assert in_reward[0, 0] < in_reward[0, 1]  # the reward-to-go of token 0 includes its own KL
    in_loss = REINFORCEPP(kl_placement="loss", kl_coef=0.1).advantages(REWARDS, MASK, kl=kl).advantages
    assert in_loss[0, 0] == in_loss[0, 1]
    assert REINFORCEPP().kl_placement == "reward" and REINFORCEPP().kl_estimator == "k1"
    baseline = REINFORCEPPBaseline()
    assert (baseline.kl_placement, baseline.kl_estimator, baseline.min_samples_per_prompt) == (
        "loss",
        "k2",
        2,
    )
    assert baseline.needs_reference and not REINFORCEPP(kl_coef=0.0).needs_reference


@pytest.mark.parametrize("bad", [{"clip_low": 0.0}, {"kl_coef": -1.0}])
def test_invalid_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        REINFORCEPPBaseline(**bad)
