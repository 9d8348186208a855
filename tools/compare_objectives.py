"""Compare objectives side by side: a grid of their metrics against the step and a summary table.

Train each config in turn with the same overrides (same seed, same budget), then compare:

    python tools/compare_objectives.py --configs configs/grpo.yaml configs/dr_grpo.yaml configs/dapo.yaml \
        --out runs/compare -- --trainer.max_steps=30

or compare runs already trained (`NAME=DIR`, or a bare `DIR` named after its folder):

    python tools/compare_objectives.py --runs runs/grpo dapo=runs/dapo --smooth 0.6

Writes `<out>/compare.png` (one subplot per metric, one line per objective) and `<out>/summary.csv`
(also printed as markdown): steps, wall time, final and best `val/accuracy` and the mean
`reward/mean` over the last `--last` steps of each objective. Needs matplotlib:
`pip install -e '.[tools]'`.
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator, ScalarEvent

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
    "train/grad_norm",
    "perf/step_s",
)
# Lines with this many points or fewer get markers: validation is logged every few steps, and a
# single point would otherwise not be drawn at all.
MARKER_POINTS = 30


@dataclass
class Run:
    """The scalars of one TensorBoard log folder (`lightning_logs/version_N`)."""

    name: str
    path: Path
    scalars: dict[str, list[ScalarEvent]]  # tag -> events in logging order


def version_dirs(root: Path, all_versions: bool) -> list[Path]:
    """The `version_N` folders under a run's `default_root_dir` (or `lightning_logs`), newest last.

    Args:
        root: a run's `default_root_dir`, its `lightning_logs` folder, or a version folder itself.
        all_versions: every version instead of only the latest.

    Raises:
        FileNotFoundError: `root` is missing or holds no version folder with event files.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"run folder {root} does not exist")
    if any(root.glob("events.out.tfevents.*")):
        return [root]
    logs = root / "lightning_logs" if (root / "lightning_logs").is_dir() else root
    versions = [
        d
        for d in logs.glob("version_*")
        if d.name[len("version_") :].isdigit() and any(d.glob("events.out.tfevents.*"))
    ]
    if not versions:
        raise FileNotFoundError(
            f"no TensorBoard event files under {root} (looked for {logs}/version_N/events.out.tfevents.*; "
            "lit-rlvr fit writes them under <trainer.default_root_dir>/lightning_logs)"
        )
    versions.sort(key=lambda d: int(d.name[len("version_") :]))
    return versions if all_versions else versions[-1:]


def read_scalars(folder: Path) -> dict[str, list[ScalarEvent]]:
    """Every scalar of the event files in `folder` (fit and the validations around it), per tag."""
    events = EventAccumulator(str(folder), size_guidance={SCALARS: 0})
    events.Reload()
    return {tag: events.Scalars(tag) for tag in events.Tags()[SCALARS]}


def load_runs(specs: list[tuple[str, Path]], all_versions: bool) -> list[Run]:
    """Reads the runs named by `(name, folder)` pairs; with `all_versions`, one run per version."""
    runs = []
    for name, root in specs:
        for folder in version_dirs(root, all_versions):
            label = f"{name}/{folder.name}" if all_versions else name
            runs.append(Run(label, folder, read_scalars(folder)))
    return runs


def parse_run_spec(spec: str) -> tuple[str, Path]:
    """`NAME=DIR` -> (NAME, DIR); a bare `DIR` is named after its last folder."""
    name, sep, path = spec.partition("=")
    return (name, Path(path)) if sep else (Path(spec).resolve().name, Path(spec))


def train(configs: list[Path], fit_args: list[str], out: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """Runs `python -m lit_rlvr fit` for each config in turn, each under `out/<config stem>`.

    Args:
        configs: the experiment YAMLs, one per objective.
        fit_args: overrides passed to every run (same seed and budget for a fair comparison).
        out: the folder that receives one `default_root_dir` per config.

    Returns:
        The `(name, default_root_dir)` of the runs that finished, and the names of those that failed.
    """
    finished, failed = [], []
    for i, config in enumerate(configs, 1):
        root = out / config.stem
        # The output folder comes last so that it wins over the config's and fit_args' own.
        command = [sys.executable, "-m", "lit_rlvr", "fit", f"--config={config}", *fit_args]
        command.append(f"--trainer.default_root_dir={root}")
        print(f"[{i}/{len(configs)}] {config.stem}: {shlex.join(command)}", flush=True)
        started = time.monotonic()
        code = subprocess.run(command).returncode
        took = time.monotonic() - started
        if code:
            print(f"[{i}/{len(configs)}] {config.stem} FAILED (exit {code}) after {took:.0f} s", flush=True)
            failed.append(config.stem)
        else:
            print(f"[{i}/{len(configs)}] {config.stem} done in {took:.0f} s", flush=True)
            finished.append((config.stem, root))
    return finished, failed


def ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard-style exponential moving average: `s = weight * s + (1 - weight) * value`."""
    smoothed, last = [], values[0]
    for value in values:
        last = weight * last + (1 - weight) * value
        smoothed.append(last)
    return smoothed


def plot(pyplot: ModuleType, runs: list[Run], metrics: list[str], path: Path, smooth: float) -> None:
    """Writes one subplot per metric, one line per run against the step, to a PNG at `path`."""
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = pyplot.subplots(
        rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[len(metrics) :]:
        ax.set_visible(False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for i, run in enumerate(runs):
            points = run.scalars.get(metric)
            if not points:
                continue
            values = [e.value for e in points]
            ax.plot(
                [e.step for e in points],
                ema(values, smooth) if smooth else values,
                color=f"C{i}",
                marker="o" if len(points) <= MARKER_POINTS else None,
                markersize=3,
            )
        ax.set_title(metric)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(pyplot.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles = [pyplot.Line2D([], [], color=f"C{i}") for i in range(len(runs))]
    fig.legend(handles, [run.name for run in runs], loc="outside upper center", ncols=min(len(runs), 6))
    fig.savefig(path, dpi=100)
    pyplot.close(fig)


def present_metrics(runs: list[Run], metrics: list[str]) -> tuple[list[str], list[str]]:
    """The metrics at least one run logged, and a note for each metric missing from some run."""
    present, notes = [], []
    for metric in metrics:
        missing = [run.name for run in runs if metric not in run.scalars]
        if len(missing) == len(runs):
            notes.append(f"{metric}: logged by no run, skipped")
            continue
        present.append(metric)
        if missing:
            notes.append(f"{metric}: not logged by {', '.join(missing)}")
    return present, notes


def summarize(run: Run, last: int) -> dict[str, object]:
    """One summary row: steps, wall time, final and best validation accuracy, late mean reward.

    Args:
        run: the run to summarize.
        last: how many of the last logged `reward/mean` points to average.

    Returns:
        The row; a value whose metric was not logged is None.
    """
    rewards = run.scalars.get("reward/mean", [])
    accuracy = run.scalars.get("val/accuracy", [])
    times = [e.wall_time for points in run.scalars.values() for e in points]
    return {
        "objective": run.name,
        # Training metrics are logged at steps 0..n-1 (every step, unless log_every_n_steps says otherwise).
        "steps": rewards[-1].step + 1 if rewards else None,
        "wall_time_s": max(times) - min(times) if times else None,
        "val_accuracy_final": accuracy[-1].value if accuracy else None,
        "val_accuracy_best": max(e.value for e in accuracy) if accuracy else None,
        f"reward_mean_last_{last}": sum(e.value for e in rewards[-last:]) / len(rewards[-last:])
        if rewards
        else None,
    }


def markdown(rows: list[dict[str, object]]) -> str:
    """The summary rows as a markdown table (floats to 3 decimals, a missing value as n/a)."""

    def cell(value: object) -> str:
        if value is None:
            return "n/a"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(rows: list[dict[str, object]], path: Path) -> None:
    """Writes the summary rows as CSV, a missing value as an empty cell."""
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


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


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The script's own arguments, and the `lit-rlvr fit` overrides after `--`."""
    own, fit_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--runs", nargs="+", metavar="[NAME=]DIR", help="runs' default_root_dir to compare")
    source.add_argument(
        "--configs", nargs="+", type=Path, metavar="YAML", help="configs to train, then compare"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs/compare"), help="where the PNG, CSV (and runs) go"
    )
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS), help="metric tags to plot")
    parser.add_argument(
        "--smooth", type=smoothing_weight, default=0.0, help="EMA weight for the plot, in [0, 1)"
    )
    parser.add_argument("--last", type=int, default=10, help="steps averaged for the summary's reward")
    parser.add_argument("--all_versions", action="store_true", help="every version_N, not only the latest")
    args = parser.parse_args(own)
    if args.last < 1:
        parser.error(f"--last takes a number of steps >= 1, got {args.last}")
    if fit_args and not args.configs:
        parser.error("fit overrides after `--` need --configs")
    if args.configs:
        for config in args.configs:
            if not config.is_file():
                parser.error(f"config {config} does not exist")
        stems = [config.stem for config in args.configs]
        if len(set(stems)) != len(stems):
            parser.error(f"configs must have distinct file names (each trains into --out/<name>): {stems}")
    return args, fit_args


def main(argv: list[str]) -> int:
    """Runs the comparison; returns 1 when a training run failed, after comparing the others."""
    args, fit_args = parse_args(argv)
    pyplot = load_pyplot()
    args.out.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    if args.configs:
        specs, failed = train(args.configs, fit_args, args.out)
        if not specs:
            sys.exit(f"compare_objectives.py: every run failed: {', '.join(failed)}")
    else:
        specs = [parse_run_spec(spec) for spec in args.runs]
    try:
        runs = load_runs(specs, args.all_versions)
    except FileNotFoundError as error:
        sys.exit(f"compare_objectives.py: {error}")
    metrics, notes = present_metrics(runs, args.metrics)
    for note in notes:
        print(f"note: {note}")
    if not metrics:
        sys.exit(f"compare_objectives.py: none of the metrics {args.metrics} was logged by any run")
    plot(pyplot, runs, metrics, args.out / "compare.png", args.smooth)
    rows = [summarize(run, args.last) for run in runs]
    write_csv(rows, args.out / "summary.csv")
    print(markdown(rows))
    print(f"wrote {args.out / 'compare.png'} and {args.out / 'summary.csv'}")
    if failed:
        print(f"failed runs (not compared): {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
