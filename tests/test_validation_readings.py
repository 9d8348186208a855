"""Validation that can see a few points: greedy accuracy, sampled mean@n and unbiased pass@k, per source."""

import itertools
import logging
import math

import pytest
import torch
from fit_helpers import fit, logged

from lit_rlvr.metrics import ValidationTally, pass_at_k


@pytest.mark.parametrize(("samples", "correct"), [(5, 0), (5, 2), (8, 3), (8, 8), (4, 1)])
def test_pass_at_k_is_the_chance_that_k_of_the_samples_hold_a_right_one(samples, correct):
    outcomes = [True] * correct + [False] * (samples - correct)
    for k in range(1, samples + 1):
        subsets = list(itertools.combinations(outcomes, k))  # every equally likely draw of k of the n
        expected = sum(any(subset) for subset in subsets) / len(subsets)
        assert pass_at_k(samples, correct, k) == pytest.approx(expected, abs=1e-12)


def test_the_tally_reads_each_source_and_all_together():
    tally = ValidationTally()
    tally.add(
        ["gsm8k", "math"], torch.tensor([True, False]), torch.tensor([[1, 0, 0, 0], [0, 0, 0, 0]]).bool()
    )
    tally.add(["math"], torch.tensor([True]), torch.tensor([[1, 1, 1, 0]]).bool())
    got = tally.readings()
    assert got["val/problems"] == 3
    assert got["val/accuracy"] == pytest.approx(2 / 3)
    assert got["val/accuracy/gsm8k"] == 1.0 and got["val/accuracy/math"] == 0.5
    assert got["val/mean@4"] == pytest.approx(4 / 12) and got["val/mean@4/math"] == pytest.approx(3 / 8)
    # pass@2 with 1 of 4 right: 1 - C(3,2)/C(4,2) = 1/2; 0 of 4: 0; 3 of 4: 1
    assert got["val/pass@2"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert got["val/pass@4"] == pytest.approx(2 / 3)
    assert "val/pass@8" not in got and "val/pass@1" not in got  # pass@1 is mean@n
    greedy_only = ValidationTally()
    greedy_only.add(["a"], torch.tensor([True]), None)
    assert greedy_only.readings() == {"val/problems": 1.0, "val/accuracy": 1.0}


TINY_VALIDATION = [
    "--trainer.max_steps=2",
    "--trainer.val_check_interval=1",
    "--trainer.limit_val_batches=2",
    "--data.val_batch_size=4",
    "--rollout.engine.samples_per_prompt=2",
    "--rollout.engine.max_new_tokens=5",
]


def test_sampled_validation_is_logged_and_leaves_training_unchanged(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    greedy, _ = fit(*TINY_VALIDATION, root=str(tmp_path / "greedy"))
    sampled, _ = fit(*TINY_VALIDATION, "--rollout.validation_samples=4", root=str(tmp_path / "sampled"))
    # validation draws from a stream of its own: the training rollouts and updates are the same
    assert logged(tmp_path / "greedy", "update/loss") == logged(tmp_path / "sampled", "update/loss")
    assert logged(tmp_path / "greedy", "val/accuracy") == logged(tmp_path / "sampled", "val/accuracy")
    problems = logged(tmp_path / "sampled", "val/problems")
    assert [value for _, value in problems] == [8.0, 8.0, 8.0]  # before fit and after each step
    mean, pass2, pass4 = (
        [v for _, v in logged(tmp_path / "sampled", key)]
        for key in ("val/mean@4", "val/pass@2", "val/pass@4")
    )
    for m, p2, p4 in zip(mean, pass2, pass4, strict=True):
        assert m <= p2 <= p4 and math.isclose(m * 32, round(m * 32), abs_tol=1e-4)  # of 8 x 4 samples
    assert "validation: batch 2/2" in caplog.text  # a progress line when there is no progress bar
    assert "validation at step 2: 8 problems, greedy accuracy" in caplog.text and "pass@4" in caplog.text
