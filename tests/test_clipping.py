"""The clip is alive: with more than one optimizer step per rollout, ratios leave 1 and clipping acts.

With one on-policy step per rollout every ratio is exactly 1, clipping never acts, and the
ratio-based objectives give GRPO's gradient. Each clipped objective's config is run here for one
rollout in two mini-batches with a learning rate large enough that the first step moves the tiny
policy far: the second mini-batch then sees ratios away from 1 and the objective's own clip
fraction is positive. The first mini-batch is exactly on-policy (ratio 1, k3 KL 0), so the
logged means over the two steps are positive only through the second.
"""

from pathlib import Path

import pytest
from fit_helpers import TINY_ARGS, History

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
    "--trainer.logger=false",
    "--trainer.enable_checkpointing=false",
    "--trainer.callbacks+=fit_helpers.History",
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


@pytest.mark.parametrize("config", sorted(CLIP_METRICS))
def test_the_second_step_on_a_rollout_is_off_policy_and_clips(config, tmp_path):
    args = ["fit", f"--config={CONFIGS / config}.yaml", *TWO_STEPS, f"--trainer.default_root_dir={tmp_path}"]
    cli = run(args + ADAPTED.get(config, []))
    (history,) = [c for c in cli.trainer.callbacks if isinstance(c, History)]
    (step,) = history.steps  # one rollout, two optimizer steps
    assert step["objective/approx_kl_old"] > 0, step
    assert step["objective/ratio_max"] > 1 + 1e-6 or step["objective/ratio_min"] < 1 - 1e-6, step
    assert sum(step[key] for key in CLIP_METRICS[config]) > 0, {k: step[k] for k in CLIP_METRICS[config]}


def test_sapo_gate_closes_off_policy(tmp_path):
    # SAPO has no hard clip: its gate's slope, 1 on-policy, drops below 1 on the second step.
    args = ["fit", f"--config={CONFIGS / 'sapo'}.yaml", *TWO_STEPS, f"--trainer.default_root_dir={tmp_path}"]
    cli = run(args)
    (history,) = [c for c in cli.trainer.callbacks if isinstance(c, History)]
    (step,) = history.steps
    assert step["objective/approx_kl_old"] > 0
    assert step["objective/gate_weight_mean"] < 1 - 1e-6
