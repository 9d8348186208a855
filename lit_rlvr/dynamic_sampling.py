"""Dynamic sampling (DAPO, arXiv 2503.14476): keep informative groups, sample more until the batch is full.

Pure pieces the rollout callback calls: selecting whole groups of a verified rollout, concatenating
rollouts of several generation rounds (re-padding prompts on the left and completions on the
right), and the loop itself, which takes the generation as a function so it is testable alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch
from torch import Tensor

from lit_rlvr.rollout import Rollout


def select_groups(rollout: Rollout, keep: Tensor) -> Rollout:
    """The groups of `rollout` where `keep` (`[B]` bool) is True, untrimmed; log-probs not yet filled."""
    groups = keep.nonzero().flatten().tolist()
    rows = torch.tensor(
        [b * rollout.group_size + g for b in groups for g in range(rollout.group_size)], dtype=torch.long
    ).to(rollout.rewards.device)
    return rollout._replace(
        prompt_ids=rollout.prompt_ids[rows],
        prompt_mask=rollout.prompt_mask[rows],
        completion_ids=rollout.completion_ids[rows],
        completion_mask=rollout.completion_mask[rows],
        sampler_logp=None if rollout.sampler_logp is None else rollout.sampler_logp[rows],
        truncated=rollout.truncated[rows],
        texts=[rollout.texts[i] for i in rows.tolist()],
        rows=[rollout.rows[b] for b in groups],
        rewards=rollout.rewards[rows],
        correct=rollout.correct[rows],
        reward_terms={name: values[rows] for name, values in (rollout.reward_terms or {}).items()},
        observation_mask=None if rollout.observation_mask is None else rollout.observation_mask[rows],
        episode_counts=None
        if rollout.episode_counts is None
        else {name: counts[rows] for name, counts in rollout.episode_counts.items()},
    )


def _pad(tensors: list[Tensor], value: Any, *, left: bool) -> Tensor:
    width = max(t.shape[1] for t in tensors)
    padded = [
        torch.nn.functional.pad(t, (width - t.shape[1], 0) if left else (0, width - t.shape[1]), value=value)
        for t in tensors
    ]
    return torch.cat(padded)


def concat_rollouts(parts: list[Rollout], pad_token_id: int) -> Rollout:
    """One rollout from several verified ones with the same group size, before log-probs are filled."""
    first = parts[0]
    if len(parts) == 1:
        return first
    timings: dict[str, float] = {}
    for part in parts:
        for phase, seconds in (part.timings or {}).items():
            timings[phase] = timings.get(phase, 0.0) + seconds
    return first._replace(
        prompt_ids=_pad([p.prompt_ids for p in parts], pad_token_id, left=True),
        prompt_mask=_pad([p.prompt_mask for p in parts], False, left=True),
        completion_ids=_pad([p.completion_ids for p in parts], pad_token_id, left=False),
        completion_mask=_pad([p.completion_mask for p in parts], False, left=False),
        sampler_logp=None
        if first.sampler_logp is None
        else _pad([p.sampler_logp for p in parts], 0.0, left=False),
        truncated=torch.cat([p.truncated for p in parts]),
        texts=[text for p in parts for text in p.texts],
        rows=[row for p in parts for row in p.rows],
        rewards=torch.cat([p.rewards for p in parts]),
        correct=torch.cat([p.correct for p in parts]),
        reward_terms={
            name: torch.cat([p.reward_terms[name] for p in parts]) for name in first.reward_terms or {}
        },
        timings=timings,
        observation_mask=None
        if first.observation_mask is None
        else _pad([p.observation_mask for p in parts], False, left=False),
        episode_counts=None if first.episode_counts is None else _concat_counts(parts),
    )


def _concat_counts(parts: list[Rollout]) -> dict[str, Tensor]:
    """Each count over the parts' episodes, 0 in a part where nothing was counted under its name."""
    names = sorted({name for p in parts for name in p.episode_counts})
    return {
        name: torch.cat([p.episode_counts.get(name, torch.zeros_like(p.rewards)) for p in parts])
        for name in names
    }


class Sampled(NamedTuple):
    """A batch after dynamic sampling and how it was obtained."""

    rollout: Rollout
    rounds: int  # generation rounds spent
    capped: bool  # the rounds ran out before the batch was full
    informative: int  # groups kept (all of them when nothing is filtered)


def sample_informative(
    collect: Callable[[dict[str, Any]], Rollout],
    first_batch: dict[str, Any],
    more_batches: Iterator[dict[str, Any]],
    keep_groups: Callable[[Tensor, Tensor], Tensor | None],
    *,
    prompts_needed: int,
    max_rounds: int,
    pad_token_id: int,
) -> Sampled:
    """Generates rounds of groups, keeping those `keep_groups` keeps, until `prompts_needed` are kept.

    Args:
        collect: generates and verifies a rollout for a prompt batch.
        first_batch: the step's own prompt batch.
        more_batches: further prompt batches, drawn only when groups were dropped.
        keep_groups: `[B, G]` rewards and correctness -> `[B]` bool, or None to keep every group.
        prompts_needed: groups in a full batch (`data.prompts_per_step`).
        max_rounds: most rounds, the first included.
        pad_token_id: re-pads prompts and completions of different rounds.

    Returns:
        At most `prompts_needed` kept groups (extra ones from the last round are dropped). When the
        rounds run out with none kept, the last round as it is, so the step still runs (its groups
        carry zero advantage under a group baseline).
    """
    kept: list[Rollout] = []
    count, batch = 0, first_batch
    for rounds in range(1, max_rounds + 1):
        rollout = collect(batch)
        group = rollout.group_size
        keep = keep_groups(rollout.rewards.view(-1, group), rollout.correct.view(-1, group))
        if keep is None:
            return Sampled(rollout, rounds, capped=False, informative=len(rollout.rows))
        keep &= keep.cumsum(0) <= prompts_needed - count  # no more than the batch needs
        if keep.any():
            kept.append(select_groups(rollout, keep))
            count += int(keep.sum())
        if count >= prompts_needed:
            return Sampled(concat_rollouts(kept, pad_token_id), rounds, capped=False, informative=count)
        if rounds < max_rounds:
            batch = next(more_batches)
    last = concat_rollouts(kept, pad_token_id) if kept else rollout
    return Sampled(last, max_rounds, capped=True, informative=count)
