"""Dr. GRPO: GRPO without its two biases, the advantage's std division and the per-response length mean.

Liu et al. 2025, "Understanding R1-Zero-Like Training: A Critical Perspective", arXiv 2503.20783.
GRPO's `1 / |o_i|` rewards short correct answers and lets wrong ones grow long; its
std division re-weights prompts by difficulty. Dr. GRPO uses `A_i = R_i - mean(R)` and divides the
token sum by a constant, the generation budget (`seq_mean_token_sum_norm`: sequences x `T_max`,
as the authors' Oat code and TRL's `dr_grpo`). Token ratio, symmetric clip, no KL (beta = 0) by
default; the KL and entropy knobs are GRPO's.
"""

from __future__ import annotations

from typing import Any

from lit_rlvr.objectives.grpo import GRPO


class DrGRPO(GRPO):
    """GRPO Done Right: group-centred (not standardised) advantage, constant-length normaliser.

    Its knobs are GRPO's but the two it fixes: `scale_by_std` (False) and `aggregation`
    (`seq_mean_token_sum_norm`).
    """

    def __init__(self, **knobs: Any) -> None:
        super().__init__(scale_by_std=False, aggregation="seq_mean_token_sum_norm", **knobs)
