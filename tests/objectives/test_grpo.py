"""GRPO against values worked out by hand (derivations in the comments)."""

import math

import pytest
import torch

from lit_rlvr.advantages import group_normalized_advantages
from lit_rlvr.aggregation import aggregate
from lit_rlvr.objectives import GRPO, LossNorm, PolicyBatch


def make_batch(logp, logp_old, advantages, mask, ref_logp=None):
    mask = torch.as_tensor(mask, dtype=torch.bool)
    logp = torch.as_tensor(logp, dtype=torch.float64).requires_grad_(True)
    norm = LossNorm(tokens=float(mask.sum()), sequences=float(mask.shape[0]), max_len=float(mask.shape[1]))
    return PolicyBatch(
        logp=logp,
        logp_old=torch.as_tensor(logp_old, dtype=torch.float64),
        ref_logp=None if ref_logp is None else torch.as_tensor(ref_logp, dtype=torch.float64),
        advantages=torch.as_tensor(advantages, dtype=torch.float64),
        mask=mask,
        entropy=torch.zeros(mask.shape, dtype=torch.float64),
        norm=norm,
    )


def test_group_advantages_by_hand():
    # rewards 1,0,0,1: mean 0.5, Bessel std sqrt(4 * 0.25 / 3) = 1/sqrt(3), so A = +-0.5 * sqrt(3).
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    adv = group_normalized_advantages(rewards, eps=0.0)
    assert torch.allclose(adv[0], torch.tensor([1, -1, -1, 1]) * 0.5 * math.sqrt(3))
    assert torch.equal(group_normalized_advantages(rewards)[1], torch.zeros(4))  # equal rewards: 0, not NaN
    assert torch.equal(
        group_normalized_advantages(rewards, scale_by_std=False)[0], torch.tensor([0.5, -0.5, -0.5, 0.5])
    )


def test_ratio_one_is_advantage_weighted_logp():
    # At ratio 1 nothing clips: loss = -mean_i mean_t A_i, and d loss / d logp_it = -A_i / (n_i * N).
    logp = [[-1.0, -2.0, -0.5], [-0.3, -0.7, -9.0]]
    mask = [[1, 1, 1], [1, 1, 0]]
    batch = make_batch(logp, logp, [[2.0] * 3, [-1.0] * 3], mask)
    out = GRPO()(batch)
    assert out.loss.item() == pytest.approx(-(2.0 - 1.0) / 2)
    out.loss.backward()
    expected = torch.tensor([[-2 / 6] * 3, [1 / 4, 1 / 4, 0.0]], dtype=torch.float64)
    assert torch.allclose(batch.logp.grad, expected)
    assert out.metrics["objective/clip_frac_low"] == 0 and out.metrics["objective/clip_frac_high"] == 0


@pytest.mark.parametrize(
    ("ratio", "advantage", "loss", "grad", "clip"),
    [
        (1.5, 1.0, -1.2, 0.0, "high"),  # min(1.5, 1.2) * 1 = 1.2: clipped, no gradient
        (1.5, -1.0, 1.5, 1.5, None),  # min(-1.5, -1.2) = -1.5: unclipped, d(-A r)/dlogp = -A r = 1.5
        (0.5, -1.0, 0.8, 0.0, "low"),  # min(-0.5, -0.8) = -0.8: clipped, no gradient
        (0.5, 1.0, -0.5, -0.5, None),  # min(0.5, 0.8) = 0.5: unclipped, gradient -A r = -0.5
    ],
)
def test_each_clip_side(ratio, advantage, loss, grad, clip):
    batch = make_batch([[math.log(ratio)]], [[0.0]], [[advantage]], [[1]])
    out = GRPO(clip_low=0.2, clip_high=0.2)(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(loss)
    assert batch.logp.grad.item() == pytest.approx(grad)
    assert out.metrics["objective/clip_frac_high"].item() == (clip == "high")
    assert out.metrics["objective/clip_frac_low"].item() == (clip == "low")


def test_asymmetric_bounds():
    # clip_high 0.28: ratio 1.25 with A > 0 is inside [0.8, 1.28] and keeps its gradient.
    batch = make_batch([[math.log(1.25)]], [[0.0]], [[1.0]], [[1]])
    out = GRPO(clip_low=0.2, clip_high=0.28)(batch)
    out.loss.backward()
    assert batch.logp.grad.item() == pytest.approx(-1.25)


def test_k3_kl_term_by_hand():
    # logp = log 0.5, ref = log 0.25: k3 = 0.5 - log 0.5 - 1 = log 2 - 0.5; with A = 0 it is the loss * beta.
    # d/dlogp of beta * (e^{ref - logp} - (ref - logp) - 1) = beta * (1 - e^{ref - logp}) = beta * 0.5.
    batch = make_batch([[math.log(0.5)]], [[math.log(0.5)]], [[0.0]], [[1]], ref_logp=[[math.log(0.25)]])
    out = GRPO(kl_coef=0.1)(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(0.1 * (math.log(2) - 0.5))
    assert batch.logp.grad.item() == pytest.approx(0.05)
    assert out.metrics["objective/kl_ref"].item() == pytest.approx(math.log(2) - 0.5)
    assert GRPO(kl_coef=0.1).needs_reference and not GRPO().needs_reference


def test_masked_tokens_contribute_nothing():
    mask = [[1, 1, 0, 0], [1, 0, 0, 0]]
    base = make_batch(
        [[-1.0, -2.0, -3.0, -4.0], [-1.0, -2.0, -3.0, -4.0]], [[-1.1] * 4] * 2, [[1.0] * 4, [-2.0] * 4], mask
    )
    garbage = make_batch(
        [[-1.0, -2.0, 50.0, float("-inf")], [-1.0, 7.0, 1e9, -1e9]],
        [[-1.1] * 4] * 2,
        [[1.0] * 4, [-2.0] * 4],
        mask,
    )
    out_base, out_garbage = GRPO()(base), GRPO()(garbage)
    out_base.loss.backward()
    out_garbage.loss.backward()
    assert out_base.loss.item() == pytest.approx(out_garbage.loss.item())
    assert torch.all(garbage.logp.grad[~garbage.mask] == 0)


@pytest.mark.parametrize(
    "mode", ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum", "seq_mean_token_sum_norm"]
)
def test_aggregation_matches_a_loop_and_splits_exactly(mode):
    torch.manual_seed(0)
    loss = torch.randn(5, 7, dtype=torch.float64)
    lengths = [7, 3, 1, 5, 2]
    mask = torch.arange(7)[None] < torch.tensor(lengths)[:, None]
    norm = LossNorm(tokens=float(sum(lengths)), sequences=5.0, max_len=7.0)
    rows = [loss[i, :n] for i, n in enumerate(lengths)]
    expected = {
        "token_mean": sum(r.sum() for r in rows) / sum(lengths),
        "seq_mean_token_mean": sum(r.mean() for r in rows) / 5,
        "seq_mean_token_sum": sum(r.sum() for r in rows) / 5,
        "seq_mean_token_sum_norm": sum(r.sum() for r in rows) / (5 * 7),
    }[mode]
    assert aggregate(loss, mask, mode, norm).item() == pytest.approx(expected.item())
    split = aggregate(loss[:2], mask[:2], mode, norm) + aggregate(loss[2:], mask[2:], mode, norm)
    assert split.item() == pytest.approx(expected.item())


def test_gradient_matches_finite_differences():
    torch.manual_seed(1)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    batch = make_batch(
        torch.randn(2, 4) * 0.3 - 1,
        torch.full((2, 4), -1.0),
        torch.randn(2, 4),
        mask,
        ref_logp=torch.full((2, 4), -1.2),
    )
    objective = GRPO(kl_coef=0.05, aggregation="token_mean")

    def loss_of(logp):
        return objective(batch._replace(logp=logp)).loss

    assert torch.autograd.gradcheck(loss_of, (batch.logp,))


@pytest.mark.parametrize("bad", [{"clip_low": 0.0}, {"clip_high": 1.5}, {"kl_coef": -0.1}])
def test_invalid_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        GRPO(**bad)
