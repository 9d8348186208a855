"""Readers for the math dataset formats researchers use: presets of `FileTask`'s field mapping.

| reader | fields | gold |
|---|---|---|
| `GSM8KTask` | `question`, `answer` | after `####` in `answer` |
| `MATHTask` | `problem`, `solution` | last `\\boxed{}` of `solution` (Hendrycks MATH) |
| `MATH500Task` | `problem`, `answer` | `answer` (HuggingFaceH4/MATH-500) |
| `DeepScaleRTask` | `problem`, `answer` | `answer` (agentica DeepScaleR-Preview) |
| `DAPOMathTask` | `prompt` (a chat), `reward_model.ground_truth` | ground truth (DAPO-Math-17k, verl) |

Each takes a local file or a hub id; the generic reader is `FileTask` itself.
"""

from __future__ import annotations

from lit_rlvr.tasks.files import DEFAULT_TEMPLATE, FileTask


class GSM8KTask(FileTask):
    """Grade-school word problems in the GSM8K format (`question`, `answer` ending `#### <gold>`).

    Args:
        train: training file or hub id, e.g. `openai/gsm8k:main@train`.
        validation: validation file or hub id, e.g. `openai/gsm8k:main@test`; None holds out a fraction.
        validation_fraction: share of `train` held out when `validation` is None.
        seed: seed of the held-out split.
        template: the user prompt; `{question}` is replaced by the question.
        system_prompt: an optional system message.
        max_rows: keep only the first rows of each split (None for all).
        skip_bad_rows: skip (and log) records that cannot be read or converted instead of stopping.
    """

    def __init__(
        self,
        *,
        train: str,
        validation: str | None = None,
        validation_fraction: float = 0.0,
        seed: int = 0,
        template: str = DEFAULT_TEMPLATE,
        system_prompt: str | None = None,
        max_rows: int | None = None,
        skip_bad_rows: bool = False,
    ) -> None:
        super().__init__(
            train=train, validation=validation, validation_fraction=validation_fraction, seed=seed,
            question_field="question", gold_field="answer", gold_format="gsm8k", template=template,
            system_prompt=system_prompt, data_source="gsm8k", max_rows=max_rows,
            skip_bad_rows=skip_bad_rows,
        )  # fmt: skip


class MATHTask(FileTask):
    """Competition problems in the Hendrycks MATH format (`problem`, worked `solution` with a box).

    Args:
        train: training file or hub id.
        validation: validation file or hub id; None holds out a fraction.
        validation_fraction: share of `train` held out when `validation` is None.
        seed: seed of the held-out split.
        template: the user prompt; `{question}` is replaced by the problem.
        system_prompt: an optional system message.
        max_rows: keep only the first rows of each split (None for all).
        skip_bad_rows: skip (and log) records that cannot be read or converted instead of stopping.
    """

    def __init__(
        self,
        *,
        train: str,
        validation: str | None = None,
        validation_fraction: float = 0.0,
        seed: int = 0,
        template: str = DEFAULT_TEMPLATE,
        system_prompt: str | None = None,
        max_rows: int | None = None,
        skip_bad_rows: bool = False,
    ) -> None:
        super().__init__(
            train=train, validation=validation, validation_fraction=validation_fraction, seed=seed,
            question_field="problem", gold_field="solution", gold_format="boxed", template=template,
            system_prompt=system_prompt, data_source="math", max_rows=max_rows,
            skip_bad_rows=skip_bad_rows,
        )  # fmt: skip


class MATH500Task(FileTask):
    """MATH-500 (`problem`, short `answer`), the usual held-out MATH evaluation set.

    Args:
        train: training file or hub id, e.g. `HuggingFaceH4/MATH-500@test`.
        validation: validation file or hub id; None holds out a fraction.
        validation_fraction: share of `train` held out when `validation` is None.
        seed: seed of the held-out split.
        template: the user prompt; `{question}` is replaced by the problem.
        system_prompt: an optional system message.
        max_rows: keep only the first rows of each split (None for all).
        skip_bad_rows: skip (and log) records that cannot be read or converted instead of stopping.
    """

    def __init__(
        self,
        *,
        train: str,
        validation: str | None = None,
        validation_fraction: float = 0.0,
        seed: int = 0,
        template: str = DEFAULT_TEMPLATE,
        system_prompt: str | None = None,
        max_rows: int | None = None,
        skip_bad_rows: bool = False,
    ) -> None:
        super().__init__(
            train=train, validation=validation, validation_fraction=validation_fraction, seed=seed,
            question_field="problem", gold_field="answer", template=template,
            system_prompt=system_prompt, data_source="math500", max_rows=max_rows,
            skip_bad_rows=skip_bad_rows,
        )  # fmt: skip


class DeepScaleRTask(FileTask):
    """Prompt plus ground truth, as in DeepScaleR-Preview (`problem`, `answer`).

    Args:
        train: training file or hub id, e.g. `agentica-org/DeepScaleR-Preview-Dataset`.
        validation: validation file or hub id; None holds out a fraction.
        validation_fraction: share of `train` held out when `validation` is None.
        seed: seed of the held-out split.
        template: the user prompt; `{question}` is replaced by the problem.
        system_prompt: an optional system message.
        max_rows: keep only the first rows of each split (None for all).
        skip_bad_rows: skip (and log) records that cannot be read or converted instead of stopping.
    """

    def __init__(
        self,
        *,
        train: str,
        validation: str | None = None,
        validation_fraction: float = 0.0,
        seed: int = 0,
        template: str = DEFAULT_TEMPLATE,
        system_prompt: str | None = None,
        max_rows: int | None = None,
        skip_bad_rows: bool = False,
    ) -> None:
        super().__init__(
            train=train, validation=validation, validation_fraction=validation_fraction, seed=seed,
            question_field="problem", gold_field="answer", template=template,
            system_prompt=system_prompt, data_source="deepscaler", max_rows=max_rows,
            skip_bad_rows=skip_bad_rows,
        )  # fmt: skip


class DAPOMathTask(FileTask):
    """DAPO-Math-17k in verl's format: a ready chat in `prompt`, gold in `reward_model.ground_truth`.

    The prompt is used as written (it carries its own answer instruction), so there is no template.

    Args:
        train: training file or hub id, e.g. `BytedTsinghua-SIA/DAPO-Math-17k`.
        validation: validation file or hub id; None holds out a fraction.
        validation_fraction: share of `train` held out when `validation` is None.
        seed: seed of the held-out split.
        system_prompt: an optional system message.
        max_rows: keep only the first rows of each split (None for all).
        skip_bad_rows: skip (and log) records that cannot be read or converted instead of stopping.
    """

    def __init__(
        self,
        *,
        train: str,
        validation: str | None = None,
        validation_fraction: float = 0.0,
        seed: int = 0,
        system_prompt: str | None = None,
        max_rows: int | None = None,
        skip_bad_rows: bool = False,
    ) -> None:
        super().__init__(
            train=train, validation=validation, validation_fraction=validation_fraction, seed=seed,
            messages_field="prompt", gold_field="reward_model.ground_truth", system_prompt=system_prompt,
            data_source="dapo_math", max_rows=max_rows,
            skip_bad_rows=skip_bad_rows,
        )  # fmt: skip
