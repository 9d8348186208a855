"""Each optimizer step logs its own readings, and they are the step's own: recomputed here from the
weights each step's gradient was taken at, they agree with what was logged."""

import pytest
import torch
from fit_helpers import UpdateSnapshots, fit, logged

TWO_UPDATES_PER_ROLLOUT = [
    "--model.lr=0.05",  # far enough that the second pass over a rollout is off-policy and clips
    "--model.ppo_epochs=2",
    "--model.mini_batches=1",
    "--model.micro_batch_size=64",  # one micro-batch per step: readings are exactly the step's
    "--trainer.max_steps=4",
    "--rollout.engine.samples_per_prompt=4",
    "--rollout.engine.max_new_tokens=8",
    "--rollout.engine.top_k=0",
    "--validate_before_fit=false",
    "--trainer.limit_val_batches=0",
    "--trainer.callbacks+=fit_helpers.UpdateSnapshots",
]


@pytest.fixture(scope="module")
def two_rollouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("readings")
    cli, _ = fit(*TWO_UPDATES_PER_ROLLOUT, root=str(root))
    (snapshots,) = [c for c in cli.trainer.callbacks if isinstance(c, UpdateSnapshots)]
    return cli.model, snapshots, root


def update_log(root, key: str) -> list[float]:
    steps = logged(root, key)
    assert [step for step, _ in steps] == [0, 1, 2, 3], steps  # the optimizer-step axis
    return [value for _, value in steps]


def logp_at(module, weights, rollout):
    module.policy.load_state_dict(weights)
    return module.sequence_logprobs(module.policy, rollout)


def test_the_on_policy_step_clips_nothing_and_the_off_policy_step_its_share(two_rollouts):
    module, snapshots, root = two_rollouts
    assert update_log(root, "update/on_policy") == [1, 0, 1, 0]
    assert update_log(root, "update/rollout_step") == [0, 0, 1, 1]
    logged_low, logged_high = (
        update_log(root, "objective/clip_frac_low"),
        update_log(root, "objective/clip_frac_high"),
    )
    eps_low, eps_high = module.objective.clip_low, module.objective.clip_high
    shares = []
    for step, weights in enumerate(snapshots.weights):
        rollout = snapshots.rollouts[step // 2]
        mask = rollout.completion_mask
        logp_old = logp_at(module, snapshots.weights[step - step % 2], rollout)  # the sampling weights
        ratio = (logp_at(module, weights, rollout) - logp_old).exp()
        advantages = module.objective.advantages(rollout.rewards.view(-1, 4), mask).advantages
        tokens = mask.sum()
        low = float(((ratio < 1 - eps_low) & (advantages < 0) & mask).sum() / tokens)
        high = float(((ratio > 1 + eps_high) & (advantages > 0) & mask).sum() / tokens)
        shares.append(low + high)
        # a token at the clip's edge may fall either way between two log-prob passes
        assert logged_low[step] == pytest.approx(low, abs=1.01 / float(tokens)), step
        assert logged_high[step] == pytest.approx(high, abs=1.01 / float(tokens)), step
    assert logged_low[0] == logged_high[0] == logged_low[2] == logged_high[2] == 0
    assert shares[1] > 0.05 and shares[3] > 0.05, shares  # the test has power: the second steps clip


def test_kl_to_the_sampler_and_ratios_are_the_steps_own(two_rollouts):
    module, snapshots, root = two_rollouts
    kl, ratio_max = update_log(root, "update/kl_sampler"), update_log(root, "objective/ratio_max")
    for step, weights in enumerate(snapshots.weights):
        rollout = snapshots.rollouts[step // 2]
        mask = rollout.completion_mask
        logp = logp_at(module, weights, rollout)
        log_rho = torch.where(mask, logp - rollout.sampler_logp, 0.0).double()
        expected = float((log_rho.exp() - 1 - log_rho)[mask].mean())
        assert kl[step] == pytest.approx(expected, rel=1e-3, abs=1e-7), step
        logp_old = logp_at(module, snapshots.weights[step - step % 2], rollout)
        expected_max = float((logp - logp_old)[mask].exp().max())
        assert ratio_max[step] == pytest.approx(expected_max, rel=1e-4), step
    assert kl[0] < 1e-6 and kl[1] > 1e-4  # our decoder samples from the trainer's own distribution


def test_gradient_norms_before_and_after_clipping(two_rollouts):
    module, snapshots, root = two_rollouts
    before, after = update_log(root, "update/grad_norm"), update_log(root, "update/grad_norm_clipped")
    limit = module.hparams.max_grad_norm
    for step, applied in enumerate(snapshots.applied_norms):
        assert after[step] == pytest.approx(applied, rel=1e-4), step  # the norm the optimizer stepped with
        assert after[step] == pytest.approx(min(before[step], limit), rel=1e-5), step
    assert max(before) > limit  # clipping acted on at least one step
    assert update_log(root, "update/skipped") == [0, 0, 0, 0]
    assert update_log(root, "update/lr") == pytest.approx([0.05] * 4)  # float32 in the events
