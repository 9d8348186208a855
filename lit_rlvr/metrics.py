"""Metrics of a training step: rollout statistics, throughput, and sample completions for the logger."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from lit_rlvr.rollout import Rollout


def stats(values: Tensor) -> dict[str, Tensor]:
    """Mean, std, min and max of a flat tensor."""
    values = values.detach().float()
    return {"mean": values.mean(), "std": values.std() if values.numel() > 1 else values.new_zeros(()),
            "min": values.min(), "max": values.max()}  # fmt: skip


class WeightedMeans:
    """Accumulates scalar metrics over micro-batches (and processes): a `*_max` key keeps the largest
    value, a `*_min` key the smallest, any other key its mean weighted by `weight` (tokens)."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.weights: dict[str, float] = {}
        self.extremes: dict[str, Tensor] = {}  # max of the value (`*_max`) or of its negation (`*_min`)

    def add(self, values: dict[str, Tensor], weight: float = 1.0) -> None:
        for key, value in values.items():
            value = torch.as_tensor(value).detach().float()
            if key.endswith(("_max", "_min")):
                signed = value if key.endswith("_max") else -value
                self.extremes[key] = torch.maximum(self.extremes.get(key, signed), signed)
            else:
                self.sums[key] = self.sums.get(key, 0.0) + value * weight
                self.weights[key] = self.weights.get(key, 0.0) + weight

    def means(self) -> dict[str, Tensor]:
        means = {key: total / max(self.weights[key], 1e-12) for key, total in self.sums.items()}
        return means | {key: v if key.endswith("_max") else -v for key, v in self.extremes.items()}

    def reduced(
        self,
        sum_over_processes: Callable[[Tensor], Tensor] | None,
        max_over_processes: Callable[[Tensor], Tensor] | None,
    ) -> dict[str, Tensor]:
        """`means()` over every process's additions (each process calls it with the same keys)."""
        if sum_over_processes is None or max_over_processes is None:
            return self.means()
        keys, extremes = sorted(self.sums), sorted(self.extremes)
        if keys:
            sums = torch.stack(
                [self.sums[k] for k in keys] + [self.sums[k].new_tensor(self.weights[k]) for k in keys]
            )
            sums = sum_over_processes(sums)
            self.sums = dict(zip(keys, sums[: len(keys)], strict=True))
            self.weights = {k: float(w) for k, w in zip(keys, sums[len(keys) :], strict=True)}
        if extremes:
            largest = max_over_processes(torch.stack([self.extremes[k] for k in extremes]))
            self.extremes = dict(zip(extremes, largest, strict=True))
        return self.means()


def rollout_metrics(rollout: Rollout) -> dict[str, Tensor]:
    """Reward, accuracy, response length and reward-health metrics of a verified rollout."""
    rewards = rollout.rewards.float()
    grouped = rewards.view(-1, rollout.group_size)
    lengths = rollout.completion_mask.sum(-1).float()
    out = {f"reward/{k}": v for k, v in stats(rewards).items()}
    out["reward/accuracy"] = rollout.correct.float().mean()
    if rollout.group_size > 1:
        out["reward/zero_variance_groups"] = (grouped.std(dim=1) == 0).float().mean()
    for name, values in (rollout.reward_terms or {}).items():
        out[f"reward/{name}/mean"] = values.float().mean()
    out["rollout/response_length_mean"] = lengths.mean()
    out["rollout/response_length_max"] = lengths.max()
    out["rollout/truncated"] = rollout.truncated.float().mean()
    return out


def perf_metrics(rollout: Rollout, timings: dict[str, float]) -> dict[str, float]:
    """Seconds per phase and throughput of the whole step."""
    total = max(sum(timings.values()), 1e-9)
    out = {f"perf/{phase}_s": seconds for phase, seconds in timings.items()}
    out["perf/step_s"] = total
    out["perf/completions_per_s"] = len(rollout.texts) / total
    out["perf/tokens_per_s"] = float(rollout.completion_mask.sum()) / total
    return out


def log_completions(logger: Any, rollout: Rollout, step: int, limit: int = 4) -> None:
    """Writes a few prompts' completions, rewards and golds as text (TensorBoard only)."""
    experiment = getattr(logger, "experiment", None)
    if experiment is None or not hasattr(experiment, "add_text"):
        return
    lines = []
    for i, text in enumerate(rollout.texts[: limit * rollout.group_size : rollout.group_size]):
        row = rollout.rows[i]
        reward = float(rollout.rewards[i * rollout.group_size])
        lines.append(f"**gold** `{row['gold']}` **reward** {reward:.2f}\n\n```\n{text}\n```")
    experiment.add_text("rollout/completions", "\n\n---\n\n".join(lines), global_step=step)


def pass_at_k(samples: int, correct: int, k: int) -> float:
    """Unbiased pass@k of one problem with `correct` right among `samples` drawn (Chen et al. 2021,
    "Evaluating Large Language Models Trained on Code", Eq. 1): `1 - C(n - c, k) / C(n, k)`."""
    if samples - correct < k:
        return 1.0
    return 1.0 - math.comb(samples - correct, k) / math.comb(samples, k)


class ValidationTally:
    """One validation's problems: greedy correctness and how many of the n completions sampled at
    the training temperature were right (when sampled); read overall and per data source.

    Readings: `val/accuracy` (greedy), `val/mean@n` (the mean sampled accuracy: pass@1's unbiased
    estimate) and `val/pass@k` for k = 2, 4, ... up to n; each also as `<key>/<data_source>` when
    the problems come from more than one source; `val/problems`, how many were read. With tools, the
    greedy episodes' `val/used_tool` share and `val/accuracy_with_tool` / `_without_tool`.
    """

    def __init__(self) -> None:
        self.samples = 0
        # (data source, greedy right, sampled right, greedy episode called a tool: None without tools)
        self.problems: list[tuple[str, bool, int, bool | None]] = []

    def add(
        self,
        sources: list[str],
        greedy_correct: Tensor,
        sampled_correct: Tensor | None,
        used_tool: Tensor | None = None,
    ) -> None:
        """A validation batch of `B` problems.

        Args:
            sources: each problem's data source.
            greedy_correct: `[B]` bool, the greedy completion was right.
            sampled_correct: `[B, n]` bool, which sampled completions were right; None: not sampled.
            used_tool: `[B]` bool, the greedy episode called a tool; None: no tools.
        """
        right = [0] * len(sources)
        if sampled_correct is not None:
            self.samples = sampled_correct.shape[1]
            right = sampled_correct.sum(1).tolist()
        used = [None] * len(sources) if used_tool is None else used_tool.tolist()
        for source, first, count, tool in zip(sources, greedy_correct.tolist(), right, used, strict=True):
            self.problems.append((source, bool(first), int(count), tool))

    def readings(self) -> dict[str, float]:
        sources = sorted({problem[0] for problem in self.problems})
        groups = {"": self.problems} | (
            {f"/{s}": [p for p in self.problems if p[0] == s] for s in sources} if len(sources) > 1 else {}
        )
        out = {"val/problems": float(len(self.problems))}
        ks = [k for k in (2**i for i in range(1, 32)) if k <= self.samples]
        for suffix, problems in groups.items():
            if not problems:
                continue
            out[f"val/accuracy{suffix}"] = sum(p[1] for p in problems) / len(problems)
            if self.samples:
                right = [p[2] for p in problems]
                out[f"val/mean@{self.samples}{suffix}"] = sum(right) / (self.samples * len(problems))
                for k in ks:
                    out[f"val/pass@{k}{suffix}"] = statistics.fmean(
                        pass_at_k(self.samples, c, k) for c in right
                    )
        with_tools = [p for p in self.problems if p[3] is not None]
        if with_tools:
            out["val/used_tool"] = sum(p[3] for p in with_tools) / len(with_tools)
            for name, used in (("with_tool", True), ("without_tool", False)):
                episodes = [p[1] for p in with_tools if p[3] is used]
                if episodes:
                    out[f"val/accuracy_{name}"] = sum(episodes) / len(episodes)
        return out
