"""Micro-batches of a mini-batch's rows, formed by a token budget.

Rows are ordered by prompt, then by completion length, and cut greedily: a micro-batch's forward
pass runs each of its distinct prompts once (`lit_rlvr.logprobs`) at its longest prompt's width,
and each of its rows' completions at its longest completion's width, so rows sampled from one
prompt and rows of similar length travel together and padding costs little. Losses are
normalised over the whole mini-batch (`LossNorm`), so the gradient does not depend on the cut.
"""

from __future__ import annotations

from torch import Tensor


def micro_batches(
    rows: Tensor,
    prompt_of_row: Tensor,
    prompt_lengths: Tensor,
    completion_lengths: Tensor,
    *,
    max_sequences: int,
    max_tokens: int | None = None,
) -> list[Tensor]:
    """Splits `rows` into micro-batches of at most `max_sequences` rows and `max_tokens` token positions.

    Args:
        rows: `[n]` row indices into the rollout.
        prompt_of_row: `[N]` the prompt each rollout row was sampled from.
        prompt_lengths: `[N]` real prompt tokens per rollout row.
        completion_lengths: `[N]` real completion tokens per rollout row.
        max_sequences: rows per micro-batch at most.
        max_tokens: token positions per micro-batch at most (None: no limit); a row that alone
            exceeds it forms its own micro-batch.

    Returns:
        Micro-batches of row indices, together holding each of `rows` once.
    """
    by_length = rows[completion_lengths[rows].argsort(stable=True)]
    ordered = by_length[prompt_of_row[by_length].argsort(stable=True)].tolist()
    prompts, prompt_width, completion_width = prompt_of_row.tolist(), prompt_lengths.tolist(), completion_lengths.tolist()
    batches: list[list[int]] = []
    current: list[int] = []
    distinct: set[int] = set()
    widest_prompt = widest_completion = 0
    for row in ordered:
        with_row = (
            len(distinct | {prompts[row]}) * max(widest_prompt, prompt_width[row])
            + (len(current) + 1) * max(widest_completion, completion_width[row])
        )
        if current and (len(current) == max_sequences or (max_tokens is not None and with_row > max_tokens)):
            batches.append(current)
            current, distinct, widest_prompt, widest_completion = [], set(), 0, 0
        current.append(row)
        distinct.add(prompts[row])
        widest_prompt = max(widest_prompt, prompt_width[row])
        widest_completion = max(widest_completion, completion_width[row])
    if current:
        batches.append(current)
    return [rows.new_tensor(batch) for batch in batches]
