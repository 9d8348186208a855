"""Generation under FSDP2 (2 processes, gloo): parameters gathered once per rollout, completions unchanged."""

import json
import os
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).parent.parent / "tools" / "benchmark_fsdp2_generation.py"


def test_generation_gathers_each_block_once_and_matches_the_unsharded_model(tmp_path):
    out = tmp_path / "generation.json"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(TOOL),
        "--new_tokens=12", f"--out={out}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    unsharded = result["unsharded"]["completions"]
    assert result["per_token"]["completions"] == unsharded == result["gathered_once"]["completions"]
    assert all(len(row) == 12 for row in unsharded)
    # two decoder blocks and the root are sharded: at most one gather each, against one per token
    assert result["gathered_once"]["all_gathers"] <= 3 < 12 <= result["per_token"]["all_gathers"]
