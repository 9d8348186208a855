"""SSPO: segmentation, per-segment ratios and entropy-adaptive bounds, by hand."""

import math

import pytest
import torch
from objective_helpers import make_batch, with_delimiters

from lit_rlvr.objectives import SSPO
from lit_rlvr.objectives.segments import DELIMITERS, delimiter_token_mask, segment_ids

VOCAB = ["a", ".", " b", "!\n", "3.14", "c", "，"]
DELIM = delimiter_token_mask(VOCAB, DELIMITERS)


def test_delimiter_token_mask():
    assert DELIM.tolist() == [False, True, False, True, True, False, True]
    assert delimiter_token_mask(VOCAB, ["\n"]).tolist() == [False, False, False, True, False, False, False]


def test_segment_boundaries():
    # A segment ends after each delimiter token; "!\n" ends one segment, not two; padding is -1.
    ids = torch.tensor([[0, 1, 2, 3, 5, 0], [1, 1, 0, -100, -100, -100], [5, 5, 5, 5, 5, 5]])
    mask = ids >= 0
    mask[0, 5] = False
    assert segment_ids(ids, DELIM, mask).tolist() == [
        [0, 0, 1, 1, 2, -1],
        [0, 1, 2, -1, -1, -1],
        [0, 0, 0, 0, 0, 0],
    ]


def batch_of(log_ratios, advantage, entropy=None):
    # Tokens "a . b c": segments {a, .} and {b, c}.
    return make_batch(
        [log_ratios],
        [[0.0] * 4],
        [[advantage]],
        [[1] * 4],
        entropy=None if entropy is None else [entropy],
        completion_ids=torch.tensor([[0, 1, 2, 5]]),
    )


def sspo(**knobs):
    return with_delimiters(SSPO(**knobs), DELIM)


def test_ratio_one_is_seq_mean_token_mean():
    batch = batch_of([0.0] * 4, 2.0)
    out = sspo()(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(-2.0)
    assert torch.allclose(batch.logp.grad, torch.full((1, 4), -0.5, dtype=torch.float64))
    assert out.metrics["objective/segments_per_seq"] == 2


def test_each_segment_is_clipped_on_its_own():
    # Segment 1: log r (0.2, 0.0) -> s = e^0.1 > 1 + eps_high: clipped, no gradient.
    # Segment 2: log r (0.0, 0.0) -> s = 1: kept; each of its tokens gets -A s / (|k| ...) * |k| / |y| = -1/4.
    knobs = {"clip_low": 0.02, "clip_high": 0.05, "entropy_alpha": 0.0}
    batch = batch_of([0.2, 0.0, 0.0, 0.0], 1.0)
    out = sspo(**knobs)(batch)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(-(2 * 1.05 + 2 * 1.0) / 4)
    assert torch.allclose(batch.logp.grad, torch.tensor([[0.0, 0.0, -0.25, -0.25]], dtype=torch.float64))
    assert out.metrics["objective/segment_clip_frac_high"].item() == pytest.approx(0.5)
    # A < 0 with a low ratio: segment 1 at e^-0.1 < 1 - 0.02 is clipped low.
    low = sspo(**knobs)(batch_of([-0.2, 0.0, 0.0, 0.0], -1.0))
    assert low.metrics["objective/segment_clip_frac_low"].item() == pytest.approx(0.5)


def test_entropy_widens_and_narrows_the_bounds():
    # log s = 0.03 in segment 1. Base eps_high 0.02 clips it; entropy 4x the reference with alpha 0.5
    # doubles the bound to 0.04 > e^0.03 - 1 ~ 0.0305: unclipped. Entropy 0 narrows to min_scale.
    knobs = {"clip_low": 0.02, "clip_high": 0.02, "entropy_alpha": 0.5, "entropy_ref": 1.0}
    high_entropy = batch_of([0.06, 0.0, 0.0, 0.0], 1.0, entropy=[4.0, 4.0, 1.0, 1.0])
    out = sspo(**knobs)(high_entropy)
    out.loss.backward()
    assert high_entropy.logp.grad[0, 0].item() == pytest.approx(-math.exp(0.03) / 4)
    assert out.metrics["objective/segment_clip_frac_high"] == 0
    assert out.metrics["objective/clip_scale_mean"].item() == pytest.approx((2 + 2 + 1 + 1) / 4)
    reference = batch_of([0.06, 0.0, 0.0, 0.0], 1.0, entropy=[1.0] * 4)
    assert sspo(**knobs)(reference).metrics["objective/segment_clip_frac_high"].item() == pytest.approx(0.5)
    # Scale bounded: entropy 100 -> sqrt(100) = 10 clamps to max_scale 2; entropy 0 -> min_scale 0.5.
    extreme = sspo(**knobs)(batch_of([0.0] * 4, 1.0, entropy=[100.0, 100.0, 0.0, 0.0]))
    assert extreme.metrics["objective/clip_scale_mean"].item() == pytest.approx((2 + 2 + 0.5 + 0.5) / 4)


def test_needs_token_ids():
    with pytest.raises(AssertionError, match="token ids"):
        sspo()(make_batch([[0.0]], [[0.0]], [[1.0]], [[1]]))


@pytest.mark.parametrize(
    "bad",
    [{"clip_low": 0.0}, {"clip_high": 0.6}, {"min_scale": 1.5}, {"entropy_alpha": -1.0}, {"delimiters": ()}],
)
def test_invalid_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad)).split("_")[0]):
        SSPO(**bad)
