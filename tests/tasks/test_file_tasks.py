"""The file readers load each shipped sample format and refuse malformed rows with a clear message."""

from pathlib import Path

import pytest

from lit_rlvr.tasks.files import FileTask, RowError
from lit_rlvr.tasks.readers import DAPOMathTask, DeepScaleRTask, GSM8KTask, MATH500Task, MATHTask
from lit_rlvr.tasks.sources import DataFileError, read_records
from lit_rlvr.verifiers.math import score

ASSETS = Path(__file__).parent.parent / "assets"


@pytest.mark.parametrize(
    ("task", "golds", "source"),
    [
        (GSM8KTask(train=str(ASSETS / "gsm8k.jsonl")), ["72", "10", "5", "624"], "gsm8k"),
        (MATHTask(train=str(ASSETS / "math.jsonl")), ["12", "\\frac{5}{2}", "[2, \\infty)", None], "math"),
        (
            MATH500Task(train=str(ASSETS / "math500.jsonl")),
            ["12", "\\frac{5}{2}", "[2, \\infty)", None],
            "math500",
        ),
        (DeepScaleRTask(train=str(ASSETS / "deepscaler.json")), ["4", "9", "20"], "deepscaler"),
        (DAPOMathTask(train=str(ASSETS / "dapo_math.parquet")), ["56", "55", "1024"], "dapo_math"),
        (
            FileTask(
                train=str(ASSETS / "generic.csv"),
                question_field="prompt",
                gold_field="target",
                data_source_field="source",
            ),
            ["42", "1024", "7"],
            None,
        ),
    ],  # fmt: skip
    ids=["gsm8k", "math", "math500", "deepscaler", "dapo", "csv"],
)
def test_reads_each_format(task, golds, source):
    rows = task.rows("train")
    assert rows.column_names == ["messages", "gold", "data_source"]
    assert all(g is None or g == actual for g, actual in zip(golds, rows["gold"], strict=True))
    for row in rows:
        assert row["messages"][-1]["role"] == "user" and row["messages"][-1]["content"].strip()
        assert row["data_source"] == (source or row["data_source"])
        assert score(f"So the answer is \\boxed{{{row['gold']}}}.", row["gold"]) == 1.0
    with pytest.raises(ValueError, match=r"no validation data: set data.task.validation to a validation"):
        task.rows("validation")


def test_math_gold_is_the_last_box_and_prompt_asks_for_a_box():
    rows = MATHTask(train=str(ASSETS / "math.jsonl"), system_prompt="Be brief.").rows("train")
    assert rows[3]["gold"] == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert rows[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert "\\boxed{}" in rows[0]["messages"][1]["content"]


def test_dapo_prompt_is_used_as_written():
    rows = DAPOMathTask(train=str(ASSETS / "dapo_math.parquet")).rows("train")
    assert rows[0]["messages"][0]["content"].startswith("Solve the following math problem")


def test_held_out_fraction_is_deterministic_and_disjoint():
    task = GSM8KTask(train=str(ASSETS / "gsm8k.jsonl"), validation_fraction=0.25, seed=3)
    train, validation = task.rows("train"), task.rows("validation")
    assert len(train) == 3 and len(validation) == 1
    assert validation["gold"][0] not in train["gold"]
    assert task.rows("validation")["gold"] == validation["gold"]


def test_validation_file():
    task = GSM8KTask(train=str(ASSETS / "gsm8k.jsonl"), validation=str(ASSETS / "gsm8k.jsonl"), max_rows=2)
    assert task.rows("validation")["gold"] == ["72", "10"]


def test_malformed_gold_names_file_row_and_field():
    task = GSM8KTask(train=str(ASSETS / "malformed_gsm8k.jsonl"))
    with pytest.raises(
        RowError, match=r"malformed_gsm8k.jsonl: line 2: field 'answer' must end with '#### <answer>'"
    ):
        task.rows("train")


def test_empty_prompt_and_missing_gold_are_refused():
    with pytest.raises(RowError, match=r"empty_prompt.jsonl: line 1: field 'question' must be a non-empty"):
        GSM8KTask(train=str(ASSETS / "empty_prompt.jsonl")).rows("train")
    with pytest.raises(RowError, match=r"generic.csv: row 1 \(line 2\): field 'missing' must be a non-empty"):
        FileTask(train=str(ASSETS / "generic.csv"), question_field="prompt", gold_field="missing").rows(
            "train"
        )
    with pytest.raises(
        RowError, match=r"deepscaler.json: record 1 \(line 2\): field 'solution' must contain"
    ):
        FileTask(train=str(ASSETS / "deepscaler.json"), question_field="problem", gold_field="solution",
                 gold_format="boxed").rows("train")  # fmt: skip


def test_bad_sources_fail_clearly(monkeypatch):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_records(str(ASSETS / "absent.jsonl"))
    with pytest.raises(DataFileError, match="unsupported file type"):
        read_records(str(ASSETS.parent / "reward_fns.py"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("datasets.config.HF_HUB_OFFLINE", True)
    with pytest.raises(DataFileError, match="offline"):
        next(read_records("no-such-owner/no-such-dataset@train"))


def test_knob_checks():
    with pytest.raises(ValueError, match="validation and validation_fraction"):
        FileTask(train="x.jsonl", validation="y.jsonl", validation_fraction=0.1)
    with pytest.raises(ValueError, match="template must contain"):
        FileTask(train="x.jsonl", template="no placeholder")
