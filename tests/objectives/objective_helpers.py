"""Builders shared by the objective tests: hand-written batches and random ragged ones."""

import torch

from lit_rlvr.objectives import LossNorm, PolicyBatch

DTYPE = torch.float64


def make_batch(logp, logp_old, advantages, mask, *, ref_logp=None, entropy=None, max_len=None, **optional):
    """A `PolicyBatch` from nested lists, float64, `logp` requiring grad; norms of this batch alone."""
    mask = torch.as_tensor(mask, dtype=torch.bool)
    norm = LossNorm(
        tokens=float(mask.sum()),
        sequences=float(mask.shape[0]),
        max_len=float(mask.shape[1] if max_len is None else max_len),
    )
    return PolicyBatch(
        logp=torch.as_tensor(logp, dtype=DTYPE).clone().requires_grad_(True),
        logp_old=torch.as_tensor(logp_old, dtype=DTYPE),
        ref_logp=None if ref_logp is None else torch.as_tensor(ref_logp, dtype=DTYPE),
        advantages=torch.as_tensor(advantages, dtype=DTYPE).expand(mask.shape).clone(),
        mask=mask,
        entropy=torch.zeros(mask.shape, dtype=DTYPE)
        if entropy is None
        else torch.as_tensor(entropy, dtype=DTYPE),
        norm=norm,
        **optional,
    )


# Token ids 2 and 5 of `random_batch`'s vocabulary end an SSPO subsentence.
DELIMITER_MASK = torch.zeros(11, dtype=torch.bool)
DELIMITER_MASK[[2, 5]] = True


def with_delimiters(objective, delimiter_mask=DELIMITER_MASK):
    """An SSPO objective with the delimiter lookup `setup` would build from a tokenizer."""
    objective.delimiter_mask = delimiter_mask
    return objective


def random_batch(seed=0, lengths=(7, 3, 1, 5, 2, 6), width=8, vocab=11, spread=0.3):
    """A ragged batch with per-sequence advantages, a reference, entropies and token ids (SSPO)."""
    gen = torch.Generator().manual_seed(seed)
    n = len(lengths)
    mask = torch.arange(width)[None] < torch.tensor(lengths)[:, None]
    logp_old = -torch.rand(n, width, generator=gen, dtype=DTYPE) * 3 - 0.1
    logp = logp_old + torch.randn(n, width, generator=gen, dtype=DTYPE) * spread
    advantages = torch.randn(n, 1, generator=gen, dtype=DTYPE).expand(n, width)
    return make_batch(
        logp,
        logp_old,
        advantages,
        mask,
        ref_logp=logp_old - torch.rand(n, width, generator=gen, dtype=DTYPE) * 0.2,
        entropy=torch.rand(n, width, generator=gen, dtype=DTYPE) * 2,
        max_len=width + 2,
        completion_ids=torch.randint(0, vocab, (n, width), generator=gen),
    )


def rows(batch, start, stop):
    """Rows `start:stop` of `batch` as a micro-batch that keeps the whole batch's norms."""
    fields = {}
    for name, value in batch._asdict().items():
        is_rowwise = torch.is_tensor(value) and value.dim() == 2
        fields[name] = value[start:stop] if is_rowwise else value
    return type(batch)(**fields)


def with_garbage_under_mask(batch):
    """The same batch with huge and infinite values wherever the mask is False."""
    pad = ~batch.mask
    logp = batch.logp.detach().masked_fill(pad, float("-inf"))
    logp[:, -1:] = logp[:, -1:].masked_fill(pad[:, -1:], 1e9)
    return batch._replace(
        logp=logp.requires_grad_(True),
        logp_old=batch.logp_old.masked_fill(pad, 3e8),
        ref_logp=None if batch.ref_logp is None else batch.ref_logp.masked_fill(pad, float("inf")),
        entropy=batch.entropy.masked_fill(pad, 1e30),
        completion_ids=None if batch.completion_ids is None else batch.completion_ids.masked_fill(pad, -100),
    )
