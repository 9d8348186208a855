"""Does SPPO's prompt critic know the prompt, or only the level? Its values against measured success rates.

    python tools/critic_ranking.py --run runs/sppo --prompts 64 --samples 32 --out runs/sppo_critic

Reads a trained run (its `lightning_logs/version_N/config.yaml`, the newest, and
`checkpoints/last.ckpt`, or `--ckpt`), samples `--samples` completions of each of the first
`--prompts` validation prompts with the trained policy at the training temperature, verifies them
with the run's reward terms, and compares the critic's `V(prompt) = sigmoid(logit)` with each
prompt's measured success rate:

- Spearman's rank correlation (ties averaged) with a bootstrap 95% interval over prompts: whether
  the critic ranks prompts. A batch-mean baseline, the same value for every prompt, ranks nothing
  (correlation 0 by definition), which is what SPPO's critic replaces;
- the Brier score of `V` against the rates beside that of the rates' mean for every prompt (the
  best constant); below it, the critic knows more than the level;
- the spread of `V` over prompts beside that of the rates: a rank correlation resting on values
  that differ in the fourth decimal says the critic barely tells prompts apart.

A rate from `k` samples is itself noisy (its variance `p(1 - p) / k` is in both scores), so the
interval is the measurement's, not the critic's alone. Writes `<out>/critic_ranking.csv` (one row a
prompt), `<out>/critic_ranking.json` (the summary, also printed) and `<out>/critic_ranking.png`.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from lit_rlvr.callbacks import RolloutCollector
from lit_rlvr.cli import run


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in order[start : end + 1]:
            out[position] = (start + end) / 2 + 1
        start = end + 1
    return out


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks; 0 when either side is constant."""
    rx, ry = ranks(x), ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sx = sum((a - mx) ** 2 for a in rx) ** 0.5
    sy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (sx * sy) if sx > 0 and sy > 0 else 0.0


def bootstrap_interval(
    x: list[float], y: list[float], *, draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of Spearman's rho over prompts resampled with replacement."""
    rng = random.Random(seed)
    n = len(x)
    values = []
    for _ in range(draws):
        picked = [rng.randrange(n) for _ in range(n)]
        values.append(spearman([x[i] for i in picked], [y[i] for i in picked]))
    values.sort()
    return values[int(0.025 * draws)], values[min(int(0.975 * draws), draws - 1)]


def brier(predicted: list[float], rates: list[float]) -> float:
    """Mean squared difference of predictions and measured rates."""
    return statistics.fmean((p - r) ** 2 for p, r in zip(predicted, rates, strict=True))


def summarize(values: list[float], rates: list[float]) -> dict[str, float]:
    """The readings of critic values against success rates, one pair a prompt."""
    low, high = bootstrap_interval(values, rates)
    level = statistics.fmean(rates)
    return {
        "prompts": len(rates),
        "spearman": spearman(values, rates),
        "spearman_ci95_low": low,
        "spearman_ci95_high": high,
        "brier_critic": brier(values, rates),
        "brier_batch_mean": brier([level] * len(rates), rates),
        "mean_rate": level,
        "mean_value": statistics.fmean(values),
        "rate_std": statistics.pstdev(rates),
        "value_std": statistics.pstdev(values),
    }


def measure(run_dir: Path, ckpt: Path | None, prompts: int, samples: int) -> list[dict[str, Any]]:
    """Per prompt: its text, the critic's value and the success rate of `samples` completions."""
    configs = sorted(
        run_dir.glob("lightning_logs/version_*/config.yaml"), key=lambda p: int(p.parent.name[8:])
    )
    if not configs:
        raise FileNotFoundError(
            f"{run_dir}: no lightning_logs/version_*/config.yaml (give a trained run's folder)"
        )
    ckpt = ckpt or run_dir / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        raise FileNotFoundError(f"{ckpt}: no checkpoint (give --ckpt)")
    config = yaml.safe_load(configs[-1].read_text())
    for fit_only in ("ckpt_path", "weights_only"):  # `fit`'s own options: the models are built, not fitted
        config.pop(fit_only, None)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        yaml.safe_dump(config, file)
        cli = run([f"--config={file.name}", "--trainer.logger=false"], subcommand=False)
    module = cli.model
    if module.critic is None or module.objective.critic_kind != "prompt":
        raise ValueError(f"{run_dir}: the run's objective has no prompt critic (an SPPO run is needed)")
    module.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"])
    module.eval()
    (collector,) = [c for c in cli.trainer.callbacks if isinstance(c, RolloutCollector)]
    cli.datamodule.setup("validate")
    rows: list[dict[str, Any]] = []
    try:
        for batch in cli.datamodule.val_dataloader():
            batch = {**batch, **{k: v[: prompts - len(rows)] for k, v in batch.items() if k != "rows"}}
            batch["rows"] = batch["rows"][: prompts - len(rows)]
            with torch.no_grad():
                rollout = collector.engine(module.policy, module.tokenizer, batch, samples=samples)
                values = torch.sigmoid(module.critic.rollout_values(rollout, module.micro_batch_size))
            group = rollout.group_size
            scores = collector.scorer(rollout.texts, [row for row in rollout.rows for _ in range(group)])
            rates = scores.correct.float().view(-1, group).mean(1)
            for row, value, rate in zip(rollout.rows, values.tolist(), rates.tolist(), strict=True):
                rows.append({"prompt": row["messages"][-1]["content"], "value": value, "rate": rate})
            print(f"{len(rows)}/{prompts} prompts measured", flush=True)
            if len(rows) >= prompts:
                break
    finally:
        collector.scorer.close()
    return rows


def plot(rows: list[dict[str, Any]], summary: dict[str, float], path: Path) -> None:
    from compare_objectives import load_pyplot

    pyplot = load_pyplot()
    figure, axis = pyplot.subplots(figsize=(5, 5))
    axis.scatter([r["rate"] for r in rows], [r["value"] for r in rows], s=12, alpha=0.7)
    axis.axhline(summary["mean_rate"], color="grey", linestyle="--", label="batch mean (ranks nothing)")
    axis.plot([0, 1], [0, 1], color="black", linewidth=0.5)
    axis.set(
        xlabel="measured success rate", ylabel="critic V(prompt)", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02)
    )
    axis.set_title(
        f"Spearman {summary['spearman']:.2f} [{summary['spearman_ci95_low']:.2f}, "
        f"{summary['spearman_ci95_high']:.2f}], {summary['prompts']} prompts",
        fontsize=9,
    )
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="the trained SPPO run's folder")
    parser.add_argument("--ckpt", type=Path, help="the checkpoint (default: <run>/checkpoints/last.ckpt)")
    parser.add_argument("--prompts", type=int, default=64, help="validation prompts measured")
    parser.add_argument("--samples", type=int, default=32, help="completions sampled per prompt")
    parser.add_argument("--out", type=Path, help="where the CSV, summary and plot go (default: <run>)")
    args = parser.parse_args(argv)
    if args.prompts < 3 or args.samples < 1:
        parser.error(f"--prompts takes 3 or more and --samples 1 or more, got {args.prompts}, {args.samples}")
    try:
        rows = measure(args.run, args.ckpt, args.prompts, args.samples)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"critic_ranking.py: {error}")
    summary = summarize([r["value"] for r in rows], [r["rate"] for r in rows])
    out = args.out or args.run
    out.mkdir(parents=True, exist_ok=True)
    with (out / "critic_ranking.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["prompt", "value", "rate"])
        writer.writeheader()
        writer.writerows(rows)
    (out / "critic_ranking.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(rows, summary, out / "critic_ranking.png")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
