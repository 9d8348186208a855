"""The sampler/trainer mismatch: its readings and corrections against loops, and scoring under truncation."""

import math

import pytest
import torch

from lit_rlvr.aggregation import LossNorm, aggregate
from lit_rlvr.logprobs import completion_logprobs
from lit_rlvr.mismatch import SamplerCorrection, correction_metrics, mismatch_metrics
from lit_rlvr.rollout import RolloutGenerator


def ragged(seed=0, lengths=(5, 1, 3, 4), width=6, spread=0.4):
    gen = torch.Generator().manual_seed(seed)
    mask = torch.arange(width)[None] < torch.tensor(lengths)[:, None]
    sampler = -torch.rand(len(lengths), width, generator=gen) * 3
    trainer = sampler + torch.randn(len(lengths), width, generator=gen) * spread
    # padding carries garbage that must not leak into any weight or reading
    return trainer.masked_fill(~mask, 7.0), sampler.masked_fill(~mask, -1e9), mask


def loop_weights(trainer, sampler, mask, c: SamplerCorrection):
    weights = torch.zeros_like(trainer)
    for i in range(len(mask)):
        positions = [t for t in range(mask.shape[1]) if mask[i, t]]
        rhos = [math.exp(float(trainer[i, t] - sampler[i, t])) for t in positions]
        for t, rho in zip(positions, rhos, strict=True):
            if c.mode == "token_tis":
                w = min(rho, c.cap)
            elif c.mode == "sequence_tis":
                w = min(math.prod(rhos), c.cap)
            elif c.mode == "token_mask":
                w = float(c.low <= rho <= c.high)
            else:
                w = float(c.low <= math.prod(rhos) ** (1 / len(rhos)) <= c.high)
            weights[i, t] = w
    return weights


@pytest.mark.parametrize("mode", ["token_tis", "sequence_tis", "token_mask", "sequence_mask"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correction_weights_match_a_loop(mode, seed):
    trainer, sampler, mask = ragged(seed)
    correction = SamplerCorrection(mode=mode, cap=1.5, low=0.8, high=1.25)
    expected = loop_weights(trainer, sampler, mask, correction)
    got = correction.weights(trainer, sampler, mask)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    # the test has power: the weights are neither all 1 nor all 0 on the mask
    assert 0 < float(got[mask].min()) or mode.endswith("mask")
    assert got[mask].std() > 0 or mode.startswith("sequence")


def test_weights_are_constants_and_scale_the_per_token_loss():
    trainer, sampler, mask = ragged()
    trainer.requires_grad_(True)
    weights = SamplerCorrection(mode="token_tis").weights(trainer, sampler, mask)
    assert not weights.requires_grad
    loss = torch.randn(mask.shape)
    norm = LossNorm(tokens=float(mask.sum()), sequences=float(len(mask)), max_len=6.0)
    for mode in ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"):
        torch.testing.assert_close(
            aggregate(loss, mask, mode, norm, weights), aggregate(loss * weights, mask, mode, norm)
        )


def test_mismatch_readings_match_a_loop():
    trainer, sampler, mask = ragged(spread=1.0)
    got = mismatch_metrics(trainer, sampler, mask)
    deltas = [float(trainer[i, t] - sampler[i, t]) for i, t in mask.nonzero().tolist()]
    kl = sum(math.exp(d) - 1 - d for d in deltas) / len(deltas)
    assert got["mismatch/kl"].item() == pytest.approx(kl, rel=1e-5)
    assert got["mismatch/abs_logp_diff_mean"].item() == pytest.approx(
        sum(map(abs, deltas)) / len(deltas), rel=1e-5
    )
    assert got["mismatch/abs_logp_diff_max"].item() == pytest.approx(max(map(abs, deltas)), rel=1e-6)
    outside = sum(not 0.5 <= math.exp(d) <= 2.0 for d in deltas) / len(deltas)
    assert 0 < outside < 1 and got["mismatch/ratio_outside"].item() == pytest.approx(outside)
    same = mismatch_metrics(sampler, sampler, mask)
    assert same["mismatch/kl"] == 0 and same["mismatch/abs_logp_diff_max"] == 0


def test_correction_readings():
    trainer, sampler, mask = ragged(spread=1.0)
    weights = SamplerCorrection(mode="token_mask").weights(trainer, sampler, mask)
    got = correction_metrics(weights, mask)
    kept = [
        float(0.5 <= math.exp(float(trainer[i, t] - sampler[i, t])) <= 2.0)
        for i, t in mask.nonzero().tolist()
    ]
    assert got["mismatch/weight_mean"].item() == pytest.approx(sum(kept) / len(kept))
    assert got["mismatch/weight_changed"].item() == pytest.approx(1 - sum(kept) / len(kept))


def test_a_correction_with_impossible_knobs_is_refused():
    with pytest.raises(ValueError, match="sampler_correction.cap"):
        SamplerCorrection(cap=0)
    with pytest.raises(ValueError, match="low and .high"):
        SamplerCorrection(mode="token_mask", low=1.2, high=2.0)


@pytest.mark.parametrize("top_k, top_p", [(7, 1.0), (0, 0.8), (12, 0.9)])
def test_trainer_scores_the_samplers_truncated_distribution_when_asked(
    varied_model, tokenizer, prompt_batch, top_k, top_p
):
    torch.manual_seed(0)
    engine = RolloutGenerator(
        samples_per_prompt=4, max_new_tokens=8, temperature=0.9, top_k=top_k, top_p=top_p
    )
    rollout = engine(varied_model, tokenizer, prompt_batch)
    mask = rollout.completion_mask

    def trainer(**truncation):
        return completion_logprobs(
            varied_model, rollout.input_ids, rollout.attention_mask, mask, temperature=0.9, **truncation
        ).logp

    matched, full = trainer(top_k=top_k, top_p=top_p), trainer()
    torch.testing.assert_close(matched[mask], rollout.sampler_logp[mask], rtol=0, atol=1e-5)
    assert (full - rollout.sampler_logp)[mask].min() < -1e-2  # the full distribution gives less
