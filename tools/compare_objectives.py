"""Compare objectives as an experiment: named arms, several seeds, one axis of training done, a summary.

An arm is a config plus its own overrides, so two arms can come from one config. Each arm trains
once per seed (`--seed_everything`, `--model.seed` and `--data.seed` set to it) into
`<out>/<arm>/seed<S>`, then every arm is compared on an axis of steps, completions sampled or
training seconds (validation excluded), with the mean over seeds and a standard-error band:

    python tools/compare_objectives.py --experiment configs/experiments/<name>.yaml
    python tools/compare_objectives.py --arm grpo=configs/grpo.yaml \\
        --arm 'sppo_frozen=configs/sppo.yaml --model.critic.lr=0' \\
        --seeds 0 1 2 --x_axis samples --target_accuracy 0.5 --out runs/sppo -- --trainer.max_steps=30

An experiment file holds the same (command-line values win; shared `args` come before those after `--`):

    arms:                     # name -> config (a path or a list of them) and its own overrides
      grpo: {config: configs/grpo.yaml}
      sppo_frozen: {config: configs/sppo.yaml, args: [--model.critic.lr=0]}
    args: [--trainer.max_steps=30]   # every arm's overrides
    seeds: [0, 1, 2]
    x_axis: samples                  # step | samples | seconds
    target_accuracy: 0.5
    metrics: [val/accuracy, reward/mean]
    out: runs/sppo                   # default runs/experiments/<file name>

An experiment too long for one sitting is run again to go on: a run whose folder holds
`finished.txt` with the same command is kept. `--report_only` trains nothing and compares the runs
that finished (stop the runner between two runs, then report what there is); the plan is written
once, before the first run, and written again only when the experiment itself changes.

`--configs A.yaml B.yaml` is an arm per config named after its file; without `--seeds` each arm
trains once, as configured, into `<out>/<arm>`. `--runs [NAME=]DIR ...` compares arms already
trained (a DIR with `seed<S>` folders is one arm over those seeds):

    python tools/compare_objectives.py --runs runs/sppo/grpo runs/sppo/sppo_frozen --x_axis seconds

Writes `<out>/compare.png` (one subplot per metric, one line per arm) and `<out>/summary.csv`
(also printed as markdown): per arm, mean and standard error over seeds of steps, completions
sampled, training and wall seconds, final and best `val/accuracy`, the mean `reward/mean` over the
last `--last` steps and, with `--target_accuracy`, the steps, samples and training seconds at the
first validation at or above it. Validation points fall where the runs validated; arms whose
steps cost differently validate at the same samples or seconds with
`lit_rlvr.callbacks.ValidationSchedule`. Needs matplotlib: `pip install -e '.[tools]'`.
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from paired import paired_difference
from run_curves import (
    AXES,
    AXIS_LABELS,
    Axis,
    Band,
    Run,
    band,
    curve,
    load_arms,
    mean_se,
    summarize,
    write_run_csvs,
)

DEFAULT_METRICS = (
    "reward/mean",
    "reward/accuracy",
    "val/accuracy",
    "rollout/response_length_mean",
    "rollout/truncated",
    "objective/entropy",
    "objective/clip_frac_low",
    "objective/clip_frac_high",
    "objective/approx_kl_old",
    "objective/kl_ref",
    "update/grad_norm",
    "update/kl_sampler",
    "perf/step_s",
)
# Lines with this many points or fewer get markers: validation is logged every few steps, and a
# single point would otherwise not be drawn at all.
MARKER_POINTS = 30
EXPERIMENT_KEYS = {
    "arms", "args", "seeds", "x_axis", "target_accuracy", "metrics", "out", "baseline", "outcomes", "report",
}  # fmt: skip


@dataclass
class Arm:
    """One line of the comparison: configs and the overrides that set this arm apart."""

    name: str
    configs: list[Path]
    args: list[str] = field(default_factory=list)


@dataclass
class Experiment:
    """Everything a comparison needs: the arms (to train) or runs (to read), and how to show them."""

    arms: list[Arm]
    args: list[str]  # every arm's overrides, before its own
    seeds: list[int] | None
    x_axis: Axis
    target_accuracy: float | None
    metrics: list[str]
    out: Path
    baseline: str | None = None  # the arm every other is compared with, seed by seed
    outcomes: list[str] = field(default_factory=lambda: ["val/accuracy"])  # compared at the last validation
    report: Path | None = None  # where the plot, tables and curves go (default: `out`)

    @property
    def report_dir(self) -> Path:
        return self.report or self.out


def arm_spec(text: str) -> Arm:
    """argparse type of `--arm`: `NAME=CONFIG [overrides...]`, split as a shell would."""
    words = shlex.split(text)
    name, sep, config = words[0].partition("=") if words else ("", "", "")
    if not (sep and name and config):
        raise argparse.ArgumentTypeError(f"--arm takes 'NAME=CONFIG [overrides...]', got {text!r}")
    return Arm(name, [Path(config)], words[1:])


def read_experiment(path: Path) -> dict[str, Any]:
    """The experiment file's settings, its arms as `Arm`s.

    Raises:
        ValueError: an unknown key, or arms that are not `name: {config: ..., args: [...]}`.
    """
    spec = yaml.safe_load(path.read_text()) or {}
    if not isinstance(spec, dict) or set(spec) - EXPERIMENT_KEYS:
        unknown = sorted(set(spec) - EXPERIMENT_KEYS) if isinstance(spec, dict) else spec
        raise ValueError(f"{path}: unknown keys {unknown}; an experiment takes {sorted(EXPERIMENT_KEYS)}")
    arms = spec.get("arms")
    if not isinstance(arms, dict) or not arms:
        raise ValueError(f"{path}: `arms` must map each arm's name to {{config: PATH, args: [...]}}")
    spec["arms"] = []
    for name, arm in arms.items():
        if not isinstance(arm, dict) or "config" not in arm or set(arm) - {"config", "args"}:
            raise ValueError(
                f"{path}: arm {name!r} must be {{config: PATH or [PATHS], args: [...]}}, got {arm}"
            )
        configs = arm["config"] if isinstance(arm["config"], list) else [arm["config"]]
        spec["arms"].append(Arm(str(name), [Path(c) for c in configs], [str(a) for a in arm.get("args", [])]))
    spec["args"] = [str(a) for a in spec.get("args", [])]
    if not spec.get("outcomes") or not spec.get("metrics"):
        raise ValueError(
            f"{path}: an experiment states before it runs what it will judge by: `outcomes` (the val/ "
            "metrics compared at the last validation, arm against baseline, seed by seed) and `metrics` "
            "(plotted)"
        )
    names = [arm.name for arm in spec["arms"]]
    if spec.get("baseline", names[0]) not in names:
        raise ValueError(f"{path}: baseline {spec['baseline']!r} is not one of the arms {names}")
    return spec


def train(experiment: Experiment, report_only: bool = False) -> tuple[list[tuple[str, Path]], list[str]]:
    """Runs `python -m lit_rlvr fit` for each seed and arm in turn, printing a progress line per run.

    Each run gets the arm's configs, the shared overrides, the arm's own, then the seed's and the
    output folder (`<out>/<arm>/seed<S>`, or `<out>/<arm>` without seeds), later ones winning. Seeds
    go in the outer loop, so an experiment stopped part way holds every arm for the seeds it
    finished. A run whose folder holds `finished.txt` with the same command is kept, not retrained:
    an experiment too long for one sitting is run again to go on. With `report_only` nothing is
    trained: the runs not finished are named and left out.

    Returns:
        The `(arm, folder)` of each run that finished, and the labels of those that failed.
    """
    seeds = experiment.seeds if experiment.seeds is not None else [None]
    runs = [(arm, seed) for seed in seeds for arm in experiment.arms]
    finished: list[tuple[str, Path]] = []
    failed: list[str] = []
    started, trained = time.monotonic(), 0
    for i, (arm, seed) in enumerate(runs, 1):
        root = experiment.out / arm.name
        label, seed_args = arm.name, []
        if seed is not None:
            root, label = root / f"seed{seed}", f"{arm.name} seed {seed}"
            seed_args = [f"--seed_everything={seed}", f"--model.seed={seed}", f"--data.seed={seed}"]
        command = [sys.executable, "-m", "lit_rlvr", "fit", *(f"--config={c}" for c in arm.configs)]
        command += [*experiment.args, *arm.args, *seed_args, f"--trainer.default_root_dir={root}"]
        marker, head = root / "finished.txt", f"[{i}/{len(runs)}] {label}"
        if marker.is_file() and marker.read_text() == shlex.join(command[1:]):
            print(f"{head}: finished before, kept ({marker})", flush=True)
            finished.append((arm.name, root))
            continue
        if report_only:
            print(f"{head}: not finished, left out (--report_only)", flush=True)
            continue
        elapsed = time.monotonic() - started
        left = f", about {clock(elapsed / trained * (len(runs) - i + 1))} left" if trained else ""
        print(f"{head}: starting at {clock(elapsed)}{left}: {shlex.join(command)}", flush=True)
        run_started = time.monotonic()
        code = subprocess.run(command).returncode
        took, elapsed = time.monotonic() - run_started, clock(time.monotonic() - started)
        trained += 1
        if code:
            print(f"{head} FAILED (exit {code}) after {took:.0f} s, at {elapsed}", flush=True)
            failed.append(label)
        else:
            print(f"{head} done in {took:.0f} s, at {elapsed}", flush=True)
            marker.write_text(shlex.join(command[1:]))
            finished.append((arm.name, root))
    return finished, failed


def clock(seconds: float) -> str:
    """`1h02m03s`, `2m03s` or `3s`."""
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return (
        f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )


def ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard-style exponential moving average: `s = weight * s + (1 - weight) * value`."""
    smoothed, last = [], values[0]
    for value in values:
        last = weight * last + (1 - weight) * value
        smoothed.append(last)
    return smoothed


def arm_band(runs: list[Run], metric: str, axis: Axis, smooth: float) -> Band | None:
    """The arm's metric over its seeds (each smoothed first), or None when no seed logged it."""
    curves = []
    for run in runs:
        x, values = curve(run, metric, axis)
        if len(values):
            curves.append((x, ema(list(values), smooth) if smooth else values))
    return band(curves) if curves else None


def seed_points(ax, runs: list[Run], metric: str, axis: Axis, color: str) -> None:
    """Each seed's points, and the mean ± standard error of the seeds' last values at their mean x.

    For a metric the seeds share no stretch of the axis for, such as one validation at each run's end.
    """
    curves = [curve(run, metric, axis) for run in runs]
    curves = [(x, y) for x, y in curves if len(y)]
    if not curves:
        return
    for x, y in curves:
        ax.plot(x, y, color=color, marker="o", markersize=3, linestyle="", alpha=0.4)
    mean, se = mean_se([float(y[-1]) for _, y in curves])
    last_x = statistics.fmean(float(x[-1]) for x, _ in curves)
    ax.errorbar(last_x, mean, yerr=se or 0.0, color=color, marker="D", markersize=6, capsize=4)


def plot(pyplot: ModuleType, arms: dict[str, list[Run]], metrics: list[str], experiment: Experiment,
         smooth: float) -> list[str]:  # fmt: skip
    """Writes one subplot per metric, one line (mean over seeds, standard-error band) per arm.

    Returns:
        A note for each arm and metric whose seeds share no stretch of the axis (not drawn).
    """
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = pyplot.subplots(
        rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[len(metrics) :]:
        ax.set_visible(False)
    notes = []
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for i, (name, runs) in enumerate(arms.items()):
            if not any(metric in run.scalars for run in runs):
                continue
            line = arm_band(runs, metric, experiment.x_axis, smooth)
            if line is None:
                seed_points(ax, runs, metric, experiment.x_axis, f"C{i}")
                notes.append(
                    f"{metric}: the seeds of {name} share no stretch of the {experiment.x_axis} axis;"
                    " drawn as each seed's points and the mean ± SE of their last values"
                )
                continue
            marker = "o" if len(line.x) <= MARKER_POINTS else None
            ax.plot(line.x, line.mean, color=f"C{i}", marker=marker, markersize=3)
            if line.seeds > 1:
                ax.fill_between(line.x, line.mean - line.se, line.mean + line.se, color=f"C{i}", alpha=0.2)
        ax.set_title(metric)
        ax.set_xlabel(AXIS_LABELS[experiment.x_axis])
        if experiment.x_axis != "seconds":
            ax.xaxis.set_major_locator(pyplot.MaxNLocator(integer=True))
        if metric == "val/accuracy" and experiment.target_accuracy is not None:
            ax.axhline(experiment.target_accuracy, color="grey", linestyle="--", linewidth=0.8)
        ax.grid(alpha=0.3)
    handles = [pyplot.Line2D([], [], color=f"C{i}") for i in range(len(arms))]
    labels = [
        name if len(runs) == 1 else f"{name} ({len(runs)} seeds, mean ± SE)" for name, runs in arms.items()
    ]
    fig.legend(handles, labels, loc="outside upper center", ncols=min(len(arms), 4))
    fig.savefig(experiment.report_dir / "compare.png", dpi=100)
    pyplot.close(fig)
    return notes


def present_metrics(arms: dict[str, list[Run]], metrics: list[str]) -> tuple[list[str], list[str]]:
    """The metrics at least one run logged, and a note for each metric missing from some arm."""
    present, notes = [], []
    for metric in metrics:
        missing = [name for name, runs in arms.items() if not any(metric in run.scalars for run in runs)]
        if len(missing) == len(arms):
            notes.append(f"{metric}: logged by no run, skipped")
            continue
        present.append(metric)
        if missing:
            notes.append(f"{metric}: not logged by {', '.join(missing)}")
    return present, notes


def summary_row(name: str, runs: list[Run], last: int, target: float | None) -> dict[str, object]:
    """An arm's summary: each value's mean over seeds and, with several seeds, its standard error (`_se`).

    A `*_to_target` value is averaged over the seeds that reached the target; `reached_target`
    counts them.
    """
    per_seed = [summarize(run, last, target) for run in runs]
    row: dict[str, object] = {"objective": name, "seeds": len(runs)}
    for key in per_seed[0]:
        row[key], se = mean_se([values[key] for values in per_seed])
        if len(runs) > 1:
            row[f"{key}_se"] = se
    if target is not None:
        row["reached_target"] = (
            f"{sum(values['samples_to_target'] is not None for values in per_seed)}/{len(runs)}"
        )
    return row


def markdown(rows: list[dict[str, object]]) -> str:
    """The summary rows as a markdown table: `mean ± se`, floats to 3 decimals, a target not reached so."""

    def cell(row: dict[str, object], key: str) -> str:
        value, se = row[key], row.get(f"{key}_se")
        if value is None:
            return "not reached" if key.endswith("_to_target") else "n/a"
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        return f"{text} ± {se:.3f}" if isinstance(se, float) else text

    header = [key for key in rows[0] if not key.endswith("_se")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row, key) for key in header) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(rows: list[dict[str, object]], path: Path) -> None:
    """Writes the summary rows as CSV, a missing value (or a target not reached) as an empty cell."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        writer.writerows({k: "" if row.get(k) is None else row[k] for k in fields} for row in rows)


def load_pyplot() -> ModuleType:
    """matplotlib's pyplot on the file-only Agg backend; exits with the install command if it is missing."""
    try:
        import matplotlib
    except ImportError:
        sys.exit(
            "compare_objectives.py plots with matplotlib, which is not installed: pip install -e '.[tools]'"
        )
    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def smoothing_weight(text: str) -> float:
    """argparse type of `--smooth`: a float in [0, 1)."""
    weight = float(text)
    if not 0 <= weight < 1:
        raise argparse.ArgumentTypeError(f"--smooth takes a weight in [0, 1), got {weight}")
    return weight


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, Experiment]:
    """The script's own arguments, and the experiment they (and an experiment file) describe."""
    own, fit_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--runs", nargs="+", metavar="[NAME=]DIR", help="arms already trained, to compare")
    source.add_argument("--configs", nargs="+", type=Path, metavar="YAML", help="an arm per config")
    source.add_argument("--arm", action="append", type=arm_spec, metavar="'NAME=YAML [overrides]'",
                        help="an arm from a config and its own overrides (repeat for each arm)")  # fmt: skip
    source.add_argument("--experiment", type=Path, metavar="YAML", help="an experiment file (see above)")
    parser.add_argument("--seeds", nargs="+", type=int, help="train each arm once per seed")
    parser.add_argument("--x_axis", choices=AXES, help="what the plots' x counts (default: step)")
    parser.add_argument("--target_accuracy", type=float, help="report what reaching this val/accuracy took")
    parser.add_argument("--out", type=Path, help="where the PNG, CSV (and runs) go (default: runs/compare)")
    parser.add_argument("--metrics", nargs="+", help="metric tags to plot (default: a standard dozen)")
    parser.add_argument(
        "--smooth", type=smoothing_weight, default=0.0, help="EMA weight for the plot, in [0, 1)"
    )
    parser.add_argument("--last", type=int, default=10, help="steps averaged for the summary's reward")
    parser.add_argument("--all_versions", action="store_true", help="every version_N, not only the latest")
    parser.add_argument(
        "--baseline", help="the arm the others are compared with seed by seed (default: the first)"
    )
    parser.add_argument("--outcomes", nargs="+", help="val/ metrics compared paired at the last validation")
    parser.add_argument(
        "--report_only", action="store_true", help="train nothing: compare the experiment's finished runs"
    )
    args = parser.parse_args(own)
    if args.last < 1:
        parser.error(f"--last takes a number of steps >= 1, got {args.last}")
    if args.report_only and args.runs:
        parser.error("--report_only reports an experiment's finished runs; --runs already trains none")
    if args.runs and (fit_args or args.seeds):
        parser.error(
            "--runs compares runs already trained: fit overrides after `--` and --seeds need arms to train"
        )
    spec: dict[str, Any] = {}
    if args.experiment:
        try:
            spec = read_experiment(args.experiment)
        except (OSError, ValueError, yaml.YAMLError) as error:
            parser.error(str(error))
    arms = spec.get("arms") or args.arm or [Arm(c.stem, [c]) for c in args.configs or []]
    for arm in arms:
        for config in arm.configs:
            if not config.is_file():
                parser.error(f"config {config} of arm {arm.name} does not exist")
    names = [arm.name for arm in arms]
    if len(set(names)) != len(names) or any("/" in name or name.startswith(".") for name in names):
        parser.error(
            f"arms need distinct names that are folder names (each trains into --out/<name>): {names}"
        )
    default_out = Path("runs/experiments") / args.experiment.stem if args.experiment else Path("runs/compare")
    x_axis = args.x_axis or spec.get("x_axis", "step")
    if x_axis not in AXES:
        parser.error(f"x_axis takes one of {', '.join(AXES)}, got {x_axis!r}")
    experiment = Experiment(
        arms=arms,
        args=[*spec.get("args", []), *fit_args],
        seeds=args.seeds or spec.get("seeds"),
        x_axis=x_axis,
        target_accuracy=args.target_accuracy
        if args.target_accuracy is not None
        else spec.get("target_accuracy"),
        metrics=args.metrics or spec.get("metrics") or list(DEFAULT_METRICS),
        out=args.out or Path(spec.get("out", default_out)),
        baseline=args.baseline or spec.get("baseline"),
        outcomes=args.outcomes or spec.get("outcomes") or ["val/accuracy"],
        report=Path(spec["report"]) if spec.get("report") else None,
    )
    if experiment.baseline is not None and experiment.baseline not in [a.name for a in arms] and arms:
        parser.error(f"--baseline {experiment.baseline!r} is not one of the arms {[a.name for a in arms]}")
    return args, experiment


def main(argv: list[str]) -> int:
    """Runs the comparison; returns 1 when a training run failed, after comparing the others."""
    args, experiment = parse_args(argv)
    pyplot = load_pyplot()
    experiment.out.mkdir(parents=True, exist_ok=True)
    experiment.report_dir.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    if experiment.arms:
        if not args.report_only:
            print(write_plan(experiment, argv), flush=True)
        specs, failed = train(experiment, args.report_only)
        if not specs:
            sys.exit(f"compare_objectives.py: every run failed: {', '.join(failed)}")
    else:
        specs = [parse_run_spec(spec) for spec in args.runs]
    try:
        arms = load_arms(specs, args.all_versions)
        metrics, notes = present_metrics(arms, experiment.metrics)
        if not metrics:
            sys.exit(f"compare_objectives.py: none of the metrics {experiment.metrics} was logged by any run")
        rows = [summary_row(name, runs, args.last, experiment.target_accuracy) for name, runs in arms.items()]
        if experiment.target_accuracy is not None:
            check_target(rows, experiment.target_accuracy)
        notes += plot(pyplot, arms, metrics, experiment, args.smooth)
        paired = paired_rows(arms, experiment.baseline or next(iter(arms)), experiment.outcomes)
        for name, runs in arms.items():
            for run in runs:
                write_run_csvs(run, experiment.report_dir / "curves" / name / run.name)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"compare_objectives.py: {error}")
    for note in notes:
        print(f"note: {note}")
    report = experiment.report_dir
    write_csv(rows, report / "summary.csv")
    print(markdown(rows))
    if paired:
        write_csv(paired, report / "paired.csv")
        print(markdown(paired))
    print(f"wrote compare.png, summary.csv, paired.csv and curves/ in {report}")
    if failed:
        print(f"failed runs (not compared): {', '.join(failed)}")
    return 1 if failed else 0


def write_plan(experiment: Experiment, argv: list[str]) -> str:
    """Records, before the first run, what the experiment will judge by: its command, arms, seeds,
    outcomes, target and metrics, and the commit it runs at (`<report>/plan.yaml`). A later sitting
    of the same experiment keeps that record; a changed experiment gets a new one, said so.

    Returns:
        A line for the log saying which.
    """

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()

    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    plan = {
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": (git("rev-parse", "HEAD") or "unknown") + dirty,
        "command": shlex.join(["python", "tools/compare_objectives.py", *argv]),
        "arms": {
            arm.name: {"config": [str(c) for c in arm.configs], "args": arm.args} for arm in experiment.arms
        },
        "args": experiment.args,
        "seeds": experiment.seeds,
        "baseline": experiment.baseline or experiment.arms[0].name,
        "outcomes": experiment.outcomes,
        "target_accuracy": experiment.target_accuracy,
        "metrics": experiment.metrics,
    }
    path = experiment.report_dir / "plan.yaml"
    earlier = yaml.safe_load(path.read_text()) if path.is_file() else None
    unchanged = ("arms", "args", "seeds", "baseline", "outcomes", "target_accuracy", "metrics")
    if earlier and all(earlier.get(key) == plan[key] for key in unchanged):
        return f"plan kept: {path}, written {earlier['written']} before the first run"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    if earlier:
        return f"plan written to {path}: the experiment changed since the plan of {earlier.get('written')}"
    return f"plan written to {path} before any run"


def seed_of(run: Run) -> int:
    """The seed of a run trained into `seed<S>` (0 for a run without seeds)."""
    return int(run.name[len("seed") :]) if run.name.startswith("seed") and run.name[4:].isdigit() else 0


def check_target(rows: list[dict[str, object]], target: float) -> None:
    """Refuses a target at or below every arm's mean starting `val/accuracy` (nothing to reach).

    Args:
        rows: the arms' summary rows (`summary_row`), holding `val_accuracy_start`.

    Raises:
        ValueError: naming each arm's start.
    """
    starts = {
        row["objective"]: row["val_accuracy_start"] for row in rows if row["val_accuracy_start"] is not None
    }
    if starts and all(target <= start for start in starts.values()):
        listed = ", ".join(f"{name} {start:.3f}" for name, start in starts.items())
        raise ValueError(
            f"target_accuracy {target} is at or below every arm's starting val/accuracy ({listed}): a target "
            "is something to reach, so it must lie above where the arms start"
        )


def paired_rows(arms: dict[str, list[Run]], baseline: str, outcomes: list[str]) -> list[dict[str, object]]:
    """Each arm against `baseline` on each outcome's last validation, seed by seed (`paired.Paired`)."""
    rows: list[dict[str, object]] = []
    for outcome in outcomes:
        final = {
            name: {seed_of(run): run.scalars[outcome][-1].value for run in runs if run.scalars.get(outcome)}
            for name, runs in arms.items()
        }
        for name in arms:
            if name == baseline or not final[name] or not final.get(baseline):
                continue
            diff = paired_difference(final[name], final[baseline])
            rows.append({"outcome": outcome, "arm": name, "baseline": baseline, "seeds": diff.seeds,
                         "difference": diff.mean, "se": diff.se, "t": diff.t, "df": diff.df,
                         "ci95_low": diff.low, "ci95_high": diff.high})  # fmt: skip
    return rows


def parse_run_spec(spec: str) -> tuple[str, Path]:
    """`NAME=DIR` -> (NAME, DIR); a bare `DIR` is named after its last folder."""
    name, sep, path = spec.partition("=")
    return (name, Path(path)) if sep else (Path(spec).resolve().name, Path(spec))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
