"""Extending a finished run (`--ckpt_path last` with a larger `max_steps`) continues its data order:
2 steps, then extended to 6, train on the prompts a 6-step run takes, step by step, in one process
and in two. An epoch is 4 steps here (8 prompts, 2 per step), so the extension finishes the
epoch the first run stopped in and crosses into the next."""

import json
from pathlib import Path

import pytest
from test_resume import run_fit

EIGHT_PROMPTS = ["--data.task.train_size=8", "--checkpoint_every_n_steps=10"]


def fit(root: Path, *args: str) -> str:
    """Runs fit under `root`, logging each step's prompts per process; returns what it printed."""
    done = run_fit(root, *args)
    assert done.returncode == 0
    return done.stdout + done.stderr


def prompts(root: Path) -> dict[tuple[int, int], list[str]]:
    """`(step, rank)` -> the prompts that process trained on at that step."""
    lines = (root / "steps.jsonl").read_text().splitlines()
    return {(r["step"], r["rank"]): r["prompts"] for r in map(json.loads, lines)}


@pytest.mark.parametrize("devices", [1, 2])
def test_an_extended_run_takes_the_prompts_of_one_longer_run(tmp_path, devices):
    processes = [f"--trainer.devices={devices}", "--trainer.accelerator=cpu"]
    whole, extended = tmp_path / "whole", tmp_path / "extended"
    fit(whole, *EIGHT_PROMPTS, *processes, "--trainer.max_steps=6")
    fit(extended, *EIGHT_PROMPTS, *processes, "--trainer.max_steps=2")
    printed = fit(extended, *EIGHT_PROMPTS, *processes, "--trainer.max_steps=6", "--ckpt_path=last")
    assert "not resumable" not in printed  # the loader offers its position the way Lightning checks
    expected, got = prompts(whole), prompts(extended)
    assert sorted(got) == sorted(expected) == [(s, r) for s in range(1, 7) for r in range(devices)]
    assert got == expected
    first_epoch = [p for (step, _), batch in expected.items() if step <= 4 for p in batch]
    assert len(set(first_epoch)) == 8  # every prompt once in the first epoch
