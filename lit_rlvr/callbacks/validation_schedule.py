"""Validation on a schedule of completions sampled or training seconds, instead of optimizer steps.

Arms whose steps cost differently (32 prompts x 1 sample against 4 x 8, a critic or not) are
compared fairly only at equal samples or equal training time, so their validation points should
fall there too:

    lit-rlvr fit --config configs/sppo.yaml \
        --trainer.callbacks+=lit_rlvr.callbacks.ValidationSchedule --trainer.callbacks.every_samples=256

How it makes the Trainer validate: Lightning 2.6 decides after each training batch, in
`_TrainingEpochLoop.on_advance_end`, by calling the loop's `_should_check_val_fx`, and then runs
its own validation loop there, after the step's metrics are logged, with the hooks and progress
counters a step-scheduled validation has (so `RolloutCollector` attaches the greedy rollouts
before each validation batch as usual, and a checkpoint resumes mid-schedule). No public hook
requests a validation: running `val_loop.run()` from `on_train_batch_end` would interleave it
with the step's unlogged metrics, and `val_check_interval` as a time counts wall time since the
last validation (logging, checkpoints, data loading included), so its points drift apart between
arms. This callback therefore replaces that one decision function for the duration of `fit` and
restores it at teardown. The step schedule (`trainer.val_check_interval`) no longer acts while it
is installed; `trainer.limit_val_batches=0` and `check_val_every_n_epoch` still do.

It reads what `RLVRModule` logs each step: completions sampled = `perf/completions_per_s` x
`perf/step_s` (the completions the step trained on, times the number of processes) and training
seconds = the sum of `perf/step_s` (generation, verification, scoring and updates; validation,
logging and checkpointing excluded). With several processes, rank 0's count decides for all.
"""

from __future__ import annotations

from typing import Any, Literal

from lightning import Callback, LightningModule, Trainer


class ValidationSchedule(Callback):
    """Validates when the completions sampled or the training seconds cross the next multiple of a budget.

    Args:
        every_samples: validate each time the completions sampled in training (all processes
            together) pass a multiple of this.
        every_seconds: validate each time the training seconds (validation excluded) pass a
            multiple of this.
        budget: stop training, validating on the way out, once the completions sampled or the
            training seconds (the unit of the schedule) reach this: arms compared at an equal
            budget of samples or training time whatever their validation costs; None: no budget.
    """

    def __init__(
        self,
        *,
        every_samples: int | None = None,
        every_seconds: float | None = None,
        budget: float | None = None,
    ) -> None:
        if (every_samples is None) == (every_seconds is None):
            raise ValueError(
                "ValidationSchedule takes exactly one of every_samples and every_seconds, got "
                f"every_samples={every_samples}, every_seconds={every_seconds}"
            )
        if every_samples is not None and every_samples < 1:
            raise ValueError(f"ValidationSchedule.every_samples must be >= 1, got {every_samples}")
        if every_seconds is not None and every_seconds <= 0:
            raise ValueError(f"ValidationSchedule.every_seconds must be > 0, got {every_seconds}")
        if budget is not None and budget <= 0:
            raise ValueError(f"ValidationSchedule.budget must be > 0 or None, got {budget}")
        self.budget = budget
        self.unit: Literal["samples", "seconds"] = "samples" if every_samples is not None else "seconds"
        self.every = float(every_samples if every_samples is not None else every_seconds)
        self.done = 0.0  # completions sampled or training seconds so far
        self.next_at = self.every
        self.due = False  # the step that just ended crossed `next_at`
        self._step_schedule: Any = None  # the epoch loop's own decision, put back at teardown

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        loop = trainer.fit_loop.epoch_loop
        self._step_schedule = loop._should_check_val_fx
        # The loop asks after every batch (and once when it resumes): validate only when due and
        # validation is on at all (limit_val_batches > 0, check_val_every_n_epoch).
        loop._should_check_val_fx = lambda data_fetcher: self.due and loop._should_check_val_epoch()

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage == "fit" and self._step_schedule is not None:
            trainer.fit_loop.epoch_loop._should_check_val_fx = self._step_schedule
            self._step_schedule = None

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self.due = False

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        logged = trainer.callback_metrics
        if "perf/step_s" not in logged or "perf/completions_per_s" not in logged:
            raise RuntimeError(
                "ValidationSchedule reads perf/step_s and perf/completions_per_s, which RLVRModule logs "
                "every training step; this module logged neither"
            )
        step_s = float(logged["perf/step_s"])
        if self.unit == "samples":
            # completions_per_s = N / step_s, so the product is N up to float rounding.
            amount = round(float(logged["perf/completions_per_s"]) * step_s) * trainer.world_size
        else:
            amount = step_s
        # Every process must agree, or some would wait in validation for the others: rank 0 decides.
        self.done = trainer.strategy.broadcast(self.done + amount, src=0)
        if self.done >= self.next_at:
            self.due = True
            self.next_at = (self.done // self.every + 1) * self.every
        if self.budget is not None and self.done >= self.budget:
            self.due = True
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        """Checkpointed: the amount so far, the next multiple, and whether this step is due to validate."""
        return {"done": self.done, "next_at": self.next_at, "due": self.due}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.done, self.next_at, self.due = state["done"], state["next_at"], state["due"]
