"""`tools/compare_objectives.py` trains two tiny objectives, plots them and summarizes their event files."""

import csv
import os
import subprocess
import sys
from pathlib import Path

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
    "--rollout.max_new_tokens=8",
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
