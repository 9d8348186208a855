"""The clip is alive: with more than one optimizer step per rollout, ratios leave 1 and clipping acts.

With one on-policy step per rollout every ratio is exactly 1, clipping never acts, and the
ratio-based objectives give GRPO's gradient. Each clipped objective's config is run here for one
rollout in two mini-batches with a learning rate large enough that the first step moves the tiny
policy far: the second mini-batch then sees ratios away from 1 and the objective's own clip
fraction is positive, while the first, on the sampling weights, clips nothing.
"""

from pathlib import Path

import pytest
from fit_helpers import TINY_ARGS, logged

from lit_rlvr.cli import run

CONFIGS = Path(__file__).parents[1] / "configs"
TWO_STEPS = [
    *TINY_ARGS,
    "--model.lr=0.05",
    "--model.ppo_epochs=1",
    "--model.mini_batches=2",
    "--trainer.max_steps=2",
    "--rollout.engine.max_new_tokens=8",
    "--rollout.engine.top_k=0",
    "--rollout.engine.temperature=1.0",
    "--validate_before_fit=false",
    "--trainer.limit_val_batches=0",
    "--trainer.enable_checkpointing=false",
]
# Where the shared reward does not suit the config: DAPO filters groups on correctness, which the
# vowel share never reaches.
ADAPTED = {"dapo": ["--model.objective.filter_metric=reward"]}
# Each clipped objective and the metrics that say its clip acted.
CLIP_METRICS = {
    "grpo": ["objective/clip_frac_low", "objective/clip_frac_high"],
    "dr_grpo": ["objective/clip_frac_low", "objective/clip_frac_high"],
    "dapo": ["objective/clip_frac_low", "objective/clip_frac_high"],
    "rloo": ["objective/clip_frac_low", "objective/clip_frac_high"],
    "reinforce_pp_baseline": ["objective/clip_frac_low", "objective/clip_frac_high"],
    "gspo": ["objective/seq_clip_frac_low", "objective/seq_clip_frac_high"],
    "gspo_token": ["objective/seq_clip_frac_low", "objective/seq_clip_frac_high"],
    "sspo": ["objective/segment_clip_frac_low", "objective/segment_clip_frac_high"],
    "gmpo": ["objective/clip_frac_low", "objective/clip_frac_high"],
    "cispo": ["objective/clip_frac_low", "objective/clip_frac_high"],
    "sppo": ["objective/clip_frac_low", "objective/clip_frac_high", "objective/clip_frac_dual"],
    "ppo": ["objective/clip_frac_low", "objective/clip_frac_high", "objective/clip_frac_dual"],
}


def readings(root, *keys: str) -> list[dict[str, float]]:
    """Each optimizer step's logged `keys`."""
    by_key = {key: dict(logged(root, key)) for key in keys}
    return [{key: by_key[key][step] for key in keys} for step in sorted(by_key[keys[0]])]


@pytest.mark.parametrize("config", sorted(CLIP_METRICS))
def test_the_second_step_on_a_rollout_is_off_policy_and_clips(config, tmp_path):
    args = ["fit", f"--config={CONFIGS / config}.yaml", *TWO_STEPS, f"--trainer.default_root_dir={tmp_path}"]
    run(args + ADAPTED.get(config, []))
    keys = ["update/on_policy", "objective/approx_kl_old", "objective/ratio_max", "objective/ratio_min"]
    first, second = readings(tmp_path, *keys, *CLIP_METRICS[config])
    assert first["update/on_policy"] == 1 and second["update/on_policy"] == 0
    assert all(first[key] == 0 for key in CLIP_METRICS[config]), first
    assert second["objective/approx_kl_old"] > 0, second
    assert second["objective/ratio_max"] > 1 + 1e-6 or second["objective/ratio_min"] < 1 - 1e-6, second
    assert sum(second[key] for key in CLIP_METRICS[config]) > 0, second


def test_sapo_gate_closes_off_policy(tmp_path):
    # SAPO has no hard clip: its gate's slope, 1 on-policy, drops below 1 on the second step.
    run(["fit", f"--config={CONFIGS / 'sapo'}.yaml", *TWO_STEPS, f"--trainer.default_root_dir={tmp_path}"])
    first, second = readings(tmp_path, "objective/approx_kl_old", "objective/gate_weight_mean")
    assert first["objective/gate_weight_mean"] == pytest.approx(1.0, abs=1e-6)
    assert second["objective/approx_kl_old"] > 0
    assert second["objective/gate_weight_mean"] < 1 - 1e-6
