"""`lit-rlvr fit` end to end on the tiny random model, through the real CLI."""

import glob

import pytest
import torch
from fit_helpers import fit
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lit_rlvr.models import TINY, load_causal_lm

EXPECTED_KEYS = {
    "reward/mean", "reward/std", "reward/accuracy", "reward/zero_variance_groups", "reward/vowels/mean",
    "rollout/response_length_mean", "rollout/response_length_max", "rollout/truncated",
    "rollout/advantage_mean", "train/skipped_updates_total",
    "objective/kl_ref", "objective/entropy", "objective/clip_frac_low", "objective/clip_frac_high",
    "objective/ratio_mean", "objective/approx_kl_old", "update/loss", "update/grad_norm",
    "update/grad_norm_clipped", "update/on_policy", "update/kl_sampler", "update/lr", "update/skipped",
    "update/rollout_step", "perf/generate_s", "perf/verify_s", "perf/logprob_s", "perf/update_s",
    "perf/completions_per_s", "perf/tokens_per_s", "val/accuracy", "val/reward",
}  # fmt: skip


@pytest.fixture(scope="module")
def kl_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fit")
    cli, _ = fit(
        "--trainer.max_steps=4",
        "--trainer.val_check_interval=1",
        "--trainer.limit_val_batches=1",
        "--data.val_batch_size=8",
        "--model.lr=1e-3",
        "--model.objective.kl_coef=0.05",
        "--model.ppo_epochs=2",
        "--model.micro_batch_size=5",
        "--model.log_completions_every=1",
        "--rollout.engine.samples_per_prompt=4",
        "--rollout.engine.max_new_tokens=6",
        root=str(root),
    )
    return cli, root


def test_policy_changed_and_reference_did_not(kl_run):
    cli, _ = kl_run
    start = load_causal_lm(TINY)
    module = cli.model
    policy_delta = sum(
        (a - b).abs().sum() for a, b in zip(module.policy.parameters(), start.parameters(), strict=True)
    )
    assert policy_delta > 0
    for ref, original in zip(module.reference.parameters(), start.parameters(), strict=True):
        assert torch.equal(ref, original)
    # global_step counts optimizer steps: 2 rollouts x 2 PPO epochs x 1 mini-batch
    assert cli.trainer.global_step == 4


def test_metrics_reach_tensorboard(kl_run):
    _, root = kl_run
    scalars, tensors = set(), set()
    for events in glob.glob(f"{root}/lightning_logs/version_*/events.out.tfevents.*"):
        tags = EventAccumulator(events).Reload().Tags()
        scalars |= set(tags["scalars"])
        tensors |= set(tags["tensors"])
    assert EXPECTED_KEYS <= scalars, EXPECTED_KEYS - scalars
    assert "rollout/completions/text_summary" in tensors


def test_checkpoint_holds_optimizer_rng_and_no_reference(kl_run):
    _, root = kl_run
    path = f"{root}/checkpoints/last.ckpt"
    checkpoint = torch.load(path, weights_only=False)
    assert checkpoint["optimizer_states"] and checkpoint["lr_schedulers"]
    assert {"torch", "python", "numpy", "shuffle"} <= set(checkpoint["rng"])
    assert not any(key.startswith("reference.") for key in checkpoint["state_dict"])
    assert any(key.startswith("policy.") for key in checkpoint["state_dict"])


def test_final_validation_is_not_repeated_after_fit(kl_run):
    # Before fit, then after each of the 2 rollouts; the last one saw the final policy, so the
    # "after" accuracy reuses it instead of validating a fourth time.
    _, root = kl_run
    steps = [
        event.step
        for events in sorted(glob.glob(f"{root}/lightning_logs/version_*/events.out.tfevents.*"))
        for event in EventAccumulator(events).Reload().Scalars("val/accuracy")
    ]
    assert len(steps) == 3, steps
