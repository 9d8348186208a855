"""Running `lit-rlvr fit` in-process on the tiny random model, recording per-step metrics."""

import glob

import torch
from lightning import Callback
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lit_rlvr.cli import run

TINY_ARGS = [
    "--model.model=tiny-random-llama",
    "--threads=1",
    "--rollout.reward_workers=1",
    "--rollout.rewards=[{name: vowels, fn: reward_fns.vowel_share}]",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.log_completions_every=0",
]


class History(Callback):
    """Keeps every logged training metric of every step."""

    def __init__(self) -> None:
        self.steps: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def fit(*args: str, root: str) -> tuple[object, History]:
    """Runs fit with the tiny defaults plus `args`; returns the CLI and the per-step metric history."""
    history = History()
    cli = run(["fit", *TINY_ARGS, f"--trainer.default_root_dir={root}", *args])
    for callback in cli.trainer.callbacks:
        if isinstance(callback, History):
            history = callback
    return cli, history


def logged(root, tag: str) -> list[tuple[int, float]]:
    """`(step, value)` of scalar `tag` from the run's TensorBoard events (the step of its own axis),
    in the order logged, over every event file (validation before fit writes one of its own)."""
    events = []
    for path in glob.glob(f"{root}/lightning_logs/version_0/events.out.tfevents.*"):
        accumulator = EventAccumulator(path, size_guidance={"scalars": 0}).Reload()
        if tag in accumulator.Tags()["scalars"]:
            events += accumulator.Scalars(tag)
    if not events:
        raise AssertionError(f"{tag} was not logged")
    return [(event.step, event.value) for event in sorted(events, key=lambda e: e.wall_time)]


class UpdateSnapshots(Callback):
    """Keeps each rollout and, at each policy optimizer step, the weights its gradient was taken at
    and the gradient norm it applies (after clipping)."""

    def __init__(self) -> None:
        self.rollouts: list[object] = []
        self.weights: list[dict[str, torch.Tensor]] = []
        self.applied_norms: list[float] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.weights.append({k: v.detach().clone() for k, v in pl_module.policy.state_dict().items()})
        grads = [p.grad for p in pl_module.policy.parameters() if p.grad is not None]
        self.applied_norms.append(float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.rollouts.append(batch["rollout"])
