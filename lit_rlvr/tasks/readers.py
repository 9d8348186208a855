"""Readers for the math dataset formats researchers use: presets of `FileTask`'s field mapping.

| reader | fields | gold |
|---|---|---|
| `GSM8KTask` | `question`, `answer` | after `####` in `answer` |
| `MATHTask` | `problem`, `solution` | last `\\boxed{}` of `solution` (Hendrycks MATH) |
| `MATH500Task` | `problem`, `answer` | `answer` (HuggingFaceH4/MATH-500) |
| `DeepScaleRTask` | `problem`, `answer` | `answer` (agentica DeepScaleR-Preview) |
| `DAPOMathTask` | `prompt` (a chat), `reward_model.ground_truth` | ground truth (DAPO-Math-17k, verl) |

Each fixes `FileTask`'s field mapping to its format and takes the rest of `FileTask`'s knobs
(`train`, a local file or a hub id, `validation`, `template`, `max_rows`, ...); the generic reader
is `FileTask` itself.
"""

from __future__ import annotations

from typing import Any

from lit_rlvr.tasks.files import DEFAULT_TEMPLATE, FileTask


class GSM8KTask(FileTask):
    """Grade-school word problems in the GSM8K format (`question`, `answer` ending `#### <gold>`),
    e.g. `train: openai/gsm8k:main@train`, `validation: openai/gsm8k:main@test`."""

    def __init__(self, **knobs: Any) -> None:
        super().__init__(
            question_field="question", gold_field="answer", gold_format="gsm8k", data_source="gsm8k", **knobs
        )


class MATHTask(FileTask):
    """Competition problems in the Hendrycks MATH format (`problem`, worked `solution` with a box)."""

    def __init__(self, **knobs: Any) -> None:
        super().__init__(
            question_field="problem", gold_field="solution", gold_format="boxed", data_source="math", **knobs
        )


class MATH500Task(FileTask):
    """MATH-500 (`problem`, short `answer`), the usual held-out MATH evaluation set, e.g.
    `train: HuggingFaceH4/MATH-500@test`."""

    def __init__(self, **knobs: Any) -> None:
        super().__init__(
            question_field="problem", gold_field="answer", gold_format="plain", data_source="math500", **knobs
        )


class DeepScaleRTask(FileTask):
    """Prompt plus ground truth, as in DeepScaleR-Preview (`problem`, `answer`), e.g.
    `train: agentica-org/DeepScaleR-Preview-Dataset`."""

    def __init__(self, **knobs: Any) -> None:
        super().__init__(
            question_field="problem",
            gold_field="answer",
            gold_format="plain",
            data_source="deepscaler",
            **knobs,
        )


class DAPOMathTask(FileTask):
    """DAPO-Math-17k in verl's format: a ready chat in `prompt`, gold in `reward_model.ground_truth`,
    e.g. `train: BytedTsinghua-SIA/DAPO-Math-17k`. The prompt is used as written (it carries its own
    answer instruction), so `template` does not apply."""

    def __init__(self, **knobs: Any) -> None:
        super().__init__(
            messages_field="prompt",
            question_field="prompt",
            template=DEFAULT_TEMPLATE,
            gold_field="reward_model.ground_truth",
            gold_format="plain",
            data_source="dapo_math",
            **knobs,
        )
