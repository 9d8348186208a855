"""Ratio levels (token, sequence, subsentence, log-space, gate, IS weight) apart and together.

Off-policy (a rollout's second optimizer step) the objectives give different gradients; on-policy
(ratio 1, one step per rollout) those that differ only in the ratio give GRPO's gradient, which
is why configs run their papers' several steps per rollout (`tests/test_clipping.py`).
"""

import torch
from objective_helpers import random_batch, with_delimiters

from lit_rlvr.objectives import CISPO, GMPO, GRPO, GSPO, SAPO, SSPO


def gradient(objective, batch):
    batch = batch._replace(logp=batch.logp.detach().clone().requires_grad_(True))
    objective(batch).loss.backward()
    return batch.logp.grad


RATIO_OBJECTIVES = {
    "grpo": GRPO(),
    "gspo": GSPO(clip_low=0.05, clip_high=0.05),
    "sspo": with_delimiters(SSPO(clip_low=0.05, clip_high=0.05)),
    "gmpo": GMPO(),
    "sapo": SAPO(),
    "cispo": CISPO(aggregation="seq_mean_token_mean"),
}


def test_off_policy_the_ratio_levels_give_different_gradients():
    batch = random_batch(seed=5, spread=0.3)  # a second step's batch: logp has moved from logp_old
    grads = {name: gradient(objective, batch) for name, objective in RATIO_OBJECTIVES.items()}
    names = list(grads)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            assert not torch.allclose(grads[first], grads[second], atol=1e-6), (first, second)


def test_on_policy_the_ratio_levels_collapse_into_grpo():
    # Ratio 1 everywhere: the reason one step per rollout cannot tell these objectives apart.
    batch = random_batch(seed=5, spread=0.3)
    batch = batch._replace(logp=batch.logp_old.clone().requires_grad_(True))
    grpo = gradient(RATIO_OBJECTIVES["grpo"], batch)
    for name in ("gspo", "sspo", "sapo", "cispo"):
        torch.testing.assert_close(gradient(RATIO_OBJECTIVES[name], batch), grpo, msg=name)
