"""Every objective takes the sampler correction's constant per-token weights the same way."""

import pytest
import torch
from objective_helpers import random_batch

from lit_rlvr.objectives import CISPO, GRPO, GSPO, SAPO


@pytest.mark.parametrize("objective", [GRPO(), GSPO(), CISPO(), SAPO()])
def test_an_objective_with_weights_one_is_unchanged_and_zero_weights_silence_tokens(objective):
    batch = random_batch(seed=3, spread=0.5)
    plain = objective(batch).loss
    ones = objective(batch._replace(weights=torch.ones_like(batch.logp_old))).loss
    torch.testing.assert_close(ones, plain)
    silenced = batch.mask.clone()
    silenced[0] = False  # sequence 0 dropped by the correction
    dropped = objective(batch._replace(weights=silenced.double())).loss
    assert not torch.isclose(dropped, plain)
    fresh = random_batch(seed=3, spread=0.5)
    objective(fresh._replace(weights=silenced.double())).loss.backward()
    assert torch.count_nonzero(fresh.logp.grad[0]) == 0 and torch.count_nonzero(fresh.logp.grad[1:]) > 0
