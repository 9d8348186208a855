"""`lit-rlvr fit` on file datasets (GSM8K and MATH formats) with the embedded SmolLM2 model."""

from pathlib import Path

import pytest
from fit_helpers import fit

ASSETS = Path(__file__).parent / "assets"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "path"),
    [("lit_rlvr.tasks.readers.GSM8KTask", "gsm8k.jsonl"), ("lit_rlvr.tasks.readers.MATHTask", "math.jsonl")],
)
def test_fit_on_a_file_task_with_the_embedded_model(tmp_path, task, path):
    cli, history = fit(
        "--model.model=smollm2-135m-instruct",
        "--rollout.rewards=[{name: correct, fn: lit_rlvr.rewards.math.correct}]",
        f"--data.task={task}",
        f"--data.task.train={ASSETS / path}",
        "--data.task.validation_fraction=0.4",
        "--data.prompts_per_step=2",
        "--data.val_batch_size=2",
        "--rollout.engine.samples_per_prompt=2",
        "--rollout.engine.max_new_tokens=16",
        "--trainer.max_steps=2",
        "--trainer.limit_val_batches=1",
        "--trainer.callbacks+=fit_helpers.History",
        root=str(tmp_path),
    )
    assert cli.trainer.global_step == 2
    assert len(history.steps) == 2 and all("reward/mean" in step for step in history.steps)
    assert cli.datamodule.splits["train"][0]["data_source"] in ("gsm8k", "math")
