"""The module's validation: greedy (and sampled) accuracy per problem, read once every process's are in."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_info

from lit_rlvr import metrics
from lit_rlvr.rollout import verified_rollout


class ValidationReadings:
    """`RLVRModule`'s validation hooks: each batch's verified rollouts into a `metrics.ValidationTally`,
    its readings logged at the end of the epoch with a progress line."""

    validated_at_step: int | None

    def on_validation_epoch_start(self) -> None:
        self.validation_tally = metrics.ValidationTally()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        rollout = verified_rollout(batch)
        sampled = batch.get("sampled_rollout")
        counts = rollout.episode_counts or {}
        self.validation_tally.add(
            [row.get("data_source", "unknown") for row in rollout.rows],
            rollout.correct,
            None if sampled is None else sampled.correct.view(len(rollout.rows), -1),
            counts["tool_calls"] > 0 if "tool_calls" in counts else None,
        )
        size = len(rollout.texts)
        lengths = rollout.completion_mask.sum(-1).float()
        self.log("val/reward", rollout.rewards.float().mean(), batch_size=size, sync_dist=True)
        self.log("val/response_length", lengths.mean(), batch_size=size, sync_dist=True)
        self.log("val/truncated", rollout.truncated.float().mean(), batch_size=size, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        """Logs the validation's accuracies (`metrics.ValidationTally`), every process's problems."""
        tally = self.validation_tally
        if self.trainer.world_size > 1:
            gathered: list[Any] = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(gathered, (tally.samples, tally.problems))
            tally.samples, tally.problems = gathered[0][0], [p for _, part in gathered for p in part]
        readings = tally.readings()
        for key, value in readings.items():
            self.log(key, value, prog_bar=key == "val/accuracy")
        sampled = [
            f"{key[4:]} {value:.3f}" for key, value in readings.items() if "@" in key and key.count("/") == 1
        ]
        rank_zero_info(
            f"validation at step {self.global_step}: {len(tally.problems)} problems, greedy accuracy "
            + ", ".join([f"{readings.get('val/accuracy', float('nan')):.3f}", *sampled])
        )
        if not self.trainer.sanity_checking:
            self.validated_at_step = self.global_step
