"""`tools/compare_objectives.py` trains two tiny objectives, plots them and summarizes their event files."""

import csv
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "tools" / "compare_objectives.py"
STEPS = 3
LAST = 2
# A tiny random model scores 0 on arithmetic; the 0/1 vowel reward gives non-zero reward and accuracy.
TINY_FIT = [
    "--model.model=tiny-random-llama",
    f"--trainer.max_steps={STEPS}",
    "--trainer.val_check_interval=2",
    "--trainer.limit_val_batches=1",
    "--data.val_batch_size=4",
    "--rollout.engine.max_new_tokens=8",
    "--rollout.rewards=[{name: vowels, fn: reward_fns.more_vowels}]",
    "--rollout.reward_workers=1",
    "--threads=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]


def compare(*args: str) -> subprocess.CompletedProcess:
    # The fits import the reward from tests/, in the child and in its reward workers.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float, float]]]:
    """(step, value, wall_time) per tag, read straight from the run's event files."""
    out: dict[str, list[tuple[int, float, float]]] = {}
    for path in sorted((run_dir / "lightning_logs" / "version_0").glob("events.out.tfevents.*")):
        events = EventAccumulator(str(path), size_guidance={"scalars": 0}, purge_orphaned_data=False)
        events.Reload()
        for tag in events.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value, e.wall_time) for e in events.Scalars(tag))
    return {tag: sorted(points, key=lambda p: (p[0], p[2])) for tag, points in out.items()}


def test_configs_mode_trains_plots_and_summarizes_from_the_event_files(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("model:\n  no_such_knob: 1\n")
    configs = [str(broken), "configs/grpo.yaml", "configs/dr_grpo.yaml"]
    done = compare("--configs", *configs, "--out", str(tmp_path), "--last", str(LAST), "--", *TINY_FIT)
    # The broken run is reported, the others still train and are compared, and the exit status says so.
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[1/3] broken FAILED (exit " in done.stdout and "[3/3] dr_grpo done" in done.stdout
    assert "failed runs (not compared): broken" in done.stdout
    assert "| grpo |" in done.stdout and "| dr_grpo |" in done.stdout  # the markdown table

    png = (tmp_path / "compare.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    with (tmp_path / "summary.csv").open() as file:
        rows = {row["objective"]: row for row in csv.DictReader(file)}
    assert set(rows) == {"grpo", "dr_grpo"}
    for name, row in rows.items():
        logged = scalars(tmp_path / name)
        rewards = [value for _, value, _ in logged["reward/mean"]]
        accuracy = [value for _, value, _ in logged["val/accuracy"]]
        times = [t for points in logged.values() for _, _, t in points]
        assert int(row["steps"]) == STEPS == len(rewards)
        assert float(row["reward_mean_last_2"]) == sum(rewards[-LAST:]) / LAST
        assert float(row["val_accuracy_final"]) == accuracy[-1]
        assert float(row["val_accuracy_best"]) == max(accuracy)
        assert float(row["wall_time_s"]) == max(times) - min(times) > 0
    assert any(float(row["reward_mean_last_2"]) > 0 for row in rows.values()), rows

    # The runs mode reads the same folders back; a metric no run logged is noted and skipped.
    out = tmp_path / "again"
    metrics = ["reward/mean", "val/accuracy", "critic/value_loss"]
    again = compare("--runs", f"a={tmp_path / 'grpo'}", str(tmp_path / "dr_grpo"), "--out", str(out),
                    "--metrics", *metrics, "--smooth", "0.5", "--last", str(LAST))  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "critic/value_loss: logged by no run, skipped" in again.stdout
    with (out / "summary.csv").open() as file:
        assert [row["objective"] for row in csv.DictReader(file)] == ["a", "dr_grpo"]
    assert (out / "compare.png").read_bytes().startswith(b"\x89PNG")


def test_a_folder_without_event_files_is_named_in_the_error(tmp_path):
    empty = tmp_path / "empty_run"
    (empty / "lightning_logs" / "version_0").mkdir(parents=True)
    done = compare("--runs", str(empty), "--out", str(tmp_path / "out"))
    assert done.returncode != 0
    assert f"no TensorBoard event files under {empty}" in done.stderr
    missing = compare("--runs", str(tmp_path / "missing"), "--out", str(tmp_path / "out"))
    assert f"run folder {tmp_path / 'missing'} does not exist" in missing.stderr


sys.path.insert(0, str(ROOT / "tools"))
from compare_objectives import parse_args, seed_points, write_plan  # noqa: E402
from paired import paired_difference, t_quantile  # noqa: E402
from run_curves import Run, band, curve, mean_se, summarize  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import ScalarEvent  # noqa: E402

# 2 prompts x 2 samples: 4 completions a step; validation every 4 of them, so after every step.
SMALL_FIT = [
    *TINY_FIT[:1],
    "--trainer.max_steps=2",
    "--data.prompts_per_step=2",
    "--rollout.engine.samples_per_prompt=2",
    *TINY_FIT[3:],
    "--trainer.callbacks+=lit_rlvr.callbacks.ValidationSchedule",
    "--trainer.callbacks.every_samples=4",
]


def synthetic_run() -> Run:
    """Three steps of 1, 2 and 3 s sampling 4, 4 and 8 completions; validation before fit and after step 2."""
    step_s = [ScalarEvent(10.0 + i, i, s) for i, s in enumerate([1.0, 2.0, 3.0])]
    rates = [ScalarEvent(10.0 + i, i, n / s) for i, (n, s) in enumerate([(4, 1.0), (4, 2.0), (8, 3.0)])]
    rewards = [ScalarEvent(10.0 + i, i, v) for i, v in enumerate([0.1, 0.2, 0.6])]
    # The validation after step 2 is logged at step 1, like the training metrics of step 2, but later.
    accuracy = [ScalarEvent(9.0, 0, 0.25), ScalarEvent(11.5, 1, 0.5)]
    scalars = {"perf/step_s": step_s, "perf/completions_per_s": rates, "reward/mean": rewards,
               "val/accuracy": accuracy}  # fmt: skip
    return Run("seed0", Path("synthetic"), scalars)


def test_points_lie_at_the_steps_samples_and_training_seconds_done():
    run = synthetic_run()
    expected = {"step": ([1, 2, 3], [0, 2]), "samples": ([4, 8, 16], [0, 8]), "seconds": ([1, 3, 6], [0, 3])}
    for axis, (train_x, val_x) in expected.items():
        assert curve(run, "reward/mean", axis)[0].tolist() == train_x, axis
        assert curve(run, "val/accuracy", axis)[0].tolist() == val_x, axis
    row = summarize(run, last=2, target=0.5)
    assert row["steps"] == 3 and row["samples"] == 16 and row["train_s"] == 6.0
    assert (row["steps_to_target"], row["samples_to_target"], row["seconds_to_target"]) == (2, 8, 3)
    assert row["val_accuracy_best"] == 0.5 and row["reward_mean_last_2"] == (0.2 + 0.6) / 2
    assert summarize(run, last=2, target=0.75)["samples_to_target"] is None
    assert summarize(run, last=2, target=None).keys().isdisjoint({"samples_to_target"})


def test_stability_summary_reads_the_off_policy_updates_own_clip_fractions_kl_and_gradient_norms():
    run = synthetic_run()
    assert summarize(run, last=2, target=None)["clip_frac_off_policy"] is None  # nothing clipped was logged
    events = lambda values: [ScalarEvent(10.0 + i, i, v) for i, v in enumerate(values)]  # noqa: E731
    run.scalars["update/rollout_step"] = events([0, 0, 1, 1, 2, 2])  # two optimizer steps per rollout
    run.scalars["update/on_policy"] = events([1, 0, 1, 0, 1, 0])
    run.scalars["objective/segment_clip_frac_low"] = events([0.0, 0.1, 0.0, 0.0, 0.0, 0.2])
    run.scalars["objective/segment_clip_frac_high"] = events([0.0, 0.1, 0.0, 0.3, 0.0, 0.0])
    run.scalars["objective/approx_kl_old"] = events([0.0, 0.01, 0.0, 0.02, 0.0, 0.03])
    run.scalars["update/grad_norm"] = events([1.0, 2.0, 8.0, 0.5, 0.5, 2.0])
    run.scalars["update/grad_norm_clipped"] = events([1.0, 1.0, 1.0, 0.5, 0.5, 1.0])
    row = summarize(run, last=2, target=None)
    assert row["clip_frac_off_policy"] == pytest.approx((0.2 + 0.3 + 0.2) / 3)
    assert row["approx_kl_old_off_policy"] == pytest.approx(0.02)
    assert row["grad_norm_median"] == 1.5 and row["grad_norm_spike"] == 8.0 / 1.5
    assert row["grad_clipped_share"] == pytest.approx(3 / 6)
    # each rollout's two updates lie halfway through its span and at its end
    assert curve(run, "update/grad_norm", "step")[0].tolist() == [0.5, 1, 1.5, 2, 2.5, 3]
    assert curve(run, "objective/approx_kl_old", "seconds")[0].tolist() == [0.5, 1, 2, 3, 4.5, 6]


def test_seeds_are_averaged_on_the_grid_they_share_with_a_standard_error():
    # Seed 1 reaches only x = 4: the band stops there; seed 0 is interpolated at seed 1's x = 3.
    seeds = [(np.array([0.0, 2.0, 6.0]), np.array([0.0, 2.0, 6.0])), (np.array([1.0, 3.0, 4.0]), np.ones(3))]
    line = band(seeds)
    assert line.x.tolist() == [1.0, 2.0, 3.0, 4.0] and line.seeds == 2
    assert np.allclose(line.mean, [(1 + 1) / 2, (2 + 1) / 2, (3 + 1) / 2, (4 + 1) / 2])
    assert np.allclose(line.se, [0, 0.5, 1, 1.5])  # std of two values / sqrt(2) = |a - b| / 2
    assert band([(np.array([0.0, 1.0]), np.zeros(2)), (np.array([2.0, 3.0]), np.zeros(2))]) is None
    assert mean_se([1.0, None, 3.0]) == (2.0, 1.0) and mean_se([None]) == (None, None)
    assert mean_se([5.0]) == (5.0, None)


def test_seeds_validated_once_at_different_ends_are_drawn_as_points_and_their_mean():
    from matplotlib.figure import Figure

    def validated_at_the_end(step_s: list[float], accuracy: float) -> Run:
        steps = [ScalarEvent(10.0 + i, i, s) for i, s in enumerate(step_s)]
        rates = [ScalarEvent(10.0 + i, i, 4 / s) for i, s in enumerate(step_s)]
        last = ScalarEvent(10.5 + len(step_s) - 1, len(step_s) - 1, accuracy)
        scalars = {"perf/step_s": steps, "perf/completions_per_s": rates, "val/accuracy": [last]}
        return Run("seed", Path("synthetic"), scalars)

    runs = [validated_at_the_end([1.0, 2.0, 3.0], 0.5), validated_at_the_end([2.0, 2.0, 4.0], 0.7)]
    assert band([curve(run, "val/accuracy", "seconds") for run in runs]) is None  # ends at 6 s and 8 s
    ax = Figure().subplots()
    seed_points(ax, runs, "val/accuracy", "seconds", "C0")
    points = sorted(tuple(np.concatenate(line.get_data())) for line in ax.lines if line.get_marker() == "o")
    assert points == [(6.0, 0.5), (8.0, 0.7)]
    mean_line, _, (bar,) = ax.containers[0]
    assert np.allclose(np.concatenate(mean_line.get_data()), [7.0, 0.6])
    assert np.allclose(bar.get_segments()[0][:, 1], [0.6 - 0.1, 0.6 + 0.1])  # std 0.141 / sqrt(2)


def test_arms_come_from_the_command_line_or_an_experiment_file(tmp_path):
    cold = "cold=configs/grpo.yaml --rollout.engine.temperature=0.5 --model.lr=1e-4"
    _, experiment = parse_args(["--arm", "grpo=configs/grpo.yaml", "--arm", cold, "--seeds", "0", "1",
                                "--x_axis", "seconds", "--", "--trainer.max_steps=2"])  # fmt: skip
    assert [(arm.name, arm.args) for arm in experiment.arms] == [
        ("grpo", []), ("cold", ["--rollout.engine.temperature=0.5", "--model.lr=1e-4"])]  # fmt: skip
    assert (experiment.seeds, experiment.x_axis, experiment.args) == (
        [0, 1],
        "seconds",
        ["--trainer.max_steps=2"],
    )
    file = tmp_path / "exp.yaml"
    arms = "arms:\n  a: {config: configs/grpo.yaml}\n  b: {config: [configs/grpo.yaml], args: [--x=1]}\n"
    file.write_text(arms + "args: [--y=2]\nseeds: [3]\nx_axis: samples\ntarget_accuracy: 0.5\n")
    # what the experiment is judged by is stated in the file, before any run
    assert "an experiment states before it runs" in compare("--experiment", str(file)).stderr
    file.write_text(file.read_text() + "outcomes: [val/accuracy]\nmetrics: [val/accuracy]\nbaseline: b\n")
    _, experiment = parse_args(["--experiment", str(file), "--x_axis", "step", "--", "--z=3"])
    assert experiment.baseline == "b" and experiment.outcomes == ["val/accuracy"]
    assert [(arm.name, arm.args) for arm in experiment.arms] == [("a", []), ("b", ["--x=1"])]
    assert experiment.args == ["--y=2", "--z=3"] and experiment.seeds == [3] and experiment.x_axis == "step"
    assert experiment.target_accuracy == 0.5 and experiment.out == Path("runs/experiments/exp")
    file.write_text("arms:\n  a: {config: configs/grpo.yaml, seed: 1}\n")
    assert "arm 'a' must be {config: PATH" in compare("--experiment", str(file)).stderr


@pytest.mark.slow  # a minute; arm parsing and seed averaging are tested without training above
def test_an_experiment_trains_each_arm_per_seed_and_reports_mean_and_standard_error(tmp_path):
    # Two arms from one config, two seeds each; validation every 4 completions (after every step).
    experiment = tmp_path / "exp.yaml"
    out, report = tmp_path / "out", tmp_path / "report"
    experiment.write_text(yaml.safe_dump({
        "arms": {"hot": {"config": "configs/grpo.yaml"},
                 "cold": {"config": "configs/grpo.yaml", "args": ["--rollout.engine.temperature=0.5"]}},
        "args": SMALL_FIT, "seeds": [0, 1], "x_axis": "samples", "target_accuracy": 0.99,
        "baseline": "hot", "outcomes": ["val/accuracy"], "metrics": ["val/accuracy", "reward/mean"],
        "out": str(out), "report": str(report)}, sort_keys=False))  # fmt: skip
    done = compare("--experiment", str(experiment))
    assert done.returncode == 0, done.stdout + done.stderr
    plan = yaml.safe_load((report / "plan.yaml").read_text())  # written before the first run
    assert (
        plan["outcomes"] == ["val/accuracy"] and plan["target_accuracy"] == 0.99 and plan["seeds"] == [0, 1]
    )
    assert "[1/4] hot seed 0: starting at 0s" in done.stdout and "[4/4] cold seed 1 done in " in done.stdout
    assert "about " in done.stdout and " left: " in done.stdout  # the progress line's estimate
    assert done.stdout.index("[2/4] cold seed 0") < done.stdout.index("[3/4] hot seed 1")  # seeds outside
    again = compare("--experiment", str(experiment))  # run again, it goes on: nothing left to train
    assert again.returncode == 0 and again.stdout.count("finished before, kept") == 4, again.stdout
    assert "plan kept" in again.stdout and yaml.safe_load((report / "plan.yaml").read_text()) == plan
    # Stopped part way (a third seed not trained): --report_only compares what finished, trains nothing.
    partial = compare("--experiment", str(experiment), "--seeds", "0", "1", "2", "--report_only")
    assert partial.returncode == 0, partial.stdout + partial.stderr
    assert "[5/6] hot seed 2: not finished, left out" in partial.stdout
    assert "starting at" not in partial.stdout
    assert "| hot | 2 |" in partial.stdout and not (out / "hot" / "seed2").exists()
    assert "| hot | 2 |" in done.stdout and " ± " in done.stdout
    for arm in ("hot", "cold"):
        for seed in (0, 1):
            config = yaml.safe_load(
                (out / arm / f"seed{seed}" / "lightning_logs/version_0/config.yaml").read_text()
            )
            assert config["seed_everything"] == config["model"]["seed"] == config["data"]["seed"] == seed
            assert config["rollout"]["engine"]["init_args"]["temperature"] == (0.5 if arm == "cold" else 1.0)
    with (report / "summary.csv").open() as file:
        rows = {row["objective"]: row for row in csv.DictReader(file)}
    assert set(rows) == {"hot", "cold"}
    final = {}
    for arm, row in rows.items():
        logged = [scalars(out / arm / f"seed{seed}") for seed in (0, 1)]
        accuracy = [[value for _, value, _ in seed["val/accuracy"]] for seed in logged]
        final[arm] = [values[-1] for values in accuracy]
        best = [max(values[1:]) for values in accuracy]  # after training began: the start is not a result
        assert float(row["val_accuracy_start"]) == pytest.approx(statistics.fmean(v[0] for v in accuracy))
        assert float(row["val_accuracy_best"]) == pytest.approx(statistics.fmean(best))
        assert float(row["val_accuracy_best_se"]) == pytest.approx(abs(best[0] - best[1]) / 2)
        assert float(row["samples"]) == 8 and float(row["samples_se"]) == 0 and row["seeds"] == "2"
        train_s = [sum(value for _, value, _ in seed["perf/step_s"]) for seed in logged]
        assert float(row["train_s"]) == pytest.approx(statistics.fmean(train_s))
        for seed in (0, 1):  # every run's scalars as CSV beside the summary
            curves = report / "curves" / arm / f"seed{seed}"
            with (curves / "steps.csv").open() as file:
                assert len(list(csv.DictReader(file))) == 2
            with (curves / "updates.csv").open() as file:
                assert [row["update"] for row in csv.DictReader(file)] == ["0", "1"]
            with (curves / "validation.csv").open() as file:
                assert [float(r["val/accuracy"]) for r in csv.DictReader(file)] == pytest.approx(
                    accuracy[seed]
                )
    with (report / "paired.csv").open() as file:
        (paired,) = list(csv.DictReader(file))
    differences = [c - h for c, h in zip(final["cold"], final["hot"], strict=True)]
    assert (paired["arm"], paired["baseline"], paired["df"]) == ("cold", "hot", "1")
    assert float(paired["difference"]) == pytest.approx(statistics.fmean(differences), abs=1e-6)
    assert (report / "compare.png").read_bytes().startswith(b"\x89PNG")

    # The runs read back on another axis; a target no seed reaches is reported so.
    again = compare("--runs", str(out / "hot"), f"c={out / 'cold'}", "--out", str(tmp_path / "again"),
                    "--x_axis", "seconds", "--target_accuracy", "1.5",
                    "--metrics", "val/accuracy")  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "not reached" in again.stdout and "| c | 2 |" in again.stdout
    with (tmp_path / "again" / "summary.csv").open() as file:
        row = next(csv.DictReader(file))
    assert row["seconds_to_target"] == "" and row["reached_target"] == "0/2"
    # A target every arm starts at or above is refused: nothing to reach.
    below = compare("--runs", str(out / "hot"), str(out / "cold"), "--out", str(tmp_path / "below"),
                    "--target_accuracy", "0")  # fmt: skip
    assert below.returncode != 0 and "at or below every arm's starting val/accuracy" in below.stderr


def test_the_plan_is_written_before_the_first_run_and_kept_while_the_experiment_stays_the_same(tmp_path):
    file = tmp_path / "exp.yaml"
    file.write_text(yaml.safe_dump({
        "arms": {"a": {"config": "configs/grpo.yaml"}}, "seeds": [0], "outcomes": ["val/accuracy"],
        "metrics": ["val/accuracy"], "report": str(tmp_path / "report")}))  # fmt: skip
    _, experiment = parse_args(["--experiment", str(file)])
    experiment.report_dir.mkdir()
    assert "before any run" in write_plan(experiment, ["--experiment", str(file)])
    first = (tmp_path / "report" / "plan.yaml").read_text()
    assert "plan kept" in write_plan(experiment, ["--experiment", str(file), "--out", "elsewhere"])
    assert (tmp_path / "report" / "plan.yaml").read_text() == first  # the record of the first sitting
    experiment.seeds = [0, 1]  # more seeds once results are in: a new plan, and the log says so
    assert "the experiment changed since the plan of" in write_plan(experiment, ["--experiment", str(file)])
    assert yaml.safe_load((tmp_path / "report" / "plan.yaml").read_text())["seeds"] == [0, 1]


def test_paired_differences_give_t_and_a_95_percent_interval():
    # Student's t quantiles from the tables
    for df, expected in ((1, 12.706204736), (2, 4.302652730), (4, 2.776445105), (30, 2.042272456)):
        assert t_quantile(0.975, df) == pytest.approx(expected, rel=1e-8)
    treated, control = {0: 0.70, 1: 0.66, 2: 0.72, 5: 0.9}, {0: 0.65, 1: 0.64, 2: 0.66, 3: 0.1}
    paired = paired_difference(treated, control)  # seeds 0-2 only: 5 and 3 have no partner
    differences = [0.05, 0.02, 0.06]
    se = statistics.stdev(differences) / 3**0.5
    assert (paired.seeds, paired.df) == (3, 2)
    assert paired.mean == pytest.approx(statistics.fmean(differences)) and paired.se == pytest.approx(se)
    assert paired.t == pytest.approx(paired.mean / se)
    assert (paired.low, paired.high) == pytest.approx(
        (paired.mean - 4.302652730 * se, paired.mean + 4.302652730 * se)
    )
    with pytest.raises(ValueError, match="share no seed"):
        paired_difference({0: 1.0}, {1: 1.0})


@pytest.mark.parametrize(
    "path", sorted((ROOT / "configs" / "experiments").glob("*.yaml")), ids=lambda p: p.stem
)
def test_every_experiment_file_states_its_outcomes_and_names_existing_configs(path):
    _, experiment = parse_args(["--experiment", str(path)])
    assert experiment.outcomes and experiment.metrics and experiment.arms
    assert (experiment.baseline or experiment.arms[0].name) in [arm.name for arm in experiment.arms]
