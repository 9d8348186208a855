"""SAPO: a smooth, temperature-controlled gate on the token ratio in place of PPO's hard clip.

Gao et al. 2025 (Qwen), "Soft Adaptive Policy Optimization", arXiv 2511.20347: per token
`f(r) A` with `f(r) = 4/tau sigmoid(tau (r - 1))`, whose gradient weight `4 sigma (1 - sigma)`
is 1 on-policy and decays smoothly as the ratio leaves 1, so only the off-policy tokens are
down-weighted. The temperature is `tau_pos` where A > 0 and the larger `tau_neg` (a faster decay)
elsewhere. Group-normalised advantage, `seq_mean_token_mean` (forced in verl), no KL.
"""

from __future__ import annotations

import torch

from lit_rlvr.aggregation import Aggregation, masked_mean
from lit_rlvr.objectives.base import Objective, ObjectiveOutput, PolicyBatch, require_non_negative
from lit_rlvr.objectives.surrogate import approx_kl_old, masked_log_ratio, ratio_metrics, reduce_loss


def sapo_loss(
    batch: PolicyBatch,
    *,
    tau_pos: float,
    tau_neg: float,
    aggregation: Aggregation,
    entropy_coef: float = 0.0,
) -> ObjectiveOutput:
    """`agg(-4/tau sigmoid(tau (r - 1)) A - c_H H)` with tau chosen by the advantage's sign.

    Args:
        batch: the micro-batch, every tensor `[N, T]`.
        tau_pos: gate temperature where A > 0.
        tau_neg: gate temperature where A <= 0.
        aggregation: loss aggregation.
        entropy_coef: c_H of the entropy bonus.
    """
    mask = batch.mask
    assert batch.logp.shape == batch.logp_old.shape == batch.advantages.shape == mask.shape
    log_ratio = masked_log_ratio(batch.logp, batch.logp_old, mask)  # [N, T]
    ratio = log_ratio.exp()
    advantages = torch.where(mask, batch.advantages, 0.0)
    tau = torch.where(advantages > 0, tau_pos, tau_neg)
    gate = torch.sigmoid(tau * (ratio - 1.0))
    loss = -(4.0 / tau) * gate * advantages
    gate = gate.detach()
    metrics = {
        "objective/gate_weight_mean": masked_mean(4.0 * gate * (1.0 - gate), mask),  # d f / d r
        **ratio_metrics(ratio, mask),
        "objective/approx_kl_old": approx_kl_old(log_ratio, mask),
    }
    return reduce_loss(loss, batch, metrics, aggregation=aggregation, entropy_coef=entropy_coef)


class SAPO(Objective):
    """Soft Adaptive Policy Optimization.

    Args:
        tau_pos: gate temperature for positive-advantage tokens.
        tau_neg: gate temperature for the others (larger: the gate closes faster off-policy).
        aggregation: loss aggregation over tokens and sequences.
        entropy_coef: weight of the entropy bonus.
    """

    min_samples_per_prompt = 2

    def __init__(
        self,
        *,
        tau_pos: float = 1.0,
        tau_neg: float = 1.05,
        aggregation: Aggregation = "seq_mean_token_mean",
        entropy_coef: float = 0.0,
    ) -> None:
        name = type(self).__name__
        if tau_pos <= 0 or tau_neg <= 0:
            raise ValueError(f"{name}: tau_pos and tau_neg must be > 0, got {tau_pos} and {tau_neg}")
        require_non_negative(self, entropy_coef=entropy_coef)
        self.tau_pos = tau_pos
        self.tau_neg = tau_neg
        self.aggregation = aggregation
        self.entropy_coef = entropy_coef

    def loss(self, batch: PolicyBatch) -> ObjectiveOutput:
        return sapo_loss(
            batch,
            tau_pos=self.tau_pos,
            tau_neg=self.tau_neg,
            aggregation=self.aggregation,
            entropy_coef=self.entropy_coef,
        )
