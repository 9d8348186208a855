"""Micro-batches by token budget: every row once, within both limits, grouped by prompt and length."""

import pytest
import torch

from lit_rlvr.batching import micro_batches


def cost(batch, prompt_of_row, prompt_lengths, completion_lengths):
    return len(set(prompt_of_row[batch].tolist())) * int(prompt_lengths[batch].max()) + len(batch) * int(
        completion_lengths[batch].max()
    )


@pytest.mark.parametrize("max_sequences, max_tokens", [(8, None), (3, None), (64, 200), (5, 120), (64, 1)])
def test_every_row_once_within_the_limits(max_sequences, max_tokens):
    generator = torch.Generator().manual_seed(0)
    group = 4
    prompt_of_row = torch.arange(32) // group
    prompt_lengths = torch.randint(10, 40, (8,), generator=generator).repeat_interleave(group)
    completion_lengths = torch.randint(1, 64, (32,), generator=generator)
    rows = torch.randperm(32, generator=generator)[:27]
    batches = micro_batches(
        rows,
        prompt_of_row,
        prompt_lengths,
        completion_lengths,
        max_sequences=max_sequences,
        max_tokens=max_tokens,
    )
    assert sorted(torch.cat(batches).tolist()) == sorted(rows.tolist())
    for batch in batches:
        assert len(batch) <= max_sequences
        if max_tokens is not None and len(batch) > 1:
            assert cost(batch, prompt_of_row, prompt_lengths, completion_lengths) <= max_tokens


def test_a_budget_cuts_padding():
    """Short and long completions of one prompt: the budget separates them instead of padding all to
    the longest."""
    prompt_of_row = torch.zeros(8, dtype=torch.long)
    prompt_lengths = torch.full((8,), 20)
    completion_lengths = torch.tensor([60, 3, 58, 4, 2, 61, 5, 59])
    batches = micro_batches(
        torch.arange(8), prompt_of_row, prompt_lengths, completion_lengths, max_sequences=8, max_tokens=270
    )
    assert [sorted(completion_lengths[b].tolist()) for b in batches] == [[2, 3, 4, 5], [58, 59, 60, 61]]


def test_long_prompts_keep_their_rows_together_and_long_completions_sort_by_length():
    group = 4
    prompt_of_row = torch.arange(16) // group
    completion_lengths = torch.tensor([5, 60, 6, 61] * 4)
    long_prompts = micro_batches(
        torch.arange(16), prompt_of_row, torch.full((16,), 500), completion_lengths, max_sequences=4
    )
    assert all(len(set(prompt_of_row[b].tolist())) == 1 for b in long_prompts)
    short_prompts = micro_batches(
        torch.arange(16), prompt_of_row, torch.full((16,), 5), completion_lengths, max_sequences=4
    )
    assert sorted(int(completion_lengths[b].max()) for b in short_prompts) == [5, 6, 60, 61]
