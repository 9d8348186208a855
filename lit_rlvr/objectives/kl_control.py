"""The coefficient of a KL penalty in the reward: fixed, or adapted towards a target KL.

Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences", arXiv 1909.08593,
section 2.2: `e = clip(KL / target - 1, -0.2, 0.2)`, `beta <- beta (1 + e n / horizon)` after a
rollout of `n` samples with mean sequence KL `KL`.
"""

from __future__ import annotations


class AdaptiveKLController:
    """Holds beta; adapts it when a target is set. Checkpointed through `state_dict`.

    Args:
        init_coef: beta at the start.
        target: the KL per sequence to steer towards; None keeps beta fixed.
        horizon: samples over which beta may change by at most 20%.
    """

    def __init__(self, *, init_coef: float, target: float | None = None, horizon: int = 10000) -> None:
        if init_coef < 0 or (target is not None and target <= 0) or horizon <= 0:
            raise ValueError(
                f"AdaptiveKLController: need init_coef >= 0, target > 0 or None and horizon > 0, "
                f"got {init_coef}, {target}, {horizon}"
            )
        self.value = init_coef
        self.target = target
        self.horizon = horizon

    def update(self, current_kl: float, n_samples: int) -> None:
        """Moves beta after a rollout whose sequences had mean KL `current_kl` to the reference."""
        if self.target is None:
            return
        # The error is clipped to +-20% so one noisy rollout cannot swing beta.
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_samples / self.horizon

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = float(state["value"])
