"""Running `lit-rlvr fit` in-process on the tiny random model, recording per-step metrics."""

from lightning import Callback

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
