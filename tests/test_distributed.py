"""Two-process runs on CPU over gloo: DDP and FSDP2, through the real CLI in a subprocess."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from lit_rlvr import strategy
from lit_rlvr.models import TINY, load_causal_lm
from lit_rlvr.objectives import GRPO, ObjectiveOutput, PolicyBatch

TESTS = Path(__file__).parent


def two_process_fit(tmp_path: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "lit_rlvr", "fit", *([f"--config={config}"] if config else []),
        "--model.model=tiny-random-llama", "--threads=1",
        "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.max_steps=4",
        "--trainer.val_check_interval=1", "--trainer.limit_val_batches=1", "--data.val_batch_size=4",
        "--data.prompts_per_step=2", "--rollout.engine.samples_per_prompt=2",
        "--rollout.engine.max_new_tokens=4",
        "--rollout.reward_workers=1", "--rollout.rewards=[{name: vowels, fn: reward_fns.vowel_share}]",
        "--model.ppo_epochs=2", "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}", *args,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("parallelism", ["ddp", "fsdp2"])
def test_two_process_fit(tmp_path, parallelism):
    result = two_process_fit(tmp_path, f"--parallelism={parallelism}")
    assert "validation accuracy: before" in result.stdout
    checkpoint = sorted(tmp_path.glob("**/*.ckpt"))[-1]
    if parallelism == "fsdp2":  # a sharded checkpoint: one file per rank plus metadata
        assert (checkpoint / ".metadata").exists() and len(list(checkpoint.glob("*.distcp"))) == 2
    else:
        state = torch.load(checkpoint, weights_only=False)
        assert state["global_step"] == 4 and state["optimizer_states"]


@pytest.mark.slow  # the FSDP2 fit above covers the mechanism; this adds checkpointed blocks to it
def test_fsdp2_fit_with_activation_checkpointing(tmp_path):
    result = two_process_fit(tmp_path, "--parallelism=fsdp2", "--model.activation_checkpointing=true")
    assert "validation accuracy: before" in result.stdout


class NaNOnRankOneGRPO(GRPO):
    """GRPO whose loss value is NaN on process 1 only, through a term without gradient."""

    def __call__(self, batch: PolicyBatch) -> ObjectiveOutput:
        out = super().__call__(batch)
        return out._replace(loss=out.loss + torch.tensor(float("nan") if dist.get_rank() == 1 else 0.0))


def test_a_non_finite_loss_on_one_process_skips_the_update_on_all(tmp_path):
    # Gradients are averaged, so they stay finite; only process 1 sees the NaN loss. Process 0 must
    # skip too, or the replicas would part ways; its checkpoint shows it never stepped.
    two_process_fit(
        tmp_path,
        "--parallelism=ddp",
        "--model.objective=test_distributed.NaNOnRankOneGRPO",
        "--nonfinite.max_consecutive_skips=0",
    )
    state = torch.load(sorted(tmp_path.glob("**/*.ckpt"))[-1], weights_only=False)
    assert state["skipped_updates"] == 4
    start = load_causal_lm(TINY).state_dict()
    for name, value in start.items():
        assert torch.equal(state["state_dict"][f"policy.{name}"], value), name


def _model(parameters: int) -> torch.nn.Module:
    return torch.nn.Linear(parameters, 1, bias=False)


def test_the_registry_places_each_model_the_objective_needs():
    policy, reference = _model(1000), _model(1000)
    alone = {"policy": policy, "reference": None, "critic": None}
    assert strategy.plan(alone, None, on_gpu=False) == {"policy": "shard"}
    both = {"policy": policy, "reference": reference, "critic": _model(1000)}
    expected = {"policy": "shard", "reference": "shard", "critic": "shard"}
    assert strategy.plan(both, None, on_gpu=False) == expected
    small = {"policy": policy, "reference": None, "critic": _model(210)}  # SPPO's 1.5B critic for a 7B policy
    assert strategy.plan(small, None, on_gpu=False)["critic"] == "replicate"
    assert strategy.plan(small, strategy.Placement(critic="shard"), on_gpu=False)["critic"] == "shard"
    offload = strategy.Placement(reference="offload")
    assert strategy.plan(both, offload, on_gpu=True)["reference"] == "offload"
    with pytest.raises(ValueError, match="model.placement.reference=offload needs a GPU run"):
        strategy.plan(both, offload, on_gpu=False)


SHARDED = "sharded over 2 processes (FSDP2)"


@pytest.mark.parametrize(
    ("config", "args", "expected"),
    [
        pytest.param(
            "ppo.yaml",
            ["--model.critic.lr=1e-3"],
            {"reference": SHARDED, "critic": SHARDED},
            marks=pytest.mark.slow,  # PPO's critic under FSDP2 runs in the default suite in test_world_size
        ),
        (
            "sppo_small_critic.yaml",
            ["--model.critic.num_layers=1", "--model.placement.critic=replicate"],
            {"reference": None, "critic": "replicated on each of 2 processes, gradients all-reduced"},
        ),
    ],
)
def test_fsdp2_places_policy_reference_and_critic_as_planned(tmp_path, config, args, expected):
    result = two_process_fit(tmp_path, "--parallelism=fsdp2", *args, config=TESTS.parent / "configs" / config)
    log = result.stdout + result.stderr
    assert f"policy: 3.2M parameters (100% of the policy), {SHARDED}" in log
    for name, how in expected.items():
        line = re.search(rf"^{name}: [\d.]+M parameters \(\d+% of the policy\), (.*)$", log, re.MULTILINE)
        assert (line and line.group(1)) == how, log[-2000:]
