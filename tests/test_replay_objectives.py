"""`tools/replay_objectives.py` draws rollouts once and trains each arm on exactly those."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[1]
TINY = [
    "--model.model=tiny-random-llama",
    "--threads=1",
    "--rollout.rewards=[{name: vowels, fn: reward_fns.more_vowels}]",
    "--rollout.reward_workers=1",
    "--rollout.engine.max_new_tokens=8",
    "--model.lr=0.01",
]


def replay(out: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, str(ROOT / "tools" / "replay_objectives.py"), "--out", str(out), *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    out = tmp_path_factory.mktemp("replay")
    arms = ["--arm", "grpo=configs/grpo.yaml", "--arm", "grpo_2mb=configs/grpo.yaml --model.mini_batches=2"]
    replay(out, "--rollouts", "2", *arms, "--", *TINY)
    with (out / "replay.csv").open() as file:
        rows = list(csv.DictReader(file))
    return out, rows


def test_each_arm_trains_on_the_same_saved_rollouts_step_by_step(replayed):
    out, rows = replayed
    by_arm = {arm: [r for r in rows if r["arm"] == arm] for arm in ("grpo", "grpo_2mb")}
    assert [int(r["update"]) for r in by_arm["grpo"]] == [0, 1]  # one optimizer step per rollout
    assert [int(r["update"]) for r in by_arm["grpo_2mb"]] == [0, 1, 2, 3]
    assert [float(r["rollout_step"]) for r in by_arm["grpo_2mb"]] == [0, 0, 1, 1]
    assert all(float(r["kl_to_start"]) > 0 for r in rows)  # every update moved the policy
    assert (out / "replay.png").read_bytes().startswith(b"\x89PNG")
    # On the first rollout, GRPO's gradient is zero exactly on the groups whose rewards are all equal.
    first = torch.load(out / "rollouts.pt", weights_only=False)[0]
    rewards = first.rewards.view(-1, first.group_size)
    flat_groups = (rewards == rewards[:, :1]).all(1).repeat_interleave(first.group_size)
    tokens = first.completion_mask.sum(1).float()
    expected = float(tokens[flat_groups].sum() / tokens.sum())
    assert 0 < expected < 1, "the test needs both kinds of group"
    assert float(by_arm["grpo"][0]["zero_grad_tokens"]) == pytest.approx(expected, abs=1e-6)
    # The update raises the right completions' likelihood against the wrong ones'.
    step = by_arm["grpo"][0]
    assert float(step["logp_change_correct"]) > float(step["logp_change_incorrect"])


@pytest.mark.slow  # 40 seconds: a second replay; the first one's readings are checked above
def test_replaying_saved_rollouts_again_gives_the_same_readings(replayed, tmp_path):
    out, rows = replayed
    replay(tmp_path, "--load", str(out / "rollouts.pt"), "--arm", "grpo=configs/grpo.yaml", "--", *TINY)
    with (tmp_path / "replay.csv").open() as file:
        again = list(csv.DictReader(file))
    expected = [r for r in rows if r["arm"] == "grpo"]
    assert [r["update"] for r in again] == [r["update"] for r in expected]
    for got, want in zip(again, expected, strict=True):
        for key in ("zero_grad_tokens", "clip_frac", "kl_to_start"):
            assert float(got[key]) == pytest.approx(float(want[key]), rel=1e-5), key
