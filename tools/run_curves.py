"""Trained runs as curves on one axis (steps, completions sampled or training seconds), averaged over seeds.

The reading side of `tools/compare_objectives.py`. A run is one TensorBoard folder written by
`lit-rlvr fit`; every training step logs `perf/step_s` (its seconds: generation, verification,
scoring, updates; validation excluded) and `perf/completions_per_s`, whose product is the number
of completions the step sampled (those of rank 0's process when several train). A run's progress
after each step is therefore known on all three axes, and each logged point is placed there:

- a training metric logged at step `s` (0-based) lies after `s + 1` steps;
- a `val/` metric lies after the training steps logged before it (by wall time), since Lightning
  logs a validation during fit at the step it follows, and the one before fit at step 0 too;
- an optimizer-step reading (`objective/`, `update/`: logged on the axis of optimizer steps, with
  `update/rollout_step` naming its training step) lies within its training step's span, the step's
  `k` updates at `1/k, 2/k, ..., 1` of the way through it.

Seeds of an arm are put on a common grid (every x of any seed, within the range all seeds cover),
linearly interpolated, and reduced to their mean and standard error.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator, ScalarEvent

Axis = Literal["step", "samples", "seconds"]
AXES: tuple[Axis, ...] = get_args(Axis)
#: Tags logged once per optimizer step rather than once per training step (rollout).
UPDATE_AXIS = ("objective/", "update/")
AXIS_LABELS = {
    "step": "training steps (rollouts)",
    "samples": "completions sampled",
    "seconds": "training seconds",
}


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


def seed_dirs(root: Path) -> list[Path]:
    """The `seed<S>` folders of an arm trained with `--seeds`, or `[root]` for a single run."""
    seeds = [d for d in root.glob("seed*") if d.is_dir() and d.name[len("seed") :].isdigit()]
    return sorted(seeds, key=lambda d: int(d.name[len("seed") :])) or [root]


def load_arms(specs: list[tuple[str, Path]], all_versions: bool) -> dict[str, list[Run]]:
    """The runs of each arm `(name, folder)`: one per seed folder; with `all_versions`, an arm per version."""
    arms: dict[str, list[Run]] = {}
    for name, root in specs:
        for folder in seed_dirs(root):
            for version in version_dirs(folder, all_versions):
                label = f"{name}/{version.name}" if all_versions else name
                arms.setdefault(label, []).append(Run(folder.name, version, read_scalars(version)))
    return arms


@dataclass
class Progress:
    """How far a run had trained after each of its logged steps, on every axis."""

    first_step: int
    wall_times: np.ndarray  # [n] when each step's perf/step_s was logged
    done: dict[Axis, np.ndarray]  # axis -> [n] amount done after each step

    def before_first(self, axis: Axis) -> float:
        """The amount done before the first logged step (a resumed version starts past 0 steps)."""
        return float(self.first_step) if axis == "step" else 0.0


def progress(run: Run) -> Progress:
    """Steps, completions and training seconds done after each step, from the `perf/` metrics.

    Raises:
        ValueError: the run lacks those metrics, or did not log every step.
    """
    step_s, rates = run.scalars.get("perf/step_s"), run.scalars.get("perf/completions_per_s")
    if not step_s or not rates:
        raise ValueError(
            f"{run.path}: logged no perf/step_s or perf/completions_per_s (lit-rlvr fit logs both)"
        )
    steps = [e.step for e in step_s]
    if steps != list(range(steps[0], steps[0] + len(steps))) or len(rates) != len(steps):
        raise ValueError(f"{run.path}: not every step was logged; train with --trainer.log_every_n_steps=1")
    seconds = np.array([e.value for e in step_s])
    samples = np.round(np.array([e.value for e in rates]) * seconds)  # N/s x s = N, up to float rounding
    done: dict[Axis, np.ndarray] = {
        "step": np.array(steps, dtype=float) + 1,
        "samples": np.cumsum(samples),
        "seconds": np.cumsum(seconds),
    }
    return Progress(steps[0], np.array([e.wall_time for e in step_s]), done)


def curve(run: Run, metric: str, axis: Axis) -> tuple[np.ndarray, np.ndarray]:
    """A metric's points `(x, value)` with x the amount of training done when it was logged."""
    done = progress(run)
    events = run.scalars.get(metric, [])
    index = {step: i for i, step in enumerate(range(done.first_step, done.first_step + len(done.wall_times)))}
    after = done.done[axis]
    before = np.concatenate([[done.before_first(axis)], after[:-1]])
    if metric.startswith("val/"):
        steps_before = np.searchsorted(done.wall_times, [e.wall_time for e in events], side="right")
        x = np.concatenate([[done.before_first(axis)], after])[steps_before]
    elif metric.startswith(UPDATE_AXIS):
        rollout_of = {e.step: int(e.value) for e in run.scalars.get("update/rollout_step", [])}
        events = [e for e in events if rollout_of.get(e.step) in index]
        steps = [index[rollout_of[e.step]] for e in events]
        updates, x = Counter(steps), []
        seen: Counter[int] = Counter()
        for step in steps:
            seen[step] += 1
            x.append(before[step] + (after[step] - before[step]) * seen[step] / updates[step])
    else:
        events = [e for e in events if e.step in index]
        x = after[[index[e.step] for e in events]]
    return np.asarray(x, dtype=float), np.array([e.value for e in events], dtype=float)


@dataclass
class Band:
    """The mean over seeds of a curve and its standard error (zero for a single seed)."""

    x: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    seeds: int


def band(curves: list[tuple[np.ndarray, np.ndarray]]) -> Band | None:
    """Mean and standard error over seeds on the grid of every seed's x within the range all cover.

    Returns:
        The band, or None when the seeds' ranges do not overlap or a seed has no point.
    """
    if any(len(x) == 0 for x, _ in curves):
        return None
    if len(curves) == 1:
        x, y = curves[0]
        return Band(x, y, np.zeros_like(y), 1)
    low, high = max(x[0] for x, _ in curves), min(x[-1] for x, _ in curves)
    grid = np.unique(np.concatenate([x[(x >= low) & (x <= high)] for x, _ in curves]))
    if len(grid) == 0:
        return None
    values = np.stack([np.interp(grid, x, y) for x, y in curves])  # [seeds, grid]
    return Band(grid, values.mean(0), values.std(0, ddof=1) / math.sqrt(len(curves)), len(curves))


def summarize(run: Run, last: int, target: float | None) -> dict[str, float | None]:
    """One seed's summary: training done, validation accuracy, late reward, and what reaching `target` took.

    Args:
        run: the run.
        last: how many of the last logged `reward/mean` points to average.
        target: a validation accuracy; the first validation at or above it gives the `*_to_target` values.

    Returns:
        The values; one whose metric was not logged, or a target not reached, is None.
    """
    done = progress(run)
    rewards = run.scalars.get("reward/mean", [])
    accuracy = run.scalars.get("val/accuracy", [])
    times = [e.wall_time for points in run.scalars.values() for e in points]
    x, values = curve(run, "val/accuracy", "step") if accuracy else (np.zeros(0), np.zeros(0))
    started, trained = values[x == 0], values[x > 0]  # before any training step, and after
    row: dict[str, float | None] = {
        "steps": int(done.done["step"][-1]),
        "samples": int(done.done["samples"][-1]),
        "train_s": float(done.done["seconds"][-1]),
        "wall_time_s": max(times) - min(times),
        "val_accuracy_start": started[0] if len(started) else None,
        "val_accuracy_final": accuracy[-1].value if accuracy else None,
        "val_accuracy_best": float(trained.max()) if len(trained) else None,
        f"reward_mean_last_{last}": statistics.fmean(e.value for e in rewards[-last:]) if rewards else None,
        **stability(run),
    }
    if target is not None:
        for axis, key in zip(
            AXES, ("steps_to_target", "samples_to_target", "seconds_to_target"), strict=True
        ):
            x, values = curve(run, "val/accuracy", axis)
            reached = np.flatnonzero(values >= target)
            row[key] = float(x[reached[0]]) if len(reached) else None
    return row


def clip_fractions(scalars: dict[str, list[ScalarEvent]]) -> dict[int, float]:
    """Optimizer step -> the share of the objective's own units clipped there, low and high added
    (whichever `objective/*clip_frac_low|high` it logs: tokens, sequences or segments)."""
    per_step: dict[int, float] = {}
    for tag, events in scalars.items():
        if tag.startswith("objective/") and tag.endswith(("clip_frac_low", "clip_frac_high")):
            for event in events:
                per_step[event.step] = per_step.get(event.step, 0.0) + event.value
    return per_step


def stability(run: Run) -> dict[str, float | None]:
    """How much of each off-policy update the clip kept and how steady the updates were.

    Over the optimizer steps not on the sampling weights (`update/on_policy` 0; on them nothing can
    clip): `clip_frac_off_policy`, the mean share of the objective's own units clipped (tokens,
    sequences or segments, low and high added; whichever `objective/*clip_frac_low|high` it logs);
    `approx_kl_old_off_policy`, the mean KL to the sampling weights. Over every optimizer step:
    `grad_norm_median`, `grad_norm_spike` (the largest pre-clipping norm over the median), and
    `grad_clipped_share`, the share of steps whose gradient the norm clip scaled down.
    """
    off_policy = {e.step for e in run.scalars.get("update/on_policy", []) if e.value == 0}
    per_step = {step: share for step, share in clip_fractions(run.scalars).items() if step in off_policy}
    kl = [e.value for e in run.scalars.get("objective/approx_kl_old", []) if e.step in off_policy]
    norms = [e.value for e in run.scalars.get("update/grad_norm", [])]
    applied = [e.value for e in run.scalars.get("update/grad_norm_clipped", [])]
    median = statistics.median(norms) if norms else 0.0
    return {
        "clip_frac_off_policy": statistics.fmean(per_step.values()) if per_step else None,
        "approx_kl_old_off_policy": statistics.fmean(kl) if kl else None,
        "grad_norm_median": median if norms else None,
        "grad_norm_spike": max(norms) / median if median > 0 else None,
        "grad_clipped_share": (
            statistics.fmean(float(a < n * (1 - 1e-4)) for a, n in zip(applied, norms, strict=True))
            if norms and len(applied) == len(norms)
            else None
        ),
    }


def mean_se(values: list[float | None]) -> tuple[float | None, float | None]:
    """Mean and standard error of the values present (a lone value is returned as is, with no error)."""
    present = [v for v in values if v is not None]
    if not present:
        return None, None
    if len(present) == 1:
        return present[0], None
    return statistics.fmean(present), statistics.stdev(present) / math.sqrt(len(present))


def write_run_csvs(run: Run, folder: Path) -> list[Path]:
    """Writes a run's scalars as three CSVs in `folder`, one row per point, an empty cell where a tag
    was not logged: `steps.csv` (per training step: steps, completions and training seconds done,
    then every per-step tag), `updates.csv` (per optimizer step: its `objective/` and `update/`
    readings) and `validation.csv` (per validation: the training done before it, then its `val/` tags).
    """
    done = progress(run)
    folder.mkdir(parents=True, exist_ok=True)
    axes = {axis: done.done[axis] for axis in AXES}
    step_tags = sorted(t for t in run.scalars if not t.startswith(("val/", *UPDATE_AXIS)))
    steps = range(done.first_step, done.first_step + len(done.wall_times))
    by_step = {tag: {e.step: e.value for e in run.scalars[tag]} for tag in step_tags}
    step_rows = [
        {**{axis: axes[axis][i] for axis in AXES}, **{tag: by_step[tag].get(step) for tag in step_tags}}
        for i, step in enumerate(steps)
    ]
    update_tags = sorted(t for t in run.scalars if t.startswith(UPDATE_AXIS))
    by_update = {tag: {e.step: e.value for e in run.scalars[tag]} for tag in update_tags}
    updates = sorted({step for values in by_update.values() for step in values})
    update_rows = [{"update": u, **{tag: by_update[tag].get(u) for tag in update_tags}} for u in updates]
    val_tags = sorted(t for t in run.scalars if t.startswith("val/"))
    val_rows = []
    if val_tags:
        placed = {axis: curve(run, val_tags[0], axis)[0] for axis in AXES}
        for i, _ in enumerate(run.scalars[val_tags[0]]):
            row = {axis: placed[axis][i] for axis in AXES}
            for tag in val_tags:
                events = run.scalars[tag]
                row[tag] = events[i].value if i < len(events) else None
            val_rows.append(row)
    written = []
    for name, rows in (("steps", step_rows), ("updates", update_rows), ("validation", val_rows)):
        if rows:
            path = folder / f"{name}.csv"
            fields = list(rows[0])
            with path.open("w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=fields)
                writer.writeheader()
                writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
            written.append(path)
    return written
