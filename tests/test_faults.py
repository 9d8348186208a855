"""Faults survived through a real `fit` on the tiny model: broken rewards score 0, non-finite updates skip."""

import glob

import pytest
import torch
from fit_helpers import fit, logged

from lit_rlvr.models import TINY, load_causal_lm
from lit_rlvr.objectives import GRPO, ObjectiveOutput, PolicyBatch

SMALL = [
    "--rollout.engine.samples_per_prompt=2",
    "--rollout.engine.max_new_tokens=4",
    "--data.prompts_per_step=2",
    "--validate_before_fit=false",
    "--trainer.limit_val_batches=0",
]


class NaNLossGRPO(GRPO):
    """GRPO whose loss is NaN, as after an overflow: every gradient is non-finite."""

    def __call__(self, batch: PolicyBatch) -> ObjectiveOutput:
        out = super().__call__(batch)
        return out._replace(loss=out.loss * float("nan"))


class NaNValueLossGRPO(GRPO):
    """GRPO whose loss value is NaN through a term without gradient: the gradients stay finite."""

    def __call__(self, batch: PolicyBatch) -> ObjectiveOutput:
        out = super().__call__(batch)
        return out._replace(loss=out.loss + torch.tensor(float("nan")))


def test_broken_rewards_score_zero_are_counted_and_training_goes_on(tmp_path):
    rewards = ", ".join(
        f"{{name: {name}, fn: faulty.{name}}}" for name in ("raises", "hangs", "dies", "not_a_number")
    )
    cli, history = fit(
        *SMALL,
        "--trainer.max_steps=2",
        "--model.lr=1e-3",
        f"--rollout.rewards=[{{name: vowels, fn: reward_fns.vowel_share}}, {rewards}]",
        "--rollout.reward_timeout_s=0.5",
        root=str(tmp_path),
    )
    assert cli.trainer.global_step == 2
    collector = next(c for c in cli.trainer.callbacks if type(c).__name__ == "RolloutCollector")
    calls = 2 * 2 * 2  # steps x prompts x samples
    expected = {
        "raises/error": calls,
        "hangs/timeout": calls,
        "dies/crash": calls,
        "not_a_number/nonfinite": calls,
    }
    assert collector.failures == expected
    assert [n for _, n in logged(tmp_path, "reward/hangs/timeout")] == [calls / 2, calls / 2]  # per step
    assert [n for _, n in logged(tmp_path, "reward/hangs/timeout_total")] == [calls / 2, calls]
    assert cli.model.skipped_updates == 0  # the vowel term still trains the policy
    start = load_causal_lm(TINY)
    assert any(
        not torch.equal(a, b) for a, b in zip(cli.model.policy.parameters(), start.parameters(), strict=True)
    )


@pytest.mark.parametrize("objective", ["NaNLossGRPO", "NaNValueLossGRPO"])
def test_non_finite_loss_or_gradient_skips_the_update_and_never_touches_the_weights(tmp_path, objective):
    cli, _ = fit(
        *SMALL,
        "--trainer.max_steps=3",
        f"--model.objective=test_faults.{objective}",
        "--nonfinite.max_consecutive_skips=0",
        root=str(tmp_path),
    )
    assert cli.model.skipped_updates == 3
    assert logged(tmp_path, "update/skipped") == [(0, 1.0), (1, 1.0), (2, 1.0)]
    assert logged(tmp_path, "update/grad_norm_clipped") == [(0, 0.0), (1, 0.0), (2, 0.0)]  # nothing applied
    assert [n for _, n in logged(tmp_path, "train/skipped_updates_total")] == [1, 2, 3]
    for trained, start in zip(cli.model.policy.parameters(), load_causal_lm(TINY).parameters(), strict=True):
        assert torch.equal(trained, start)
    # Adam never stepped: no moments, so a later finite step is not thrown off by NaN state
    assert not cli.trainer.optimizers[0].state


def test_many_non_finite_updates_in_a_row_stop_the_run_with_a_checkpoint(tmp_path):
    with pytest.raises(RuntimeError, match=r"2 optimizer updates in a row had a non-finite loss or gradient"):
        fit(
            *SMALL,
            "--trainer.max_steps=5",
            "--model.objective=test_faults.NaNLossGRPO",
            "--nonfinite.max_consecutive_skips=2",
            root=str(tmp_path),
        )
    (path,) = glob.glob(f"{tmp_path}/checkpoints/nonfinite-step=*.ckpt")
    checkpoint = torch.load(path, weights_only=False)
    assert (
        checkpoint["skipped_updates"] == 2 and checkpoint["callbacks"]["NonFiniteGuard"]["consecutive"] == 2
    )
