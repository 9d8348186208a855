"""GSPO and GSPO-token against values worked out by hand."""

import math

import pytest
import torch
from objective_helpers import make_batch

from lit_rlvr.objectives import GSPO, GSPOToken

# Token log-ratios 0.1, -0.1, 0.3: log s = mean = 0.1, s = e^0.1 ~ 1.105, far outside [1 - 3e-4, 1 + 4e-4].
LOGP = [[0.1, -0.1, 0.3]]
OLD = [[0.0, 0.0, 0.0]]


@pytest.mark.parametrize("cls", [GSPO, GSPOToken])
def test_ratio_one_is_mean_over_sequences(cls):
    logp = [[-1.0, -2.0, -0.5], [-0.3, -0.7, -9.0]]
    batch = make_batch(logp, logp, [[2.0], [-1.0]], [[1, 1, 1], [1, 1, 0]])
    out = cls()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(-(2.0 - 1.0) / 2)
    expected = torch.tensor([[-2 / 6] * 3, [1 / 4, 1 / 4, 0.0]], dtype=torch.float64)  # -A / (|y| N)
    assert torch.allclose(batch.logp.grad, expected)


@pytest.mark.parametrize("cls", [GSPO, GSPOToken])
def test_sequence_ratio_clipped_high(cls):
    batch = make_batch(LOGP, OLD, [[1.0]], [[1, 1, 1]])
    out = cls()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(-(1 + 4e-4))
    assert torch.equal(batch.logp.grad, torch.zeros_like(batch.logp.grad))
    assert (
        out.metrics["objective/seq_clip_frac_high"] == 1 and out.metrics["objective/seq_clip_frac_low"] == 0
    )
    assert out.metrics["objective/ratio_mean"].item() == pytest.approx(math.exp(0.1))


@pytest.mark.parametrize("cls", [GSPO, GSPOToken])
def test_sequence_ratio_unclipped_for_negative_advantage(cls):
    # A = -1, s > 1 + eps: min(-s, -(1 + eps)) = -s unclipped; loss s; d s / d logp_t = s / 3.
    batch = make_batch(LOGP, OLD, [[-1.0]], [[1, 1, 1]])
    out = cls()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(math.exp(0.1))
    assert torch.allclose(batch.logp.grad, torch.full((1, 3), math.exp(0.1) / 3, dtype=torch.float64))


def test_sequence_clip_fraction_counts_sequences_not_tokens():
    # Sequence 1 (3 tokens) is clipped, sequence 2 (1 token, ratio 1) is not: 1/2 of sequences, 3/4 of tokens.
    batch = make_batch(
        [[0.1, -0.1, 0.3], [0.0, 0.0, 0.0]], [[0.0] * 3] * 2, [[1.0], [1.0]], [[1, 1, 1], [1, 0, 0]]
    )
    out = GSPO()(batch)
    assert out.metrics["objective/seq_clip_frac_high"].item() == pytest.approx(0.5)


def test_gspo_token_gives_each_token_its_own_advantage():
    # Per-token advantages: GSPO-token's gradient on token t is -A_t s / |y|; GSPO's is -mean(A) s / |y|.
    logp = [[-1.0, -2.0]]
    advantages = [[1.0, -3.0]]
    token = make_batch(logp, logp, advantages, [[1, 1]])
    sequence = make_batch(logp, logp, advantages, [[1, 1]])
    GSPOToken()(token).loss.backward()
    GSPO()(sequence).loss.backward()
    assert torch.allclose(token.logp.grad, torch.tensor([[-0.5, 1.5]], dtype=torch.float64))
    assert torch.allclose(sequence.logp.grad, torch.tensor([[0.5, 0.5]], dtype=torch.float64))


@pytest.mark.parametrize("bad", [{"clip_low": 0.0}, {"clip_high": 1.0}, {"entropy_coef": -0.1}])
def test_invalid_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        GSPO(**bad)
