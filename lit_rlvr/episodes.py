"""Multi-turn rollouts: the policy and an environment take turns, and the trajectory stays token ids.

Each episode (G per prompt, rows prompt-major) alternates a policy turn, sampled by the rollout
engine from the prompt and the trajectory so far, and the environment's answer, tokenized once
(`lit_rlvr.environments.chat.ObservationTokens`) and appended. The policy's tokens are kept as
sampled, with the sampler's log-probs; `completion_mask` covers them only, `observation_mask` the
observations and the template's turn markers, so every objective trains on the policy's tokens.
An episode ends when the environment says so, after `max_turns` policy turns, or truncated: a turn
without an end-of-sequence token within its budget, or no room left in `max_tokens`.

`texts` holds each episode's last policy turn: the answer the reward terms verify (a tool's output
earlier in the trajectory is not the policy's answer).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch import Tensor, nn

from lit_rlvr.environments.base import Environment
from lit_rlvr.environments.chat import ObservationTokens
from lit_rlvr.rollout import Rollout, RolloutEngine, eos_token_ids


class Episode:
    """One trajectory being built: its token ids, whose they are, and what the environment counted."""

    def __init__(self, prompt: list[int], state: Any, counted: tuple[str, ...]) -> None:
        self.prompt = prompt
        self.state = state
        self.tokens: list[int] = []
        self.by_policy: list[bool] = []
        self.logp: list[float] = []
        self.turns = 0
        self.last_turn = ""
        self.truncated = False
        self.rewards: Counter[str] = Counter()
        self.counts: Counter[str] = Counter(dict.fromkeys(counted, 0))

    def add(self, tokens: list[int], logp: list[float] | None, *, by_policy: bool) -> None:
        self.tokens += tokens
        self.by_policy += [by_policy] * len(tokens)
        self.logp += logp if logp is not None else [0.0] * len(tokens)


def run_episodes(
    engine: RolloutEngine,
    model: nn.Module,
    tokenizer: Any,
    batch: dict[str, Any],
    environment: Environment,
    observation_tokens: ObservationTokens,
    *,
    greedy: bool,
    samples: int | None = None,
) -> Rollout:
    """The multi-turn `Rollout` of `batch`: `samples` episodes per prompt (None: G; 1 when greedy)."""
    group = 1 if greedy else samples or engine.samples_per_prompt
    eos = set(eos_token_ids(model, tokenizer).tolist())
    prompts = [
        ids[mask].tolist() for ids, mask in zip(batch["prompt_ids"], batch["prompt_mask"].bool(), strict=True)
    ]
    episodes = [
        Episode(prompt, environment.start(row), environment.counted)
        for prompt, row in zip(prompts, batch["rows"], strict=True)
        for _ in range(group)
    ]
    live = list(episodes)
    while live:
        budgets = [min(engine.max_new_tokens, environment.max_tokens - len(e.tokens)) for e in live]
        prompt_ids, prompt_mask = _left_pad([e.prompt + e.tokens for e in live], tokenizer.pad_token_id)
        sampled = engine.sample(
            model,
            tokenizer,
            prompt_ids.to(batch["prompt_ids"].device),
            prompt_mask.to(batch["prompt_ids"].device),
            samples=1,
            max_new_tokens=max(budgets),
            greedy=greedy,
        )
        answering = []
        for episode, budget, drawn, logp in zip(
            live, budgets, sampled.tokens.tolist(), sampled.logp.tolist(), strict=True
        ):
            ends = [i for i, token in enumerate(drawn[:budget]) if token in eos]
            turn = drawn[: ends[0] + 1] if ends else drawn[:budget]
            episode.add(turn, logp[: len(turn)], by_policy=True)
            episode.turns += 1
            episode.last_turn = tokenizer.decode(turn, skip_special_tokens=True)
            episode.truncated = not ends
            if ends and episode.turns < environment.max_turns:
                answering.append(episode)
        answers = environment.step([e.state for e in answering], [e.last_turn for e in answering])
        live = []
        for episode, answer in zip(answering, answers, strict=True):
            episode.rewards.update(answer.rewards)
            episode.counts.update(answer.counts)
            if answer.done:
                continue
            observation = observation_tokens(answer.observation or "", tokenizer.decode(episode.tokens[-1:]))
            if len(episode.tokens) + len(observation) >= environment.max_tokens:
                episode.truncated = True  # no room left for the policy to answer
                continue
            episode.add(observation, None, by_policy=False)
            live.append(episode)
    return _rollout(episodes, batch, engine, environment, tokenizer.pad_token_id, greedy=greedy, group=group)


def _left_pad(sequences: list[list[int]], pad_token_id: int) -> tuple[Tensor, Tensor]:
    """`[n, L]` ids left-padded with `pad_token_id` and their `[n, L]` bool mask."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros(ids.shape, dtype=torch.bool)
    for row, sequence in enumerate(sequences):
        ids[row, width - len(sequence) :] = torch.tensor(sequence, dtype=torch.long)
        mask[row, width - len(sequence) :] = True
    return ids, mask


def _rollout(
    episodes: list[Episode],
    batch: dict[str, Any],
    engine: RolloutEngine,
    environment: Environment,
    pad_token_id: int,
    *,
    greedy: bool,
    group: int,
) -> Rollout:
    device = batch["prompt_ids"].device
    width = max(len(e.tokens) for e in episodes)
    ids = torch.full((len(episodes), width), pad_token_id, dtype=torch.long)
    by_policy = torch.zeros(ids.shape, dtype=torch.bool)
    real = torch.zeros(ids.shape, dtype=torch.bool)
    logp = torch.zeros(ids.shape, dtype=torch.float32)
    for row, episode in enumerate(episodes):
        length = len(episode.tokens)
        ids[row, :length] = torch.tensor(episode.tokens, dtype=torch.long)
        by_policy[row, :length] = torch.tensor(episode.by_policy)
        real[row, :length] = True
        logp[row, :length] = torch.tensor(episode.logp)
    for episode in episodes:
        episode.counts["turns"] = episode.turns
    names = sorted({name for e in episodes for name in e.counts})
    # counts and reward terms stay on the CPU, beside the reward scorer's terms they join
    counts = {name: torch.tensor([float(e.counts.get(name, 0)) for e in episodes]) for name in names}
    reward_names = sorted({name for e in episodes for name in e.rewards})
    return Rollout(
        prompt_ids=batch["prompt_ids"].repeat_interleave(group, 0),
        prompt_mask=batch["prompt_mask"].repeat_interleave(group, 0),
        completion_ids=ids.to(device),
        completion_mask=by_policy.to(device),
        truncated=torch.tensor([e.truncated for e in episodes], device=device),
        texts=[e.last_turn for e in episodes],
        rows=batch["rows"],
        group_size=group,
        max_new_tokens=environment.max_tokens,
        sampler_logp=None if greedy else logp.to(device),
        reward_terms={
            name: torch.tensor([e.rewards.get(name, 0.0) for e in episodes]) for name in reward_names
        }
        or None,
        observation_mask=(real & ~by_policy).to(device),
        episode_counts=counts,
        **engine.distribution(greedy),
    )


def episode_metrics(rollout: Rollout) -> dict[str, float]:
    """`env/<count>` per episode (turns, tool calls, tool errors by kind); with tool calls counted,
    the share of episodes that made one and the accuracy of those that did and did not. Empty for a
    one-turn rollout."""
    if rollout.episode_counts is None:
        return {}
    metrics = {f"env/{name}": float(counts.mean()) for name, counts in rollout.episode_counts.items()}
    if "tool_calls" in rollout.episode_counts and rollout.correct is not None:
        used = rollout.episode_counts["tool_calls"] > 0
        metrics["env/used_tool"] = float(used.float().mean())
        for name, episodes in (("with_tool", used), ("without_tool", ~used)):
            if episodes.any():
                metrics[f"env/accuracy_{name}"] = float(rollout.correct[episodes].float().mean())
    return metrics
