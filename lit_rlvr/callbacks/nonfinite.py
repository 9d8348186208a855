"""Stops a run whose updates keep being skipped for a non-finite loss or gradient, leaving a checkpoint."""

from __future__ import annotations

import os
from typing import Any

from lightning import Callback, LightningModule, Trainer


class NonFiniteGuard(Callback):
    """Counts optimizer updates skipped in a row (the module skips a non-finite gradient) and stops the run.

    One skipped update is survivable noise; a long run of them means the policy or the data is
    broken and every further step wastes compute. The run then saves a checkpoint beside the others
    (the weights are those of the last finite update) and raises.

    Args:
        max_consecutive_skips: stop once this many updates in a row were skipped (0: never stop).
    """

    def __init__(self, *, max_consecutive_skips: int = 10) -> None:
        if max_consecutive_skips < 0:
            raise ValueError(f"nonfinite.max_consecutive_skips must be >= 0, got {max_consecutive_skips}")
        self.max_consecutive_skips = max_consecutive_skips
        self.consecutive = 0
        self._seen = 0

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        skipped, self._seen = pl_module.skipped_updates - self._seen, pl_module.skipped_updates
        # Updates of one step are not told apart: a step counts as a run of skips only if all were.
        self.consecutive = self.consecutive + skipped if skipped == pl_module.updates_per_rollout else 0
        if self.max_consecutive_skips and self.consecutive >= self.max_consecutive_skips:
            checkpoint = trainer.checkpoint_callback
            folder = checkpoint.dirpath if checkpoint is not None else trainer.default_root_dir
            path = os.path.join(folder, f"nonfinite-step={trainer.global_step}.ckpt")
            trainer.save_checkpoint(path, weights_only=False)
            raise RuntimeError(
                f"{self.consecutive} optimizer updates in a row had a non-finite loss or gradient and were "
                f"skipped (nonfinite.max_consecutive_skips={self.max_consecutive_skips}); the weights are "
                f"those of the last finite update, saved to {path}. Lower model.lr, check the rewards, or "
                "resume from an earlier checkpoint"
            )

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._seen = pl_module.skipped_updates  # restored from the checkpoint on resume

    def state_dict(self) -> dict[str, int]:
        return {"consecutive": self.consecutive}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.consecutive = state["consecutive"]
