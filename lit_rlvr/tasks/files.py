"""Tasks read from files (JSONL, JSON, Parquet, CSV) or the Hugging Face Hub.

`FileTask` maps a dataset's fields onto the task columns; the readers beside it (`GSM8KTask`,
`MATHTask`, ...) are presets of that mapping for the formats researchers use. Files are read by
`sources.read_records`; every record is checked: a line that is not JSON, an empty prompt or a
missing gold answer fails with the file, line or row, field and what was expected, instead of
training on a row that can never be rewarded (or, with `skip_bad_rows`, is skipped and logged).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import datasets

from lit_rlvr.tasks.base import Split, Task
from lit_rlvr.tasks.sources import DataFileError, Problem, read_records
from lit_rlvr.verifiers.extract import last_boxed

GoldFormat = Literal["plain", "gsm8k", "boxed"]
DEFAULT_TEMPLATE = "{question}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}."
_LISTED_SKIPS = 10

log = logging.getLogger(__name__)


class RowError(DataFileError):
    """A malformed row, reported with where it is and what was expected."""

    def __init__(self, source: str, where: str, what: str) -> None:
        super().__init__(f"{source}: {where}: {what}")
        self.where, self.what = where, what


def field(record: dict[str, Any], path: str) -> Any:
    """Reads a field by dotted path (`reward_model.ground_truth`); None when absent."""
    value: Any = record
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


class FileTask(Task):
    """Prompts and gold answers from local files or hub datasets, with a configurable field mapping.

    Args:
        train: training data: a .jsonl, .json, .parquet or .csv file, or a hub id
            `owner/name[:config][@split]` (needs network access).
        validation: validation data in the same forms; None holds out `validation_fraction` of `train`
            (one of the two is needed for validation).
        validation_fraction: the share of `train` held out for validation when `validation` is None.
        seed: seed of the held-out split.
        question_field: the field with the question text (dotted paths reach nested fields).
        messages_field: a field with a whole chat (a list of role/content messages ending with the
            user's turn) used instead of `question_field` and `template`.
        gold_field: the field with the gold answer.
        gold_format: how the gold sits in its field: "plain" (the whole field), "gsm8k" (after
            `####`) or "boxed" (the last `\\boxed{}` of a worked solution).
        template: the user prompt; `{question}` is replaced by the question.
        system_prompt: an optional system message put before the chat.
        data_source: the `data_source` of every row, unless `data_source_field` gives one.
        data_source_field: an optional field naming each row's source (used to split metrics).
        max_rows: keep only the first rows of each split (None for all).
        skip_bad_rows: skip records that cannot be read or converted (a line that is not JSON, a
            ragged CSV row, a missing gold) and log how many, which and why, instead of stopping at
            the first; a file without one good record is still an error.
    """

    def __init__(
        self,
        *,
        train: str,
        validation: str | None = None,
        validation_fraction: float = 0.0,
        seed: int = 0,
        question_field: str = "question",
        messages_field: str | None = None,
        gold_field: str = "answer",
        gold_format: GoldFormat = "plain",
        template: str = DEFAULT_TEMPLATE,
        system_prompt: str | None = None,
        data_source: str = "file",
        data_source_field: str | None = None,
        max_rows: int | None = None,
        skip_bad_rows: bool = False,
    ) -> None:
        if not 0.0 <= validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
        if validation is not None and validation_fraction > 0:
            raise ValueError(
                "validation and validation_fraction: give a validation file or a fraction, not both"
            )
        if messages_field is None and "{question}" not in template:
            raise ValueError(f"template must contain {{question}}, got {template!r}")
        if gold_format not in ("plain", "gsm8k", "boxed"):
            raise ValueError(f"gold_format must be plain, gsm8k or boxed, got {gold_format!r}")
        self.train, self.validation = train, validation
        self.validation_fraction, self.seed = validation_fraction, seed
        self.question_field, self.messages_field = question_field, messages_field
        self.gold_field, self.gold_format = gold_field, gold_format
        self.template, self.system_prompt = template, system_prompt
        self.data_source, self.data_source_field = data_source, data_source_field
        self.max_rows, self.skip_bad_rows = max_rows, skip_bad_rows

    def rows(self, split: Split) -> datasets.Dataset:
        if split == "validation" and self.validation is None and self.validation_fraction == 0:
            raise ValueError(
                f"{self.train}: no validation data: set data.task.validation to a validation file, or "
                "data.task.validation_fraction (e.g. 0.1) to hold out part of the training file"
            )
        source = self.validation if split == "validation" and self.validation else self.train
        # A file read for both splits reports its skips once, with the training split.
        rows = self._read(source, report=split == "train" or source == self.validation)
        if self.validation is None and self.validation_fraction > 0:
            held_out = math.ceil(self.validation_fraction * len(rows))
            if held_out >= len(rows):
                raise ValueError(
                    f"{source}: data.task.validation_fraction={self.validation_fraction} of its "
                    f"{len(rows)} records leaves none for training; lower it or give data.task.validation"
                )
            parts = rows.train_test_split(test_size=self.validation_fraction, seed=self.seed)
            rows = parts["train" if split == "train" else "test"]
        if self.max_rows is not None:
            rows = rows.select(range(min(self.max_rows, len(rows))))
        return rows

    def _read(self, source: str, *, report: bool) -> datasets.Dataset:
        """Every record of `source` converted to a row; a bad one stops the run unless skipped."""
        rows, skipped = [], []
        for record in read_records(source):
            if not isinstance(record, Problem):
                try:
                    rows.append(self.convert(record.fields, source, record.where))
                    continue
                except RowError as error:
                    if not self.skip_bad_rows:
                        raise
                    record = Problem(error.where, error.what)
            if not self.skip_bad_rows:
                raise DataFileError(f"{source}: {record.where}: {record.what}")
            skipped.append(record)
        if not rows:
            first = skipped[0]
            raise DataFileError(
                f"{source}: no good record: all {len(skipped)} are bad (first, {first.where}: {first.what})"
            )
        if skipped and report:
            listed = "; ".join(f"{problem.where}: {problem.what}" for problem in skipped[:_LISTED_SKIPS])
            more = f"; and {len(skipped) - _LISTED_SKIPS} more" if len(skipped) > _LISTED_SKIPS else ""
            log.warning(
                "data: %s: skipped %d of %d records (skip_bad_rows=true): %s%s",
                source, len(skipped), len(skipped) + len(rows), listed, more,
            )  # fmt: skip
        return datasets.Dataset.from_list(rows)

    def convert(self, record: dict[str, Any], source: str, where: str) -> dict[str, Any]:
        """Turns one record into a task row; raises `RowError` naming the file, record and field."""

        def fail(name: str, problem: str) -> RowError:
            return RowError(source, where, f"field {name!r} {problem}")

        if self.messages_field is not None:
            messages = field(record, self.messages_field)
            if not _is_chat(messages):
                raise fail(
                    self.messages_field, "must be a list of {role, content} messages ending with a user turn"
                )
            messages = [{"role": m["role"], "content": m["content"]} for m in messages]
        else:
            question = field(record, self.question_field)
            if not isinstance(question, str) or not question.strip():
                raise fail(self.question_field, f"must be a non-empty question string, got {question!r:.80}")
            messages = [{"role": "user", "content": self.template.format(question=question.strip())}]
        if self.system_prompt and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": self.system_prompt}, *messages]
        gold = self._gold(field(record, self.gold_field), fail)
        data_source = self.data_source
        if self.data_source_field is not None:
            data_source = field(record, self.data_source_field)
            if not isinstance(data_source, str) or not data_source:
                raise fail(self.data_source_field, "must be a non-empty string naming the data source")
        return {"messages": messages, "gold": gold, "data_source": data_source}

    def _gold(self, value: Any, fail: Any) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise fail(self.gold_field, f"must be a non-empty gold answer, got {value!r:.80}")
        if self.gold_format == "gsm8k":
            if "####" not in value:
                raise fail(self.gold_field, "must end with '#### <answer>' (GSM8K format)")
            value = value.rsplit("####", 1)[1]
        elif self.gold_format == "boxed":
            try:
                boxed = last_boxed(value)
            except ValueError:
                boxed = None
            if boxed is None:
                raise fail(self.gold_field, "must contain a \\boxed{} answer (MATH format)")
            value = boxed
        value = value.strip()
        if not value:
            raise fail(self.gold_field, "has an empty answer")
        return value


def _is_chat(messages: Any) -> bool:
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role") for m in messages)
        and messages[-1]["role"] == "user"
        and bool(messages[-1]["content"].strip())
    )
