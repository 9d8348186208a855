"""Advantage estimators over a `[B, G]` reward matrix (B prompts, G samples each)."""

from __future__ import annotations

from torch import Tensor


def group_normalized_advantages(rewards: Tensor, *, scale_by_std: bool = True, eps: float = 1e-6) -> Tensor:
    """GRPO's outcome advantage (DeepSeekMath eq. 4.1.2): `(r - mean_group) / (std_group + eps)`.

    Args:
        rewards: `[B, G]` rewards.
        scale_by_std: divide by the group's standard deviation (Bessel-corrected, as verl and TRL);
            False gives Dr. GRPO's `r - mean_group`.
        eps: keeps groups whose rewards are all equal at advantage 0 instead of NaN.

    Returns:
        `[B, G]` advantages.
    """
    centered = rewards - rewards.mean(dim=1, keepdim=True)
    if not scale_by_std:
        return centered
    return centered / (rewards.std(dim=1, keepdim=True) + eps)
