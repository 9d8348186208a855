"""`ValidationSchedule`: the Trainer validates as samples or seconds cross each multiple, not by step."""

from pathlib import Path

import pytest
from fit_helpers import fit
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lit_rlvr.callbacks import ValidationSchedule

# 2 prompts x 2 samples: 4 completions a step, so 4, 8, 12, 16, 20 after steps 1..5.
SMALL = [
    "--data.prompts_per_step=2",
    "--rollout.engine.samples_per_prompt=2",
    "--rollout.engine.max_new_tokens=4",
    "--data.val_batch_size=2",
    "--trainer.limit_val_batches=1",
    "--validate_before_fit=false",
    "--trainer.callbacks+=lit_rlvr.callbacks.ValidationSchedule",
]


def validation_steps(root: Path) -> list[int]:
    """The logged step of each validation: during fit, the 0-based index of the training step it
    follows; after fit (the CLI's final validation), the number of steps done."""
    events = EventAccumulator(str(root / "lightning_logs" / "version_0"), size_guidance={"scalars": 0})
    events.Reload()
    return [event.step for event in events.Scalars("val/accuracy")]


def test_validates_when_the_samples_cross_each_multiple(tmp_path):
    # Multiples of 6 are crossed after steps 2 (8), 3 (12) and 5 (20); the step schedule (every
    # 2 steps here) no longer acts, and the loop's own decision is back after fit.
    cli, _ = fit(*SMALL, "--trainer.callbacks.every_samples=6", "--trainer.max_steps=5",
                 "--trainer.val_check_interval=2", root=str(tmp_path))  # fmt: skip
    assert validation_steps(tmp_path) == [1, 2, 4]  # after steps 2, 3 and 5, so none after fit
    schedule = next(c for c in cli.trainer.callbacks if isinstance(c, ValidationSchedule))
    assert (schedule.done, schedule.next_at) == (20, 24)
    loop = cli.trainer.fit_loop.epoch_loop
    assert loop._should_check_val_fx.__func__ is type(loop)._should_check_val_fx


def test_validates_on_training_seconds(tmp_path):
    # A budget no step reaches never validates during fit; a tiny one validates after every step.
    fit(*SMALL, "--trainer.callbacks.every_seconds=1e6", "--trainer.max_steps=2", root=str(tmp_path / "a"))
    assert validation_steps(tmp_path / "a") == [2]  # only the CLI's final validation, after fit
    fit(*SMALL, "--trainer.callbacks.every_seconds=1e-6", "--trainer.max_steps=2", root=str(tmp_path / "b"))
    assert validation_steps(tmp_path / "b") == [0, 1]


def test_a_budget_stops_training_once_spent_and_validates_on_the_way_out(tmp_path):
    # 4 samples a step: a budget of 10 samples is spent after step 3 (12), long before max_steps.
    cli, _ = fit(*SMALL, "--trainer.callbacks.every_samples=8", "--trainer.callbacks.budget=10",
                 "--trainer.max_steps=50", root=str(tmp_path))  # fmt: skip
    assert cli.trainer.global_step == 3
    assert validation_steps(tmp_path) == [1, 2]  # after step 2 (8 samples) and step 3 (the budget)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of every_samples and every_seconds"),
        ({"every_samples": 8, "every_seconds": 1.0}, "exactly one of every_samples and every_seconds"),
        ({"every_samples": 0}, "every_samples must be >= 1"),
        ({"every_seconds": 0.0}, "every_seconds must be > 0"),
        ({"every_samples": 8, "budget": 0.0}, "budget must be > 0"),
    ],
)
def test_refuses_a_schedule_it_cannot_keep(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ValidationSchedule(**kwargs)
