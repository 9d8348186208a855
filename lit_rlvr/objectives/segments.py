"""Subsentence segmentation of completions for SSPO: delimiter lookup, segment ids, segment means.

The rule is ours (SSPO's is not in our sources): a segment ends after any token whose decoded text
contains a delimiter, so "3.14" splits at the point and a token "!\n" ends one segment, not two.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

# Sentence and clause punctuation and line breaks, ASCII and full-width (CJK); commas included
# because the paper's unit is the *sub*sentence.
DELIMITERS = (".", ",", ";", ":", "?", "!", "\n", "。", "，", "；", "：", "？", "！")


def delimiter_token_mask(vocab_strings: Sequence[str], delimiters: Sequence[str]) -> Tensor:
    """`[V]` bool, True for each token whose decoded text contains any delimiter.

    Args:
        vocab_strings: the decoded text of every token id, e.g. `tokenizer.batch_decode([[i] for i
            in range(V)])`; not raw BPE pieces, which spell a newline "Ċ".
        delimiters: the delimiter characters.
    """
    return torch.tensor([any(d in text for d in delimiters) for text in vocab_strings], dtype=torch.bool)


def segment_ids(completion_ids: Tensor, delimiter_mask: Tensor, mask: Tensor) -> Tensor:
    """Numbers the subsentences of each completion from 0: a new one starts after each delimiter token.

    Args:
        completion_ids: `[N, T]` long token ids (anything under the mask, e.g. -100).
        delimiter_mask: `[V]` bool from `delimiter_token_mask`.
        mask: `[N, T]` bool.

    Returns:
        `[N, T]` long segment ids, -1 under the mask.
    """
    ids = torch.where(mask, completion_ids, 0)  # padding ids may lie outside the vocabulary
    ends = (delimiter_mask[ids] & mask).long()  # [N, T]
    return torch.where(mask, ends.cumsum(dim=1) - ends, -1)


def segment_mean(values: Tensor, segments: Tensor, mask: Tensor) -> Tensor:
    """Each token's segment mean of `values`, `[N, T]` (differentiable; 0 under the mask)."""
    rows, length = values.shape
    offsets = torch.arange(rows, device=values.device)[:, None] * length
    index = torch.where(mask, segments + offsets, 0).flatten()  # [N * T]: one slot per (row, segment)
    sums = values.new_zeros(rows * length).index_add(0, index, torch.where(mask, values, 0.0).flatten())
    counts = values.new_zeros(rows * length).index_add(0, index, mask.flatten().to(values.dtype))
    means = sums / counts.clamp(min=1)  # empty slots are never read back
    return torch.where(mask, means[index].view(rows, length), 0.0)
