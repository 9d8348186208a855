"""Exact resume: `lit-rlvr fit` killed with SIGKILL and resumed from `last.ckpt` repeats an uninterrupted run.

Each run is a `python -m lit_rlvr fit` subprocess on the tiny random model (CPU, one thread, fixed
seeds). The training split holds 4 prompts and a step takes 2, so an epoch is 2 steps; a
checkpoint every 3 steps lands mid-epoch (step 3) and on an epoch boundary (step 6).
"""

import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from lit_rlvr.callbacks import RolloutCollector
from lit_rlvr.data import PromptDataModule, ResumableSampler
from lit_rlvr.models import TINY
from lit_rlvr.tasks.arithmetic import ArithmeticTask

TESTS = Path(__file__).parent
STEPS = 8
ARGS = [
    "--model.model=tiny-random-llama",
    "--threads=1",
    "--seed_everything=0",
    "--rollout.reward_workers=1",
    "--rollout.rewards=[{name: vowels, fn: reward_fns.vowel_share}]",
    "--rollout.engine.samples_per_prompt=2",
    "--rollout.engine.max_new_tokens=4",
    "--model.lr=1e-3",
    "--model.log_completions_every=0",
    "--data.prompts_per_step=2",
    "--data.task=lit_rlvr.tasks.arithmetic.ArithmeticTask",
    "--data.task.train_size=4",
    "--data.task.val_size=2",
    "--validate_before_fit=false",
    "--trainer.limit_val_batches=0",
    f"--trainer.max_steps={STEPS}",
    "--checkpoint_every_n_steps=3",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]


def fit(
    root: Path,
    *args: str,
    kill_at_step: int = 0,
    env: dict[str, str] | None = None,
    config: str | None = None,
) -> int:
    """Runs fit under `root`, logging steps to `root/steps.jsonl`; returns the exit status."""
    return run_fit(root, *args, kill_at_step=kill_at_step, env=env, config=config).returncode


def run_fit(
    root: Path,
    *args: str,
    kill_at_step: int = 0,
    env: dict[str, str] | None = None,
    config: str | None = None,
) -> subprocess.CompletedProcess:
    """`fit`, returning the finished process (its output too)."""
    init = f"{{path: {root / 'steps.jsonl'}, kill_at_step: {kill_at_step}}}"
    log = f"--trainer.callbacks+={{class_path: resume_helpers.StepLog, init_args: {init}}}"
    command = [
        sys.executable,
        "-m",
        "lit_rlvr",
        "fit",
        *([f"--config={config}"] if config else []),
        *ARGS,
        f"--trainer.default_root_dir={root}",
        log,
        *args,
    ]
    environ = {**os.environ, "PYTHONPATH": str(TESTS), **(env or {})}
    done = subprocess.run(command, cwd=TESTS, env=environ, capture_output=True, text=True, timeout=300)
    if done.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(done.stderr[-4000:])
    return done


def steps(root: Path) -> dict[int, dict]:
    """The last record of each step (a resumed run repeats the steps after its checkpoint)."""
    lines = (root / "steps.jsonl").read_text().splitlines()
    return {record["step"]: record for record in map(json.loads, lines)}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("uninterrupted")
    assert fit(root) == 0
    return steps(root)


def assert_same_run(resumed: dict[int, dict], uninterrupted: dict[int, dict]) -> None:
    assert sorted(resumed) == list(range(1, STEPS + 1))
    for step, expected in uninterrupted.items():
        assert resumed[step] == expected, f"step {step}: {resumed[step]} != {expected}"


def test_uninterrupted_run_sees_every_prompt_once_per_epoch(uninterrupted):
    assert sorted(uninterrupted) == list(range(1, STEPS + 1))
    for first in range(1, STEPS, 2):
        epoch = uninterrupted[first]["prompts"] + uninterrupted[first + 1]["prompts"]
        assert len(set(epoch)) == 4
    assert uninterrupted[1]["prompts"] != uninterrupted[3]["prompts"]  # each epoch reshuffles


def test_kill_during_checkpoint_write_keeps_the_previous_one(tmp_path, uninterrupted):
    rc = fit(
        tmp_path,
        "--trainer.plugins=resume_helpers.KillMidWrite",
        env={"KILL_DURING_SAVE_STEP": "6"},
    )
    assert rc == -signal.SIGKILL
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert (tmp_path / "checkpoints" / ".last.ckpt.partial").exists()  # the write that was cut short
    assert torch.load(last, weights_only=False)["global_step"] == 3  # mid-epoch
    assert fit(tmp_path, "--ckpt_path=last") == 0
    assert_same_run(steps(tmp_path), uninterrupted)


def test_sigkill_then_resume_at_an_epoch_boundary(tmp_path, uninterrupted):
    assert fit(tmp_path, kill_at_step=7) == -signal.SIGKILL
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 6 and checkpoint["PromptDataModule"]["sampler"]["served"] == 4
    assert fit(tmp_path, "--ckpt_path=last") == 0
    assert_same_run(steps(tmp_path), uninterrupted)


@pytest.mark.slow  # 40 s; GRPO resume after kill -9 stays in the default run
def test_ppo_with_critic_and_adaptive_kl_resumes_exactly(tmp_path):
    config = str(TESTS.parent / "configs" / "ppo.yaml")
    ppo = ["--model.objective.kl_target=0.01", "--model.objective.kl_horizon=8", "--model.critic.lr=1e-3"]
    ppo += ["--model.ppo_epochs=1", "--model.mini_batches=1"]  # step 5 inside the run (ppo.yaml: 4 a rollout)
    assert fit(tmp_path / "uninterrupted", *ppo, config=config) == 0
    assert fit(tmp_path / "resumed", *ppo, config=config, kill_at_step=5) == -signal.SIGKILL
    assert fit(tmp_path / "resumed", *ppo, "--ckpt_path=last", config=config) == 0
    uninterrupted = steps(tmp_path / "uninterrupted")
    assert "critic/value_loss" in uninterrupted[1]
    assert_same_run(steps(tmp_path / "resumed"), uninterrupted)


def test_dynamic_sampling_prompt_stream_resumes_where_it_stopped():
    datamodule = PromptDataModule(
        task=ArithmeticTask(train_size=6, val_size=2), model=TINY, prompts_per_step=2
    )
    datamodule.setup("fit")
    datamodule.trainer = SimpleNamespace(global_step=5, world_size=1, global_rank=0)
    stream = datamodule.more_train_batches()
    for _ in range(4):  # past the end of one pass (3 batches)
        next(stream)
    second = PromptDataModule(task=ArithmeticTask(train_size=6, val_size=2), model=TINY, prompts_per_step=2)
    second.setup("fit")
    second.trainer = SimpleNamespace(global_step=9, world_size=1, global_rank=0)  # resumed later
    second.load_state_dict(datamodule.state_dict())  # the seed comes from the checkpoint, not the step
    for _ in range(3):
        assert next(second.more_train_batches())["rows"] == next(stream)["rows"]


def test_rollout_callback_checkpoints_its_reward_failure_counts():
    first = RolloutCollector(reward_workers=1)
    first.failures = {"correct/timeout": 2}
    second = RolloutCollector(reward_workers=1)
    second.load_state_dict(first.state_dict())
    assert second.failures == {"correct/timeout": 2}
    first.scorer.close()
    second.scorer.close()


def test_sampler_resumes_mid_pass_and_reshuffles_each_pass():
    first = sampler()
    stream = iter(first)
    seen = [next(stream) for _ in range(4)]
    uninterrupted = list(itertools.islice(sampler(), 30))
    assert seen + list(itertools.islice(sampler(first.state_dict()), 26)) == uninterrupted
    for start in (0, 10, 20):  # every prompt once per pass, each pass in a new order
        assert sorted(uninterrupted[start : start + 10]) == list(range(10))
    assert uninterrupted[:10] != uninterrupted[10:20] != uninterrupted[20:]
    # saved at the end of a pass, it starts the next one; Lightning's epochs do not move it
    ended = sampler({"epoch": 0, "served": 10, "replicas": 1})
    ended.set_epoch(7)
    assert list(itertools.islice(ended, 10)) == uninterrupted[10:20]
    # a new iterator (Lightning's next epoch) continues the stream
    window = sampler()
    assert list(itertools.islice(window, 7)) + list(itertools.islice(window, 7)) == uninterrupted[:14]


def sampler(state: dict | None = None) -> ResumableSampler:
    resumable = ResumableSampler(range(10), num_replicas=1, rank=0, seed=3)
    if state is not None:
        resumable.load_state_dict(state)
    return resumable
