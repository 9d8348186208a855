"""Every objective's advantages, loss, gradient and metrics against values stored before a refactor.

`tests/assets/objective_golden.pt` was written by the code at commit 36e80a9, before the objectives
shared one clipped surrogate and one advantage entry point (issue 9): the same fixed rewards,
masks, KL, critic values and random ragged batches must give the same numbers through today's API.
Regenerate it only on purpose, when an objective's formula changes.

The stored numbers were computed on one CPU; another CPU's kernels and math library (`exp`, `log`,
vectorised reductions, the Box-Muller of `torch.randn` behind the random batches) round the last
bit differently (seen: 1e-17 absolute, 1e-16 relative in float64 on an AVX-512/AMX machine). So
each value is compared at `ULPS` units in the last place of the dtype it was computed in (float64
here: 8.9e-16 relative), against the larger of itself and its tensor's scale: a gradient entry near
zero comes from cancelling terms of the tensor's size, and its rounding is of that size.
`test_a_change_of_1e_9_relative_fails` keeps the comparison's power in view.
"""

from pathlib import Path

import pytest
import torch
from objective_helpers import random_batch, with_delimiters

from lit_rlvr import objectives as O

ULPS = 4
GOLDEN = torch.load(Path(__file__).parents[1] / "assets" / "objective_golden.pt", weights_only=False)

CASES = {
    "grpo": lambda: O.GRPO(),
    "grpo_kl": lambda: O.GRPO(kl_coef=0.05, entropy_coef=0.01, clip_high=0.28),
    "dr_grpo": lambda: O.DrGRPO(),
    "dapo": lambda: O.DAPO(),
    "gspo": lambda: O.GSPO(),
    "gspo_token": lambda: O.GSPOToken(),
    "sspo": lambda: with_delimiters(O.SSPO(clip_low=0.02, clip_high=0.03)),
    "gmpo": lambda: O.GMPO(),
    "sapo": lambda: O.SAPO(),
    "cispo": lambda: O.CISPO(),
    "rloo": lambda: O.RLOO(kl_coef=0.02),
    "ppo": lambda: O.PPO(),
    "ppo_loss_kl": lambda: O.PPO(kl_placement="loss", kl_coef=0.05, lam=0.95, gamma=0.99),
    "reinforce_pp": lambda: O.REINFORCEPP(),
    "reinforce_pp_baseline": lambda: O.REINFORCEPPBaseline(),
    "sppo": lambda: O.SequencePPO(),
}


def assert_within_ulps(actual, expected, msg=""):
    """`actual` equals the stored `expected` to `ULPS` units in the last place of `actual`'s dtype."""
    eps = torch.finfo(actual.dtype).eps
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    torch.testing.assert_close(
        actual.double(), expected.double(), rtol=ULPS * eps, atol=ULPS * eps * scale, msg=msg or None
    )


def check_against_stored(name, objective):
    """Raises AssertionError where `objective` departs from the numbers stored for case `name`."""
    stored, inputs = GOLDEN[name], GOLDEN["inputs"]
    values = inputs["logits"] if objective.critic_kind == "prompt" else inputs["values"]
    estimate = objective.advantages(inputs["rewards"], inputs["mask"], kl=inputs["kl"], values=values)
    assert_within_ulps(estimate.advantages, stored["advantages"])
    if name == "ppo":
        assert_within_ulps(estimate.returns, GOLDEN["ppo_returns"])
    for seed, spread in ((0, 0.3), (3, 1.5)):
        batch = random_batch(seed=seed, spread=spread)
        out = objective(batch)
        out.loss.backward()
        assert_within_ulps(out.loss.detach(), stored[f"loss_{seed}"])
        assert_within_ulps(batch.logp.grad, stored[f"grad_{seed}"])
        assert out.metrics.keys() == stored[f"metrics_{seed}"].keys()
        for key, value in out.metrics.items():
            assert_within_ulps(value.detach(), stored[f"metrics_{seed}"][key], msg=key)


@pytest.mark.parametrize("name", CASES)
def test_objective_matches_its_stored_numbers(name):
    check_against_stored(name, CASES[name]())


class _NudgedAdvantages(O.GRPO):
    def sequence_advantages(self, rewards):
        return super().sequence_advantages(rewards) * (1 + 1e-9)


class _NudgedLoss(O.GRPO):
    def loss(self, batch):
        out = super().loss(batch)
        return out._replace(loss=out.loss * (1 + 1e-9))


@pytest.mark.parametrize("nudged", [_NudgedAdvantages, _NudgedLoss])
def test_a_change_of_1e_9_relative_fails(nudged):
    with pytest.raises(AssertionError):
        check_against_stored("grpo", nudged())
