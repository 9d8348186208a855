"""Resuming at another world size: an FSDP2 run's sharded checkpoint in one process, and one process's
checkpoint under FSDP2, through the real CLI (gloo on CPU). Weights, optimizer state and step
counters carry over, and the data position counts the prompts trained on by every process."""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lit_rlvr.data import ResumableSampler
from lit_rlvr.resharding import consolidate

TESTS = Path(__file__).parent


def fit(
    tmp_path: Path, devices: int, max_steps: int, *args: str, config: str | None = None
) -> subprocess.CompletedProcess:
    configs = [f"--config={TESTS.parent / 'configs' / config}"] if config else []
    command = [
        sys.executable, "-m", "lit_rlvr", "fit", *configs, "--model.model=tiny-random-llama", "--threads=1",
        "--trainer.accelerator=cpu", f"--trainer.devices={devices}", f"--trainer.max_steps={max_steps}",
        "--trainer.val_check_interval=2", "--trainer.limit_val_batches=1", "--data.val_batch_size=4",
        "--data.prompts_per_step=2", "--rollout.engine.samples_per_prompt=2",
        "--rollout.engine.max_new_tokens=4",
        "--rollout.reward_workers=1", "--rollout.rewards=[{name: vowels, fn: reward_fns.vowel_share}]",
        "--model.ppo_epochs=2", "--model.mini_batches=1", "--model.lr=1e-3",
        "--trainer.enable_progress_bar=false",
        "--checkpoint_every_n_steps=2", f"--trainer.default_root_dir={tmp_path}", *args,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("before, after", [(2, 1), (1, 2), (2, 4)])
def test_data_position_carries_over_to_another_world_size(before, after):
    """After each of `before` processes served 6 prompts, `after` processes serve exactly the rest of
    the epoch's shuffled order (the first 6 * before prompts are the ones trained on)."""
    dataset = range(40)
    old = [ResumableSampler(dataset, num_replicas=before, rank=r, seed=3) for r in range(before)]
    trained = set()
    for sampler in old:
        stream = iter(sampler)
        trained |= {next(stream) for _ in range(6)}
    order = list(itertools.islice(ResumableSampler(dataset, num_replicas=1, rank=0, seed=3), 40))  # pass 0
    assert trained == set(order[: 6 * before])
    rest = []
    for rank in range(after):
        sampler = ResumableSampler(dataset, num_replicas=after, rank=rank, seed=3)
        sampler.load_state_dict(old[0].state_dict())
        rest += list(itertools.islice(sampler, len(sampler) - sampler.served))  # the rest of the pass
    assert sorted(rest) == sorted(order[6 * before :])


@pytest.mark.slow  # two CLI runs, one with two processes
def test_fsdp2_checkpoint_resumes_in_one_process(tmp_path):
    fit(tmp_path, 2, 4, "--parallelism=fsdp2")
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert (last / ".metadata").is_file()  # sharded: a folder
    result = fit(tmp_path, 1, 8, "--ckpt_path=last")
    assert "resuming from the sharded checkpoint" in result.stdout + result.stderr
    start = torch.load(tmp_path / "checkpoints" / "last-consolidated.ckpt", weights_only=False)
    end = torch.load(last, weights_only=False)  # the one process's checkpoint replaced the folder
    assert start["global_step"] == 4 and end["global_step"] == 8
    assert len(start["optimizer_states"][0]["state"]) == len(end["optimizer_states"][0]["state"]) > 0
    assert start["PromptDataModule"]["sampler"]["replicas"] == 2
    assert end["PromptDataModule"]["sampler"]["replicas"] == 1
    moved = [not torch.equal(start["state_dict"][k], end["state_dict"][k]) for k in start["state_dict"]]
    assert any(moved)


@pytest.mark.slow  # three CLI runs, two with two processes
def test_one_process_checkpoint_resumes_under_fsdp2(tmp_path):
    """PPO (a reference and a critic, so two optimizers): a resume under FSDP2 with no step left writes
    the one-process checkpoint's weights and both optimizers' states back out unchanged; then it trains on."""
    fit(tmp_path, 1, 4, config="ppo.yaml")
    last = tmp_path / "checkpoints" / "last.ckpt"
    original = torch.load(last, weights_only=False)
    fit(tmp_path, 2, 4, "--parallelism=fsdp2", "--ckpt_path=last", config="ppo.yaml")
    assert (last / ".metadata").is_file()
    back = torch.load(consolidate(last, tmp_path / "back.ckpt"), weights_only=False)
    for key, value in original["state_dict"].items():
        torch.testing.assert_close(back["state_dict"][key], value, rtol=0, atol=0)
    assert len(back["optimizer_states"]) == len(original["optimizer_states"]) == 2
    for loaded, saved in zip(back["optimizer_states"], original["optimizer_states"], strict=True):
        assert loaded["state"].keys() == saved["state"].keys()
        for position, moments in saved["state"].items():
            for name, value in moments.items():
                torch.testing.assert_close(loaded["state"][position][name], value, rtol=0, atol=0)
    fit(tmp_path, 2, 8, "--parallelism=fsdp2", "--ckpt_path=last", config="ppo.yaml")
    meta = torch.load(last / "meta.pt", weights_only=False)
    assert meta["global_step"] == 8 and meta["PromptDataModule"]["sampler"]["replicas"] == 2
