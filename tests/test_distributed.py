"""Two-process runs on CPU over gloo: DDP and FSDP2, through the real CLI in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).parent


@pytest.mark.parametrize("parallelism", ["ddp", "fsdp2"])
def test_two_process_fit(tmp_path, parallelism):
    command = [
        sys.executable, "-m", "lit_rlvr", "fit",
        "--model.model=tiny-random-llama", "--threads=1", f"--parallelism={parallelism}",
        "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.max_steps=4",
        "--trainer.val_check_interval=1", "--trainer.limit_val_batches=1", "--data.val_batch_size=4",
        "--data.prompts_per_step=2", "--rollout.samples_per_prompt=2", "--rollout.max_new_tokens=4",
        "--rollout.reward_workers=1", "--rollout.rewards=[{name: vowels, fn: reward_fns.vowel_share}]",
        "--model.ppo_epochs=2", "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "validation accuracy: before" in result.stdout
    checkpoint = sorted(tmp_path.glob("**/*.ckpt"))[-1]
    if parallelism == "fsdp2":  # a sharded checkpoint: one file per rank plus metadata
        assert (checkpoint / ".metadata").exists() and len(list(checkpoint.glob("*.distcp"))) == 2
    else:
        state = torch.load(checkpoint, weights_only=False)
        assert state["global_step"] == 4 and state["optimizer_states"]
