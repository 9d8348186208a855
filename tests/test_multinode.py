"""Two nodes x one process on localhost, started as a cluster launcher starts them (the README's recipe).

Each "node" is a separate `lit-rlvr fit` with `trainer.num_nodes=2`, its rank given by the
environment (`NODE_RANK`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`), as torchrun or SLURM set it.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

TESTS = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_of_one_process_train_together(tmp_path):
    port = free_port()
    command = [
        sys.executable, "-m", "lit_rlvr", "fit",
        "--model.model=tiny-random-llama", "--threads=1",
        "--trainer.accelerator=cpu", "--trainer.num_nodes=2", "--trainer.devices=1", "--trainer.max_steps=2",
        "--trainer.limit_val_batches=1", "--data.val_batch_size=4", "--data.prompts_per_step=2",
        "--rollout.engine.samples_per_prompt=2", "--rollout.engine.max_new_tokens=4",
        "--rollout.reward_workers=1",
        "--rollout.rewards=[{name: vowels, fn: reward_fns.vowel_share}]",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
    ]  # fmt: skip
    nodes, logs = [], []
    for node_rank in (0, 1):
        env = {
            **os.environ,
            "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "NODE_RANK": str(node_rank),
            "LOCAL_RANK": "0",
        }
        log = tmp_path / f"node{node_rank}.log"
        logs.append(log)
        with log.open("w") as out:  # a file, not a pipe: a node never blocks on a full pipe
            nodes.append(
                subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
            )
    for node, log in zip(nodes, logs, strict=True):
        assert node.wait(timeout=300) == 0, log.read_text()[-3000:]
    first = logs[0].read_text()
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in first and "GLOBAL_RANK: 1, MEMBER: 2/2" in logs[1].read_text()
    assert "validation accuracy: before" in first
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert state["global_step"] == 2
