"""SSPO: one importance ratio per subsentence, clipped per subsentence with entropy-adaptive bounds.

Subsentence-level Policy Optimization, Yang et al. 2025, arXiv 2511.04256; not Soft Sequence
Policy Optimization (arXiv 2602.19327, arctan soft gates inside a sequence ratio), which shares
the acronym. Only the abstracts were in our sources: the ratio lives between GRPO's (token) and
GSPO's (sequence), clipped PPO-style per subsentence, with wider bounds for high-entropy
subsentences and narrower ones for low-entropy ones. The segmentation, the ratio formula and the
entropy-to-bound mapping below are OURS, to be replaced once the paper's method section is read:

- a segment ends after any token whose decoded text contains a delimiter (a knob); the last one
  runs to EOS;
- segment ratio `s_k = exp(mean_{t in k} log r_t)`, GSPO's geometric mean applied per segment;
- bounds `eps_k = eps * clip((H_k / entropy_ref)^alpha, min_scale, max_scale)` with `H_k` the
  segment's mean token entropy (detached): bounded and monotone in `H_k`, identity at
  `H_k = entropy_ref` or `alpha = 0`. A fixed `entropy_ref` (not the batch mean) keeps a segment's
  bound independent of the micro-batch it lands in, so micro-batch splits stay exact.

The base bounds are sized for subsentences, not whole responses. A geometric mean over k tokens
whose log-ratios drift with spread sigma spreads about sigma / sqrt(k); token-level PPO clips at
0.2 (DAPO's upper 0.28) for k = 1, so a typical subsentence of ~16 tokens gets 0.2 / 4 = 0.05 and
0.28 / 4 = 0.07 (GSPO's 3e-4 / 4e-4 were sized for geometric means over thousands of tokens).
`objective/segment_clip_frac_*` log the share of segments clipped, the paper's diagnostic.
Group-normalised advantage, `seq_mean_token_mean`, no KL.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lit_rlvr.aggregation import Aggregation, masked_mean
from lit_rlvr.objectives.base import Objective, ObjectiveOutput, PolicyBatch, require_non_negative
from lit_rlvr.objectives.segments import DELIMITERS, delimiter_token_mask, segment_ids, segment_mean
from lit_rlvr.objectives.surrogate import (
    approx_kl_old,
    clipped_surrogate,
    masked_log_ratio,
    ratio_metrics,
    reduce_loss,
    unit_clip_fractions,
)


def sspo_loss(
    batch: PolicyBatch,
    *,
    delimiter_mask: Tensor,
    clip_low: float,
    clip_high: float,
    entropy_alpha: float,
    entropy_ref: float,
    min_scale: float,
    max_scale: float,
    aggregation: Aggregation,
) -> ObjectiveOutput:
    """`agg(-min(s_k A, clip(s_k, 1 - eps_low_k, 1 + eps_high_k) A))` with one ratio per subsentence.

    Args:
        batch: the micro-batch, every tensor `[N, T]`; needs `completion_ids`.
        delimiter_mask: `[V]` bool, True for tokens whose text holds a delimiter (`delimiter_token_mask`).
        clip_low: base eps_low, scaled per segment.
        clip_high: base eps_high, scaled per segment.
        entropy_alpha: exponent of the entropy scaling; 0 turns adaptation off.
        entropy_ref: the entropy (nats) at which the bounds are the base ones.
        min_scale: lower bound of the scale.
        max_scale: upper bound of the scale.
        aggregation: loss aggregation.
    """
    mask = batch.mask
    assert batch.logp.shape == batch.logp_old.shape == batch.advantages.shape == mask.shape
    assert batch.completion_ids is not None, "SSPO needs the completion's token ids"
    segments = segment_ids(batch.completion_ids, delimiter_mask.to(mask.device), mask)  # [N, T]
    log_ratio = masked_log_ratio(batch.logp, batch.logp_old, mask)  # [N, T]
    segment_log_ratio = segment_mean(log_ratio, segments, mask)  # [N, T]: log s_k on each token of k
    entropy = segment_mean(torch.where(mask, batch.entropy.detach(), 0.0), segments, mask)
    scale = (entropy / entropy_ref).pow(entropy_alpha).clamp(min_scale, max_scale)  # [N, T]
    advantages = torch.where(mask, batch.advantages, 0.0)
    surrogate = clipped_surrogate(
        segment_log_ratio, advantages, clip_low=clip_low * scale, clip_high=clip_high * scale
    )
    metrics = {
        **unit_clip_fractions(surrogate, segments, mask, "segment"),
        **ratio_metrics(surrogate.ratio, mask),
        "objective/approx_kl_old": approx_kl_old(log_ratio, mask),
        "objective/clip_scale_mean": masked_mean(scale, mask),
        "objective/segments_per_seq": (segments.amax(dim=1) + 1).double().mean(),
    }
    return reduce_loss(surrogate.loss, batch, metrics, aggregation=aggregation, entropy_coef=0.0)


class SSPO(Objective):
    """Subsentence-level Policy Optimization, arXiv 2511.04256 (provisional: see the module docstring).

    Not Soft Sequence Policy Optimization (arXiv 2602.19327), which shares the name.

    Args:
        clip_low: base eps_low of the segment ratio.
        clip_high: base eps_high of the segment ratio.
        entropy_alpha: alpha of `(H_k / entropy_ref)^alpha`; 0 uses the base bounds everywhere.
        entropy_ref: segment entropy (nats) that gets exactly the base bounds.
        min_scale: smallest factor on the base bounds (low-entropy segments).
        max_scale: largest factor on the base bounds (high-entropy segments).
        delimiters: characters that end a subsentence when a token's text contains one.
        aggregation: loss aggregation.
    """

    min_samples_per_prompt = 2

    def __init__(
        self,
        *,
        clip_low: float = 0.05,
        clip_high: float = 0.07,
        entropy_alpha: float = 0.5,
        entropy_ref: float = 1.0,
        min_scale: float = 0.5,
        max_scale: float = 2.0,
        delimiters: tuple[str, ...] = DELIMITERS,
        aggregation: Aggregation = "seq_mean_token_mean",
    ) -> None:
        name = type(self).__name__
        if not 0 < min_scale <= 1 <= max_scale:
            raise ValueError(f"{name}: need 0 < min_scale <= 1 <= max_scale, got {min_scale}, {max_scale}")
        for knob, value in (("clip_low", clip_low), ("clip_high", clip_high)):
            if not 0.0 < value * max_scale < 1.0:
                raise ValueError(f"{name}: {knob} x max_scale must be in (0, 1), got {value} x {max_scale}")
        require_non_negative(self, entropy_alpha=entropy_alpha)
        if entropy_ref <= 0:
            raise ValueError(f"{name}: entropy_ref must be > 0, got {entropy_ref}")
        if not delimiters:
            raise ValueError(f"{name}: delimiters must not be empty")
        self.clip_low = clip_low
        self.clip_high = clip_high
        self.entropy_alpha = entropy_alpha
        self.entropy_ref = entropy_ref
        self.min_scale = min_scale
        self.max_scale = max_scale
        self.delimiters = tuple(delimiters)
        self.aggregation = aggregation
        self.delimiter_mask: Tensor | None = None  # [V], from `setup`

    def setup(self, tokenizer: Any, vocab_size: int) -> None:
        """Marks the tokens whose decoded text holds a delimiter, padded to `vocab_size` embedding rows."""
        size = len(tokenizer)
        found = delimiter_token_mask(tokenizer.batch_decode([[i] for i in range(size)]), self.delimiters)
        self.delimiter_mask = torch.cat([found, found.new_zeros(max(vocab_size - size, 0))])

    def loss(self, batch: PolicyBatch) -> ObjectiveOutput:
        assert self.delimiter_mask is not None, "SSPO.setup(tokenizer, vocab_size) was not called"
        return sspo_loss(
            batch,
            delimiter_mask=self.delimiter_mask,
            clip_low=self.clip_low,
            clip_high=self.clip_high,
            entropy_alpha=self.entropy_alpha,
            entropy_ref=self.entropy_ref,
            min_scale=self.min_scale,
            max_scale=self.max_scale,
            aggregation=self.aggregation,
        )
