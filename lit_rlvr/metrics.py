"""Metrics of a training step: rollout statistics, throughput, and sample completions for the logger."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lit_rlvr.rollout import Rollout


def stats(values: Tensor) -> dict[str, Tensor]:
    """Mean, std, min and max of a flat tensor."""
    values = values.detach().float()
    return {"mean": values.mean(), "std": values.std() if values.numel() > 1 else values.new_zeros(()),
            "min": values.min(), "max": values.max()}  # fmt: skip


class WeightedMeans:
    """Accumulates scalar metrics as weighted means (micro-batches weighted by their tokens)."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.weights: dict[str, float] = {}

    def add(self, values: dict[str, Tensor], weight: float = 1.0) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value.detach().float() * weight
            self.weights[key] = self.weights.get(key, 0.0) + weight

    def means(self) -> dict[str, Tensor]:
        return {key: total / max(self.weights[key], 1e-12) for key, total in self.sums.items()}


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
