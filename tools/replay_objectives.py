"""Replay objectives on the same rollouts: each arm's updates applied to one saved set of rollouts,
from the same starting weights, read optimizer step by optimizer step.

Two training runs differ in their samples as much as in their objectives, and a few seeds cannot
tell a few points apart. A replay takes the sampling out: the rollouts are drawn once from the
starting policy (prompts, completions, rewards, the sampler's log-probs; saved to
`<out>/rollouts.pt`), then each arm trains on exactly those, in the same order, from the same
weights, with its own objective, mini-batches, epochs and learning rate (its config and overrides).
Per arm and optimizer step it reports:

- `zero_grad_tokens`: the share of completion tokens whose loss has zero gradient (clipped, zero
  advantage, dropped), as `RLVRModule` logs it (`update/zero_grad_tokens`);
- `clip_frac`: the share of the objective's own units clipped, low and high together;
- `kl_to_start`: KL(start || now) per token on the probe completions (k3);
- `logp_change_correct`, `logp_change_incorrect`: the mean change since the start of the
  log-likelihood of the probe completions that were right, and of those that were wrong.

The probe is the first `--probe` saved rollouts (every one by default), scored after each optimizer
step: on a CPU a smaller probe keeps the readings affordable.

    python tools/replay_objectives.py --out runs/replay --rollouts 4 \\
        --arm grpo=configs/grpo.yaml --arm 'gspo=configs/gspo.yaml' \\
        --arm 'sspo_flat=configs/sspo.yaml --model.objective.entropy_adaptive=false' -- --model.lr=1e-5

The first arm's config (and the shared overrides after `--`) decides how the rollouts are drawn:
task, prompts per step, samples per prompt, temperature, budget, rewards. Every arm must take
that group size. Dynamic sampling (DAPO's group filter) is not replayed: the rollouts are fixed.
Writes `<out>/replay.csv`, `<out>/replay.png` and each arm's TensorBoard log under `<out>/<arm>`.
Needs matplotlib: `pip install -e '.[tools]'`.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import statistics
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from compare_objectives import load_pyplot
from lightning import Callback
from run_curves import clip_fractions, read_scalars, version_dirs

from lit_rlvr.callbacks import RolloutCollector
from lit_rlvr.cli import run
from lit_rlvr.mismatch import kl_to_sampler
from lit_rlvr.rollout import Rollout

READINGS = ("zero_grad_tokens", "clip_frac", "kl_to_start", "logp_change_correct", "logp_change_incorrect")


def build(arm_args: list[str], out: Path) -> Any:
    """The CLI of one arm, parsed and instantiated, not run."""
    args = [*arm_args, f"--trainer.default_root_dir={out}", "--trainer.enable_checkpointing=false"]
    args += ["--trainer.limit_val_batches=0", "--trainer.enable_progress_bar=false"]
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # the tool's own argv
    return run(args, subcommand=False)


def collect(arm_args: list[str], count: int, out: Path) -> list[Rollout]:
    """`count` verified rollouts drawn from the starting policy, as the arm's collector draws them."""
    cli = build(arm_args, out / "sampling")
    module, collector = cli.model, next(c for c in cli.trainer.callbacks if isinstance(c, RolloutCollector))
    module.trainer = cli.trainer  # the collector generates under the trainer's precision context
    cli.datamodule.setup("fit")
    batches = iter(cli.datamodule.train_dataloader())
    try:
        rollouts = []
        for i in range(count):
            rollouts.append(collector.collect(module, next(batches), greedy=False))
            accuracy = float(rollouts[-1].correct.float().mean())
            print(f"rollout {i + 1}/{count}: {len(rollouts[-1].texts)} completions, accuracy {accuracy:.3f}")
    finally:
        collector.scorer.close()
    return rollouts


class ReplayRollouts(Callback):
    """Hands the saved rollouts to the module in order, in place of the rollout collector."""

    def __init__(self, rollouts: list[Rollout]) -> None:
        self.rollouts = rollouts

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        batch["rollout"] = self.rollouts[batch_idx]


class DriftReadings(Callback):
    """After every policy optimizer step: KL to the start and the log-likelihood change on the probe
    rollouts' completions, logged on the optimizer-step axis (`update/`)."""

    def __init__(self, rollouts: list[Rollout]) -> None:
        self.rollouts = rollouts
        self.updates = 0

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.start = [pl_module.sequence_logprobs(pl_module.policy, r) for r in self.rollouts]
        trainer.optimizers[0].register_step_post_hook(lambda *_: self.read(pl_module))

    def read(self, module: Any) -> None:
        kl, tokens, changes, correct = 0.0, 0.0, [], []
        for rollout, start in zip(self.rollouts, self.start, strict=True):
            mask = rollout.completion_mask
            now = module.sequence_logprobs(module.policy, rollout)
            kl += float(kl_to_sampler(now, start, mask)) * float(mask.sum())  # the start sampled them
            tokens += float(mask.sum())
            log_rho = torch.where(mask, now - start, 0.0)
            changes += log_rho.sum(-1).tolist()
            correct += rollout.correct.tolist()
        right = [c for c, ok in zip(changes, correct, strict=True) if ok]
        wrong = [c for c, ok in zip(changes, correct, strict=True) if not ok]
        readings = {"update/kl_to_start": kl / max(tokens, 1.0)}
        if right:
            readings["update/logp_change_correct"] = statistics.fmean(right)
        if wrong:
            readings["update/logp_change_incorrect"] = statistics.fmean(wrong)
        for logger in module.loggers:
            logger.log_metrics(readings, step=self.updates)
        self.updates += 1


def replay(
    name: str, arm_args: list[str], rollouts: list[Rollout], probe: list[Rollout], out: Path
) -> list[dict[str, Any]]:
    """Trains one arm on the saved rollouts; returns its readings per optimizer step."""
    cli = build(arm_args, out / name)
    steps = len(rollouts) * cli.model.updates_per_rollout
    trainer = cli.trainer
    trainer.fit_loop.epoch_loop.max_steps = steps
    trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, RolloutCollector)]
    trainer.callbacks += [ReplayRollouts(rollouts), DriftReadings(probe)]
    trainer.fit(cli.model, datamodule=cli.datamodule)
    scalars = read_scalars(version_dirs(out / name, all_versions=False)[0])
    rows = [{"arm": name, "update": step} for step in range(steps)]
    for step, share in clip_fractions(scalars).items():
        rows[step]["clip_frac"] = share
    for key in ("rollout_step", "on_policy", *READINGS):
        for event in scalars.get(f"update/{key}", []):
            rows[event.step][key] = event.value
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """One panel per reading, one line per arm, over optimizer steps."""
    pyplot = load_pyplot()
    fig, axes = pyplot.subplots(1, len(READINGS), figsize=(4.2 * len(READINGS), 3.4), layout="constrained")
    arms = list(dict.fromkeys(row["arm"] for row in rows))
    for ax, reading in zip(axes, READINGS, strict=True):
        for i, arm in enumerate(arms):
            points = [(r["update"] + 1, r[reading]) for r in rows if r["arm"] == arm and reading in r]
            if points:
                ax.plot(*zip(*points, strict=True), color=f"C{i}", marker="o", markersize=3, label=arm)
        ax.set_title(reading)
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.savefig(path, dpi=100)
    pyplot.close(fig)


def main(argv: list[str]) -> None:
    own, shared = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--arm", action="append", required=True, metavar="'NAME=YAML [overrides]'", help="repeat per arm"
    )
    parser.add_argument("--rollouts", type=int, default=4, help="rollouts drawn and replayed")
    parser.add_argument("--out", type=Path, default=Path("runs/replay"))
    parser.add_argument("--load", type=Path, help="replay rollouts saved earlier instead of drawing new ones")
    parser.add_argument(
        "--probe", type=int, help="rollouts scored after each step for the drift (default: all)"
    )
    args = parser.parse_args(own)
    arms = {}
    for text in args.arm:
        words = shlex.split(text)
        name, _, config = words[0].partition("=")
        if not (name and config and Path(config).is_file()):
            parser.error(f"--arm takes 'NAME=CONFIG [overrides]' with an existing config, got {text!r}")
        arms[name] = [f"--config={config}", *shared, *words[1:]]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.load:
        rollouts = torch.load(args.load, weights_only=False)
    else:
        rollouts = collect(next(iter(arms.values())), args.rollouts, args.out)
        torch.save(rollouts, args.out / "rollouts.pt")
    rows = []
    for i, (name, arm_args) in enumerate(arms.items(), 1):
        print(f"[{i}/{len(arms)}] replaying {name}: {shlex.join(arm_args)}", flush=True)
        rows += replay(name, arm_args, rollouts, rollouts[: args.probe], args.out)
    fields = ["arm", "update", "rollout_step", "on_policy", *READINGS]
    with (args.out / "replay.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in fields} for row in rows)
    plot(rows, args.out / "replay.png")
    print("| arm | update | " + " | ".join(READINGS) + " |\n|" + "---|" * (len(READINGS) + 2))
    for row in rows:
        cells = [f"{row[k]:.4f}" if isinstance(row.get(k), float) else "" for k in READINGS]
        print(f"| {row['arm']} | {row['update']} | " + " | ".join(cells) + " |")
    print(f"wrote {args.out / 'replay.csv'} and {args.out / 'replay.png'}")


if __name__ == "__main__":
    main(sys.argv[1:])
