"""Tasks read from files (JSONL, JSON, Parquet, CSV) or the Hugging Face Hub through `datasets`.

`FileTask` maps a dataset's fields onto the task columns; the readers beside it (`GSM8KTask`,
`MATHTask`, ...) are presets of that mapping for the formats researchers use. Every row is
checked: an empty prompt or a missing gold answer fails with the file, row, field and what was
expected, instead of training on a row that can never be rewarded.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

import datasets

from lit_rlvr.tasks.base import COLUMNS, Split, Task
from lit_rlvr.verifiers.extract import last_boxed

GoldFormat = Literal["plain", "gsm8k", "boxed"]
DEFAULT_TEMPLATE = "{question}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}."
_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+(?::(?P<config>[\w.-]+))?(?:@(?P<split>[\w.\[\]:%-]+))?$")


class RowError(ValueError):
    """A malformed row, reported with where it is and what was expected."""


def load_records(source: str) -> datasets.Dataset:
    """Loads a local file by its extension, or a hub id `owner/name[:config][@split]`."""
    extension = os.path.splitext(source)[1].lower()
    if os.path.exists(source):
        if extension not in _BUILDERS:
            raise ValueError(
                f"{source}: unsupported file type {extension!r}; expected one of {sorted(_BUILDERS)}"
            )
        return datasets.load_dataset(_BUILDERS[extension], data_files=source, split="train")
    match = _HUB_ID.match(source)
    if extension in _BUILDERS or match is None:
        raise FileNotFoundError(
            f"{source}: no such file (and not a hub id of the form owner/name[:config][@split])"
        )
    name = source.split(":")[0].split("@")[0]
    try:
        return datasets.load_dataset(name, match.group("config"), split=match.group("split") or "train")
    except Exception as error:  # noqa: BLE001 - datasets raises many types for network trouble
        offline = datasets.config.HF_HUB_OFFLINE or "offline" in str(error).lower()
        hint = "the machine is offline; " if offline else ""
        raise RuntimeError(
            f"{source}: cannot load this hub dataset ({hint}{type(error).__name__}: {error}). "
            "Download it where there is network access and pass the local file instead."
        ) from error


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
        validation: validation data in the same forms; None holds out `validation_fraction` of `train`.
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
        self.max_rows = max_rows

    def rows(self, split: Split) -> datasets.Dataset:
        source = self.validation if split == "validation" and self.validation else self.train
        records = load_records(source)
        if self.validation is None:
            if self.validation_fraction == 0:
                records = records if split == "train" else records.select([])
            else:
                parts = records.train_test_split(test_size=self.validation_fraction, seed=self.seed)
                records = parts["train" if split == "train" else "test"]
        if self.max_rows is not None:
            records = records.select(range(min(self.max_rows, len(records))))
        rows = [self.convert(record, source, index + 1) for index, record in enumerate(records)]
        if not rows:
            return datasets.Dataset.from_dict({column: [] for column in COLUMNS})
        return datasets.Dataset.from_list(rows)

    def convert(self, record: dict[str, Any], source: str, row: int) -> dict[str, Any]:
        """Turns one record into a task row; raises `RowError` naming the file, row and field."""

        def fail(name: str, problem: str) -> RowError:
            return RowError(f"{source}: row {row}: field {name!r} {problem}")

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
