"""Per-token estimators of KL(pi_theta || pi_ref) from sampled tokens (Schulman's k1, k2, k3)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

KLEstimator = Literal["k1", "k2", "k3"]


def kl_estimate(logp: Tensor, ref_logp: Tensor, estimator: KLEstimator) -> Tensor:
    """Returns the per-token KL estimate, same shape as `logp` (`[N, T]`).

    k1 = log(pi/pi_ref) (unbiased, high variance, can be negative); k2 = (log(pi/pi_ref))^2 / 2;
    k3 = pi_ref/pi - log(pi_ref/pi) - 1 (unbiased, non-negative, low variance; GRPO's choice).
    """
    log_ratio = logp - ref_logp
    if estimator == "k1":
        return log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio.square()
    if estimator == "k3":
        # exp(-log_ratio) overflows once the policy drifts far from the reference; 20 nats is far
        # beyond any healthy run, so clamping only stops an inf from turning the step into NaN.
        ref_log_ratio = (-log_ratio).clamp(-20.0, 20.0)
        return ref_log_ratio.exp() - ref_log_ratio - 1.0
    raise ValueError(f"unknown KL estimator {estimator!r}; expected one of {KLEstimator.__args__}")
