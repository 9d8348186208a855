"""Every objective's advantages, loss, gradient and metrics against values stored before a refactor.

`tests/assets/objective_golden.pt` was written by the code at commit 36e80a9, before the objectives
shared one clipped surrogate and one advantage entry point (issue 9): the same fixed rewards,
masks, KL, critic values and random ragged batches must give the same numbers through today's API.
Regenerate it only on purpose, when an objective's formula changes.
"""

from pathlib import Path

import pytest
import torch
from objective_helpers import random_batch, with_delimiters

from lit_rlvr import objectives as O

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


@pytest.mark.parametrize("name", CASES)
def test_objective_matches_its_stored_numbers(name):
    objective, stored, inputs = CASES[name](), GOLDEN[name], GOLDEN["inputs"]
    values = inputs["logits"] if objective.critic_kind == "prompt" else inputs["values"]
    estimate = objective.advantages(inputs["rewards"], inputs["mask"], kl=inputs["kl"], values=values)
    torch.testing.assert_close(estimate.advantages, stored["advantages"], rtol=0, atol=0)
    if name == "ppo":
        torch.testing.assert_close(estimate.returns, GOLDEN["ppo_returns"], rtol=0, atol=0)
    for seed, spread in ((0, 0.3), (3, 1.5)):
        batch = random_batch(seed=seed, spread=spread)
        out = objective(batch)
        out.loss.backward()
        torch.testing.assert_close(out.loss.detach(), stored[f"loss_{seed}"], rtol=0, atol=0)
        torch.testing.assert_close(batch.logp.grad, stored[f"grad_{seed}"], rtol=0, atol=0)
        metrics = {k: v.detach().double() for k, v in out.metrics.items()}
        assert metrics.keys() == stored[f"metrics_{seed}"].keys()
        for key, value in metrics.items():
            torch.testing.assert_close(value, stored[f"metrics_{seed}"][key], rtol=0, atol=0, msg=key)
