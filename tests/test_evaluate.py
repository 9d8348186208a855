"""`tools/evaluate.py`: the pass@k estimator, the summary, and whole runs of the script on the tiny model."""

import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lit_rlvr.verifiers.math import score

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "tools" / "evaluate.py"
GSM8K = ROOT / "tests" / "assets" / "gsm8k.jsonl"

_spec = importlib.util.spec_from_file_location("evaluate", SCRIPT)
evaluate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evaluate)


def run(*args: str) -> subprocess.CompletedProcess:
    # One torch thread: the suite runs on 2 busy cores.
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--threads", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (4, 2, 2, 5 / 6),  # 1 - C(2,2)/C(4,2) = 1 - 1/6
        (5, 2, 1, 0.4),  # pass@1 is the share correct
        (5, 2, 4, 1.0),  # any 4 of 5 include one of the 2 correct
        (8, 0, 4, 0.0),
        (8, 8, 1, 1.0),
        (8, 8, 8, 1.0),
    ],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert evaluate.pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_the_share_of_k_subsets_with_a_correct_sample():
    for n in range(1, 8):
        for c in range(n + 1):
            outcomes = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(outcomes, k))
                brute = sum(any(subset) for subset in subsets) / len(subsets)
                assert evaluate.pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12), (n, c, k)


def test_pass_at_k_refuses_impossible_counts():
    for n, c, k in [(4, 5, 1), (4, 1, 5), (4, 1, 0), (4, -1, 1)]:
        with pytest.raises(ValueError, match="pass@k needs"):
            evaluate.pass_at_k(n, c, k)


def test_summary_per_source_and_overall():
    def record(prompt_id, source, value, length=10, truncated=False, verifier="ok"):
        return {"prompt_id": prompt_id, "data_source": source, "score": value, "length": length,
                "truncated": truncated, "no_answer": value == 0.0, "verifier": verifier}  # fmt: skip

    records = [
        *(record(0, "gsm8k", s) for s in (1.0, 0.0, 0.0, 0.0)),
        *(record(1, "gsm8k", s) for s in (0.0, 0.0, 0.0, 0.0)),
        record(2, "math", 1.0, length=30, truncated=True),
        record(2, "math", 1.0),
        record(2, "math", 0.0, verifier="timeout"),
        record(2, "math", 0.0, verifier="crash"),
    ]
    summary = evaluate.summarize(records, samples=4)
    gsm8k, math, overall = summary["by_source"]["gsm8k"], summary["by_source"]["math"], summary["all"]
    assert gsm8k["prompts"] == 2 and gsm8k["accuracy"] == 1 / 8
    assert gsm8k["pass@2"] == pytest.approx((0.5 + 0.0) / 2) and gsm8k["pass@4"] == 0.5
    assert math["pass@2"] == pytest.approx(5 / 6) and math["truncated"] == 0.25
    assert math["verifier_failures"] == {"timeout": 1, "crash": 1}
    assert overall["prompts"] == 3 and overall["accuracy"] == 3 / 12
    assert overall["pass@1"] == pytest.approx(overall["accuracy"])
    assert overall["pass@4"] == pytest.approx(2 / 3)
    assert overall["response_length_mean"] == pytest.approx((11 * 10 + 30) / 12)
    assert "| gsm8k | 2 | 0.1250 | 0.1250 | 0.2500 | 0.5000 |" in evaluate.markdown(summary, samples=4)
    assert "by_source" not in evaluate.summarize(records[:8], samples=4)


def test_scores_with_the_verifier_in_worker_processes(tokenizer, tiny_model):
    """The batch path scores with the math verifier: a right answer 1, a wrong one 0."""
    from lit_rlvr.data import collate_prompts, render_prompt
    from lit_rlvr.rollout import RolloutGenerator
    from lit_rlvr.workers import WorkerPool

    rows = [{"messages": [{"role": "user", "content": "2 + 3?"}], "gold": "5", "data_source": "t"}]
    batch = collate_prompts(
        [{**row, "input_ids": render_prompt(tokenizer, row["messages"])} for row in rows],
        tokenizer.pad_token_id,
    )
    generator = RolloutGenerator(samples_per_prompt=3, max_new_tokens=4)
    with WorkerPool(workers=1) as pool:
        records = evaluate.complete(tiny_model, tokenizer, generator, pool, batch, greedy=False, first_id=7)
        assert [r["prompt_id"] for r in records] == [7, 7, 7] and [r["sample"] for r in records] == [0, 1, 2]
        assert all(r["score"] == score(r["completion"], "5") for r in records)
        outcomes = pool.map(score, [("so \\boxed{5}", "5"), ("\\boxed{6}", "5")])
    assert [o.value for o in outcomes] == [1.0, 0.0] and {o.status for o in outcomes} == {"ok"}


def test_script_on_a_gsm8k_file(tmp_path):
    out = tmp_path / "eval" / "results.jsonl"
    done = run(
        "--model", "tiny-random-llama", "--data", str(GSM8K), "--reader", "gsm8k", "--limit", "3",
        "--samples", "2", "--temperature", "1.0", "--max_new_tokens", "8", "--batch_size", "2",
        "--verifier_workers", "1", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 * 2
    assert [(r["prompt_id"], r["sample"]) for r in rows] == [(p, s) for p in range(3) for s in range(2)]
    assert [r["gold"] for r in rows] == ["72", "72", "10", "10", "5", "5"]
    for row in rows:
        assert row["score"] == score(row["completion"], row["gold"])
        assert row["data_source"] == "gsm8k" and 1 <= row["length"] <= 8
        assert row["length"] == 8 or not row["truncated"]  # a completion that stopped early has its EOS
    summary = json.loads((tmp_path / "eval" / "results.summary.json").read_text())
    assert summary["all"]["accuracy"] == sum(r["score"] for r in rows) / len(rows)
    assert summary["all"]["completions"] == 6 and summary["all"]["prompts"] == 3
    assert summary["all"]["truncated"] == sum(r["truncated"] for r in rows) / len(rows)
    assert summary["samples"] == 2 and not summary["greedy"] and "by_source" not in summary
    assert "| all | 3 |" in done.stdout and "pass@2" in done.stdout


def test_script_names_a_missing_data_file(tmp_path):
    missing = tmp_path / "no_such.jsonl"
    done = run("--model", "tiny-random-llama", "--data", str(missing), "--out", str(tmp_path / "r.jsonl"))
    assert done.returncode != 0
    assert f"{missing}: no such file" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.slow
def test_smollm2_on_arithmetic(tmp_path):
    """The real model answers some plain sums greedily (README: 0.375 on the 64 validation sums)."""
    out = tmp_path / "results.jsonl"
    done = run(
        "--model", "smollm2-135m-instruct", "--task", "ArithmeticTask", "--task.phrasing", "plain",
        "--limit", "8", "--max_new_tokens", "40", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["greedy"] and summary["all"]["prompts"] == 8
    assert summary["all"]["accuracy"] > 0 and summary["all"]["verifier_failures"] == {}
