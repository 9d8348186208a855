"""Every config runs `lit-rlvr fit --config configs/<x>.yaml --trainer.max_steps 2` on the tiny model."""

import math
from pathlib import Path

import pytest
import torch
import yaml
from conftest import needs_vllm
from fit_helpers import History
from fit_helpers import logged as logged_scalars

from lit_rlvr.cli import run
from lit_rlvr.models import TINY

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
# The tiny model has 2 decoder layers; the small-critic config keeps 6 of SmolLM2's 30.
ON_THE_TINY_MODEL = {
    "sppo_small_critic": ["--model.critic.num_layers=1"],
    "grpo_vllm": ["--rollout.engine.kv_cache_gib=0.25", "--rollout.engine.max_model_len=256"],
}
# Keeps the two steps quick: one small validation batch and short completions.
QUICK = [
    "--trainer.limit_val_batches=1",
    "--data.val_batch_size=4",
    "--rollout.engine.max_new_tokens=12",
    "--rollout.reward_workers=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--trainer.callbacks+=fit_helpers.History",
    "--threads=1",
]


@pytest.mark.parametrize(
    "config",
    [pytest.param(c, marks=needs_vllm) if "vllm" in c.stem else c for c in CONFIGS],
    ids=lambda p: p.stem,
)
def test_config_fits_two_steps_on_the_tiny_model(config, tmp_path, request):
    model = yaml.safe_load(config.read_text())["model"]
    tiny = request.getfixturevalue("tiny_hd32_folder") if "vllm" in config.stem else TINY
    steps_per_rollout = model["ppo_epochs"] * model["mini_batches"]
    cli = run(
        ["fit", f"--config={config}", f"--trainer.max_steps={2 * steps_per_rollout}", f"--model.model={tiny}",
         f"--trainer.default_root_dir={tmp_path}", *QUICK, *ON_THE_TINY_MODEL.get(config.stem, [])]
    )  # fmt: skip
    module, trainer = cli.model, cli.trainer
    assert trainer.global_step == 2 * module.updates_per_rollout
    (history,) = [c for c in trainer.callbacks if isinstance(c, History)]
    logged = history.steps[-1]
    assert {"rollout/advantage_mean", "reward/mean", "rollout/sampling_rounds"} <= set(logged)
    if module.critic is not None:
        assert {"critic/value_loss", "critic/explained_variance", "critic/value_mean"} <= set(logged)
    if module.objective.critic_kind == "prompt":
        assert {"critic/calibration_gap", "critic/brier"} <= set(logged)
        # the math rewards of a random model are all 0, which the BCE already learns from
        assert module.critic.head.bias < 0, "the prompt critic did not learn"
    assert all(torch.isfinite(torch.tensor(v)) for v in logged.values()), logged
    losses = logged_scalars(tmp_path, "update/loss")
    assert [step for step, _ in losses] == list(range(trainer.global_step))
    assert all(math.isfinite(loss) for _, loss in losses), losses
