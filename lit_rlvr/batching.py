"""Micro-batches of a mini-batch's rows (row indices into a rollout), formed by a token budget.

A micro-batch's forward pass runs each of its distinct prompts once (`lit_rlvr.logprobs`) at its
longest prompt's width, and each of its rows' completions at its longest completion's width. Rows
are cut greedily in two orders, by prompt then completion length (rows of one prompt travel
together) and by completion length then prompt (rows of similar length travel together), and the
cut that runs fewer token positions is kept, so padding costs little. Losses are
normalised over the whole mini-batch (`LossNorm`), so the gradient does not depend on the cut.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_rlvr.rollout import Rollout


def rollout_micro_batches(
    rollout: Rollout, indices: Tensor, max_sequences: int, max_tokens: int | None
) -> list[Tensor]:
    """`micro_batches` of `indices` of `rollout`, whose row `i` was sampled from prompt `i // G`."""
    return micro_batches(
        indices,
        prompt_of_row=torch.arange(len(rollout.texts), device=indices.device) // rollout.group_size,
        prompt_lengths=rollout.prompt_mask.sum(-1),
        completion_lengths=rollout.completion_mask.sum(-1),
        max_sequences=max_sequences,
        max_tokens=max_tokens,
    )


def micro_batches(
    indices: Tensor,
    prompt_of_row: Tensor,
    prompt_lengths: Tensor,
    completion_lengths: Tensor,
    *,
    max_sequences: int,
    max_tokens: int | None = None,
) -> list[Tensor]:
    """Splits `indices` into micro-batches of at most `max_sequences` rows and `max_tokens` token positions.

    Args:
        indices: `[n]` row indices into the rollout.
        prompt_of_row: `[N]` the prompt each rollout row was sampled from.
        prompt_lengths: `[N]` real prompt tokens per rollout row.
        completion_lengths: `[N]` real completion tokens per rollout row.
        max_sequences: rows per micro-batch at most.
        max_tokens: token positions per micro-batch at most (None: no limit); a row that alone
            exceeds it forms its own micro-batch.

    Returns:
        Micro-batches of row indices, together holding each of `indices` once.
    """
    by_prompt = indices[prompt_of_row[indices].argsort(stable=True)]
    by_length = by_prompt[completion_lengths[by_prompt].argsort(stable=True)]
    by_prompt = by_length[prompt_of_row[by_length].argsort(stable=True)]
    rows_of = (prompt_of_row.tolist(), prompt_lengths.tolist(), completion_lengths.tolist())
    packings = [
        _pack(order.tolist(), *rows_of, max_sequences, max_tokens) for order in (by_prompt, by_length)
    ]
    batches, _ = min(packings, key=lambda packing: packing[1])
    return [indices.new_tensor(batch) for batch in batches]


def _pack(
    ordered: list[int],
    prompts: list[int],
    prompt_width: list[int],
    completion_width: list[int],
    max_sequences: int,
    max_tokens: int | None,
) -> tuple[list[list[int]], int]:
    """Greedy cut of `ordered` rows; returns the micro-batches and the token positions they run."""
    batches: list[list[int]] = []
    total = 0
    current: list[int] = []
    distinct: set[int] = set()
    widest_prompt = widest_completion = 0

    def cost(rows: int, prompts: int, prompt: int, completion: int) -> int:
        return prompts * prompt + rows * completion

    for row in ordered:
        with_row = cost(
            len(current) + 1,
            len(distinct | {prompts[row]}),
            max(widest_prompt, prompt_width[row]),
            max(widest_completion, completion_width[row]),
        )
        if current and (len(current) == max_sequences or (max_tokens is not None and with_row > max_tokens)):
            batches.append(current)
            total += cost(len(current), len(distinct), widest_prompt, widest_completion)
            current, distinct, widest_prompt, widest_completion = [], set(), 0, 0
        current.append(row)
        distinct.add(prompts[row])
        widest_prompt = max(widest_prompt, prompt_width[row])
        widest_completion = max(widest_completion, completion_width[row])
    if current:
        batches.append(current)
        total += cost(len(current), len(distinct), widest_prompt, widest_completion)
    return batches, total
