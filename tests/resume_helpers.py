"""Test-only callback and checkpoint writer that `test_resume.py` loads by class path into `fit`."""

import json
import os
import signal
from typing import IO, Any

import torch
from lightning import Callback

from lit_rlvr.checkpoint_io import AtomicCheckpointIO

LOGGED = (
    "objective/",
    "reward/",
    "train/",
    "critic/",
    "rollout/",
    "mismatch/",
    "env/",
)  # not perf/: timings differ


class StepLog(Callback):
    """Appends each step's losses and rewards to `path` (one fsynced JSON line: it survives SIGKILL).

    Args:
        path: the JSON-lines file.
        kill_at_step: after logging this global step, the process SIGKILLs itself (0: never).
    """

    def __init__(self, path: str, kill_at_step: int = 0) -> None:
        self.path = path
        self.kill_at_step = kill_at_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(LOGGED)}
        prompts = [row["messages"][-1]["content"] for row in batch["rows"]]
        line = {"step": trainer.global_step, "rank": trainer.global_rank, "prompts": prompts, **metrics}
        with open(self.path, "a") as file:
            file.write(json.dumps(line) + "\n")
            file.flush()
            os.fsync(file.fileno())
        if trainer.global_step == self.kill_at_step:
            os.kill(os.getpid(), signal.SIGKILL)


class KillMidWrite(AtomicCheckpointIO):
    """Writes half of the checkpoint of step `$KILL_DURING_SAVE_STEP`, then SIGKILLs its own process."""

    def write(self, checkpoint: dict[str, Any], file: IO[bytes]) -> None:
        if checkpoint["global_step"] != int(os.environ.get("KILL_DURING_SAVE_STEP", -1)):
            return super().write(checkpoint, file)
        path = f"{file.name}.whole"
        torch.save(checkpoint, path)
        with open(path, "rb") as whole:
            data = whole.read()
        file.write(data[: len(data) // 2])
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
