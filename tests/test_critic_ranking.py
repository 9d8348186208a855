"""`tools/critic_ranking.py`: a prompt critic's values against measured success rates."""

import csv
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from critic_ranking import brier, ranks, spearman, summarize  # noqa: E402


def test_ranks_average_ties_and_spearman_is_the_rank_correlation():
    assert ranks([0.5, 0.1, 0.5, 0.9]) == [2.5, 1.0, 2.5, 4.0]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # Worked by hand: ranks (1, 2, 3, 4) against (2, 1, 4, 3): 1 - 6 * 4 / (4 * 15) = 0.6.
    assert spearman([0.1, 0.2, 0.3, 0.4], [0.2, 0.1, 0.4, 0.3]) == pytest.approx(0.6)
    assert spearman([0.3, 0.3, 0.3], [0.1, 0.5, 0.9]) == 0.0  # a constant (the batch mean) ranks nothing
    assert brier([0.5, 0.5], [0.0, 1.0]) == pytest.approx(0.25)


def test_a_critic_that_knows_the_prompt_beats_the_batch_mean():
    rates = [0.0, 0.1, 0.3, 0.5, 0.8, 0.9, 1.0, 0.2]
    knows = [0.05, 0.15, 0.25, 0.55, 0.75, 0.85, 0.95, 0.2]
    summary = summarize(knows, rates)
    assert summary["spearman"] > 0.9 and summary["spearman_ci95_low"] > 0.5
    assert summary["brier_critic"] < summary["brier_batch_mean"]
    level = summarize([0.475] * len(rates), rates)  # only the level
    assert level["spearman"] == 0.0 and level["brier_critic"] == pytest.approx(level["brier_batch_mean"])
    assert level["value_std"] == 0.0 and summary["value_std"] == pytest.approx(statistics.pstdev(knows))
    assert summary["rate_std"] == level["rate_std"] == pytest.approx(statistics.pstdev(rates))


@pytest.mark.slow  # a minute: an SPPO run, then its critic measured
def test_the_tool_measures_a_trained_sppo_run(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
    }
    fit = [sys.executable, "-m", "lit_rlvr", "fit", f"--config={ROOT / 'configs' / 'sppo.yaml'}",
           "--model.model=tiny-random-llama", "--threads=1", "--trainer.max_steps=2",
           "--rollout.rewards=[{name: vowels, fn: reward_fns.more_vowels}]", "--rollout.reward_workers=1",
           "--rollout.engine.max_new_tokens=8", "--validate_before_fit=false",
           "--trainer.limit_val_batches=0", "--trainer.enable_progress_bar=false",
           f"--trainer.default_root_dir={tmp_path / 'run'}"]  # fmt: skip
    done = subprocess.run(fit, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    tool = [sys.executable, str(ROOT / "tools" / "critic_ranking.py"), "--run", str(tmp_path / "run"),
            "--prompts", "6", "--samples", "4", "--out", str(tmp_path / "out")]  # fmt: skip
    done = subprocess.run(tool, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    with (tmp_path / "out" / "critic_ranking.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 6
    assert all(
        0 < float(r["value"]) < 1 and float(r["rate"]) * 4 == round(float(r["rate"]) * 4) for r in rows
    )
    summary = json.loads((tmp_path / "out" / "critic_ranking.json").read_text())
    assert summary["prompts"] == 6 and -1 <= summary["spearman"] <= 1
    assert (tmp_path / "out" / "critic_ranking.png").read_bytes().startswith(b"\x89PNG")
    missing = subprocess.run(
        [*tool[:2], "--run", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert missing.returncode != 0 and "no lightning_logs" in missing.stderr.splitlines()[-1]
