"""Broken data files end `lit-rlvr fit` with one line naming the file, line or record, and what was expected.

Each family runs through the real CLI entry point (`main`, in-process) on the tiny model; the data is
read in the data module's setup, before any rollout or optimizer step.
"""

import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fit_helpers import TINY_ARGS

from lit_rlvr.cli import main
from lit_rlvr.tasks.files import FileTask

GOOD = [{"question": "1+2?", "answer": "3"}, {"question": "2+2?", "answer": "4"}]


def parquet(rows: list[dict]) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(
        pa.Table.from_pylist(rows, schema=pa.schema({"question": pa.string(), "answer": pa.string()})), sink
    )
    return sink.getvalue().to_pybytes()


def jsonl(*rows: object) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


# name, content, the message after "<file>: "
FAMILIES: list[tuple[str, str | bytes | Callable[[], bytes], str]] = [
    ("not_json.jsonl", jsonl(GOOD[0]) + '{"question": "a" "answer": "1"}\n',
     r"line 2: not valid JSON \(Expecting ',' delimiter: column 18\); expected one JSON object per line"),
    ("not_object.jsonl", jsonl(GOOD[0], [1, 2]),
     r"line 2: expected a JSON object \{\.\.\.\}, got a list \(\[1, 2\]\)"),
    ("truncated_line.jsonl", jsonl(GOOD[0]) + '{"question": "2+2?", "ans',
     r"line 2: not valid JSON \(.*\) \(the file ends inside this line: truncated\?\); expected one"),
    ("invalid_utf8.jsonl", jsonl(GOOD[0]).encode() + b'{"question": "\xff", "answer": "1"}\n',
     r"line 2: not valid UTF-8 \(byte 0xff at byte 15 of the line\); expected UTF-8 text"),
    ("duplicate_key.jsonl", jsonl(GOOD[0]) + '{"question": "a", "answer": "1", "answer": "2"}\n',
     r"line 2: key 'answer' is given twice in one object; expected each key once"),
    ("empty.jsonl", "", r"the file is empty; expected one JSON object per line"),
    ("whitespace.jsonl", " \n\n\t\n", r"the file holds only whitespace; expected one JSON object per line"),
    ("header_only.csv", "question,answer\n", r"has a header but no data rows; expected at least one row"),
    ("empty_list.json", "[ ]\n", r"the JSON list is empty; expected at least one record"),
    ("zero_rows.parquet", lambda: parquet([]), r"the Parquet file has no rows; expected at least one"),
    ("truncated.json", json.dumps(GOOD, indent=1)[:-20],
     r"record 2 \(line 6\): not valid JSON \(.*\) \(the file ends inside the list: truncated\?\)"),
    ("an_object.json", json.dumps({"rows": GOOD}, indent=1),
     r"one JSON object spanning several lines \(keys 'rows'\); expected a list of objects"),
    ("numbers.json", "[1, 2]", r"record 1 \(line 1\): expected a JSON object \{\.\.\.\}, got a number \(1\)"),
    ("a_string.json", '"rows"', r"expected a JSON list of objects \[\{\.\.\.\}, \.\.\.\], got a string"),
    ("duplicate_key.json", '[{"question": "a",\n  "answer": "1", "answer": "2"}]',
     r"record 1 \(line 1\): key 'answer' is given twice in one object"),
    ("unclosed_quote.csv", 'question,answer\n1+2?,3\n"2+2?,4\n',
     r"row 2 \(line 3\), column 1 \('question'\): a quoted field opens there and is never closed; "
     r"expected a closing '\"'"),
    ("unclosed_quote_later.csv", 'question,answer\n"1, 2 or 3?",3\n"say ""hi""",x\n2+2?,"4\n',
     r"row 3 \(line 4\), column 2 \('answer'\): a quoted field opens there and is never closed"),
    ("ragged.csv", "question,answer\n1+2?,3\n2+2?,4,5\n",
     r"row 2 \(line 3\): has 3 fields, the header has 2; expected one value per column"),
    ("duplicate_column.csv", "question,answer,answer\n1+2?,3,4\n",
     r"header \(line 1\): column 'answer' appears twice \(columns 2 and 3\); expected unique column names"),
    ("invalid_utf8.csv", b"question,answer\n1+2?,3\n\xfe2+2?,4\n",
     r"line 3: not valid UTF-8 \(byte 0xfe at byte 1"),
    ("empty_gold.csv", "question,answer\n1+2?,\n",
     r"row 1 \(line 2\): field 'answer' must be a non-empty gold answer"),
    ("not_parquet.parquet", "question,answer\n1+2?,3\n",
     r"not a Parquet file \(it does not start with the magic"),
    ("truncated.parquet", lambda: parquet(GOOD)[:300],
     r"truncated Parquet file \(it does not end with its footer"),
]  # fmt: skip


def write(path: Path, content: str | bytes | Callable[[], bytes]) -> Path:
    content = content() if callable(content) else content
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def cli_error(monkeypatch, tmp_path: Path, *args: str) -> str:
    """Runs `lit-rlvr fit` through `main` and returns the one line it exits with."""
    root = f"--trainer.default_root_dir={tmp_path / 'run'}"
    monkeypatch.setattr(sys, "argv", ["lit-rlvr", "fit", *TINY_ARGS, root, "--trainer.max_steps=1", *args])
    with pytest.raises(SystemExit) as exit:
        main()
    message = exit.value.code
    assert isinstance(message, str) and "\n" not in message
    return message


@pytest.mark.parametrize(("name", "content", "expected"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_each_broken_file_ends_fit_with_one_line(monkeypatch, tmp_path, name, content, expected):
    path = write(tmp_path / name, content)
    task = [
        "--data.task=lit_rlvr.tasks.files.FileTask",
        f"--data.task.train={path}",
        "--data.task.validation_fraction=0.5",
    ]
    message = cli_error(monkeypatch, tmp_path, *task)
    assert message.startswith(f"lit-rlvr: error: {path}: "), message
    assert re.search(expected, message), message


def test_a_broken_validation_file_is_named(monkeypatch, tmp_path):
    train = write(tmp_path / "train.jsonl", jsonl(*GOOD))
    validation = write(tmp_path / "validation.jsonl", jsonl(GOOD[0], "3"))
    args = [
        "--data.task=lit_rlvr.tasks.files.FileTask",
        f"--data.task.train={train}",
        f"--data.task.validation={validation}",
    ]
    message = cli_error(monkeypatch, tmp_path, *args)
    assert (
        message
        == f'lit-rlvr: error: {validation}: line 2: expected a JSON object {{...}}, got a string ("3")'
    )


def test_skipping_bad_rows_still_refuses_a_file_without_a_good_one(monkeypatch, tmp_path):
    path = write(tmp_path / "all_bad.jsonl", '{"question": "a"}\nnot json\n')
    args = [
        "--data.task=lit_rlvr.tasks.files.FileTask",
        f"--data.task.train={path}",
        "--data.task.skip_bad_rows=true",
    ]
    message = cli_error(monkeypatch, tmp_path, *args)
    assert message == (
        f"lit-rlvr: error: {path}: no good record: all 2 are bad (first, line 1: field 'answer' must be a "
        "non-empty gold answer, got None)"
    )


def test_skipped_rows_are_counted_named_and_explained(tmp_path, caplog):
    path = write(tmp_path / "some_bad.jsonl", jsonl(GOOD[0]) + "{oops\n" + jsonl({"question": "q"}, GOOD[1]))
    with caplog.at_level(logging.WARNING):
        rows = FileTask(train=str(path), skip_bad_rows=True).rows("train")
    assert rows["gold"] == ["3", "4"]
    (warning,) = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert warning.startswith(
        f"data: {path}: skipped 2 of 4 records (skip_bad_rows=true): line 2: not valid JSON"
    )
    assert "; line 3: field 'answer' must be a non-empty gold answer, got None" in warning
    csv = write(tmp_path / "ragged.csv", "question,answer\n1+2?,3\n2+2?,4,5\n")
    assert FileTask(train=str(csv), skip_bad_rows=True).rows("train")["gold"] == ["3"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("rows.jsonl", "\ufeff" + jsonl(GOOD[0]) + "\n\n" + jsonl(GOOD[1])),  # a BOM and blank lines
        ("rows.json", json.dumps(GOOD, indent=2)),
        ("lines.json", jsonl(*GOOD)),  # JSON Lines in a .json file, as `datasets` reads it
        ("rows.csv", 'question,answer\r\n1+2?,3\r\n\r\n"2+2?","4"\r\n'),
        ("rows.parquet", lambda: parquet(GOOD)),
    ],
)
def test_good_files_load_exactly_their_records(tmp_path, name, content):
    rows = FileTask(train=str(write(tmp_path / name, content)), template="{question}").rows("train")
    assert rows["gold"] == ["3", "4"]
    assert [row[-1]["content"] for row in rows["messages"]] == ["1+2?", "2+2?"]
