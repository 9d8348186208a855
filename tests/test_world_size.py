"""World-size-exact losses: two processes (gloo) take the gradient one process takes on the same global batch.

The global batch falls unevenly across the two processes (15 and 16 completion tokens), so
normalisers counted per process would give `token_mean` a mean of per-process means, off by about
4% here; counted over every process (`LossNorm.of`), the gradients agree to float32 rounding.
PPO adds a token critic (its value loss normalised the same way), advantages whitened over the
global batch and the KL in the reward. `tests/world_size_gradient.py` runs each side.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).parent


def parameter_change(tmp_path: Path, objective: str, parallelism: str = "single", devices: int = 1) -> dict:
    out = tmp_path / f"{objective}-{parallelism}.pt"
    command = [
        sys.executable, str(TESTS / "world_size_gradient.py"), str(out),
        f"--objective={objective}", f"--parallelism={parallelism}", f"--devices={devices}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(out)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    cache = {}

    def change(objective: str) -> dict:
        if objective not in cache:
            cache[objective] = parameter_change(tmp_path_factory.mktemp(objective), objective)
        return cache[objective]

    return change


@pytest.mark.parametrize(
    ("objective", "parallelism"),
    [
        ("token_mean", "ddp"),
        ("ppo", "ddp"),
        ("ppo", "fsdp2"),
        pytest.param("seq_mean_token_mean", "ddp", marks=pytest.mark.slow),
        pytest.param("dr_grpo", "ddp", marks=pytest.mark.slow),
        pytest.param("token_mean", "fsdp2", marks=pytest.mark.slow),
        pytest.param("seq_mean_token_mean", "fsdp2", marks=pytest.mark.slow),
        pytest.param("dr_grpo", "fsdp2", marks=pytest.mark.slow),
    ],
)
def test_two_processes_take_the_one_process_gradient(tmp_path, one_process, objective, parallelism):
    expected = one_process(objective)
    got = parameter_change(tmp_path, objective, parallelism, devices=2)
    assert got.keys() == expected.keys()
    moved = {name for name, change in expected.items() if change.abs().max() > 0}
    # the critic's head starts at zero, so its backbone gets no gradient on the first step
    assert {n for n in expected if n.startswith("policy.")} <= moved
    assert ("critic.head.weight" in moved) == (objective == "ppo")
    for name, change in expected.items():
        torch.testing.assert_close(got[name], change, rtol=1e-4, atol=1e-6, msg=name)
