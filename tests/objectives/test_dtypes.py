"""Every objective runs whatever torch's default dtype and the log-probs' dtype are.

Objectives used to build buffers in the default dtype and fill them from float32 flags, which
failed (`index_add` of a float32 source into a float64 buffer) as soon as the two differed.

Stated tolerance for bfloat16: an objective fed bfloat16 log-probs gives the float32 loss within
1e-2 absolute (bfloat16 keeps 8 bits of mantissa: a log-prob of -2 is rounded by up to 4e-3), and
exactly the loss of the same bfloat16-rounded values given in float32, so no arithmetic happens in
bfloat16.
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


def _cast(batch, dtype):
    floats = {
        field: value.detach().to(dtype)
        for field, value in batch._asdict().items()
        if torch.is_tensor(value) and value.is_floating_point()
    }
    batch = batch._replace(**floats)
    return batch._replace(logp=batch.logp.requires_grad_(True))


@pytest.mark.parametrize("name", OBJECTIVES)
def test_objective_on_bfloat16_inputs_computes_in_float32(name):
    objective = OBJECTIVES[name]
    exact = _cast(random_batch(seed=3), torch.float32)
    low = _cast(exact, torch.bfloat16)
    rounded = _cast(low, torch.float32)
    out_low, out_rounded, out_exact = objective(low), objective(rounded), objective(exact)
    assert out_low.loss.dtype == torch.float32
    assert torch.equal(out_low.loss, out_rounded.loss)
    assert abs(out_low.loss.item() - out_exact.loss.item()) < 1e-2
    out_low.loss.backward()
    out_rounded.loss.backward()
    assert low.logp.grad.dtype == torch.bfloat16
    torch.testing.assert_close(low.logp.grad, rounded.logp.grad.to(torch.bfloat16), rtol=0, atol=0)


def _advantages(objective, default_dtype):
    """Shaped rewards, then advantages, for a batch of 2 prompts x 3 samples, under `default_dtype`."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(default_dtype)
    try:
        generator = torch.Generator().manual_seed(5)
        rewards = torch.rand(2, 3, generator=generator, dtype=torch.float32)
        mask = torch.arange(6)[None] < torch.tensor([6, 2, 4, 1, 5, 3])[:, None]
        rewards = objective.shape_rewards(rewards, mask.sum(-1).view(2, 3), 6)
        kl = torch.rand(6, 6, generator=generator, dtype=torch.float32) * 0.1
        values = {
            None: None,
            "token": torch.rand(6, 6, generator=generator, dtype=torch.float32),
            "prompt": torch.randn(2, generator=generator, dtype=torch.float32),
        }[objective.critic_kind]
        return objective.advantages(rewards, mask, kl=kl if objective.kl_in_reward else None, values=values)
    finally:
        torch.set_default_dtype(before)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_advantages_do_not_follow_a_bfloat16_default_dtype(name):
    # Lightning's bf16-true makes bfloat16 torch's default dtype inside the training step.
    exact, low = _advantages(OBJECTIVES[name], torch.float32), _advantages(OBJECTIVES[name], torch.bfloat16)
    assert exact.advantages.dtype == low.advantages.dtype == torch.float32
    assert torch.equal(exact.advantages, low.advantages)
    if exact.returns is not None:
        assert torch.equal(exact.returns, low.returns)
