"""Every objective runs whatever torch's default dtype and the log-probs' dtype are.

Objectives used to build buffers in the default dtype and fill them from float32 flags, which
failed (`index_add` of a float32 source into a float64 buffer) as soon as the two differed.
"""

import pytest
import torch
from objective_helpers import random_batch
from test_invariants import OBJECTIVES


@pytest.fixture
def float64_default():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.mark.parametrize("name", OBJECTIVES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_objective_runs_with_float64_as_the_default_dtype(name, dtype, float64_default):
    batch = random_batch(seed=7)
    batch = batch._replace(
        **{
            field: value.detach().to(dtype)
            for field, value in batch._asdict().items()
            if torch.is_tensor(value) and value.is_floating_point()
        }
    )
    batch = batch._replace(logp=batch.logp.requires_grad_(True))
    out = OBJECTIVES[name](batch)
    out.loss.backward()
    assert torch.isfinite(out.loss) and torch.isfinite(batch.logp.grad).all()
    assert all(torch.isfinite(value).all() for value in out.metrics.values())
