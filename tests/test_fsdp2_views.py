"""FSDP2's "returned a view tensor" warning: our forwards return no views, and the one view left
(FSDP2's own, in the hidden states we ask for) is harmless, so it is silenced there and only there."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "fsdp2_views.py"


def test_fsdp2_forwards_return_no_views_but_the_first_block_input_fsdp2_makes(tmp_path):
    out = tmp_path / "views.json"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(SCRIPT), str(out)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    # the first hidden state is the first block's input after FSDP2's identity pre-forward function
    assert report["hidden_state_views"][0] and not any(report["hidden_state_views"][1:])
    assert not report["logits_view"]
    assert report["policy"] == report["token_critic"] == report["prompt_critic"] == []
    assert report["same_gradient"]  # the view changes nothing: gradients equal the unsharded model's
