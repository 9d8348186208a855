"""A task: where prompts come from, how they are phrased, and what the gold answer is.

A task yields rows as a `datasets.Dataset` with the columns

- `messages`: the chat, a list of `{"role": ..., "content": ...}` ending with the user's turn;
- `gold`: the reference answer as a string;
- `data_source`: a short name that rewards and metrics split on.

Tokenization and chat templates are the data module's job, so a task never sees a tokenizer.
"""

from __future__ import annotations

from typing import Literal

import datasets

Split = Literal["train", "validation"]
COLUMNS = ("messages", "gold", "data_source")


class Task:
    """Base class of every task; subclasses are selected in YAML by class path."""

    def rows(self, split: Split) -> datasets.Dataset:
        """Returns the rows of `split` with the columns in `COLUMNS`."""
        raise NotImplementedError


def chat(question: str, system: str | None = None) -> list[dict[str, str]]:
    """Builds the messages of a single-turn prompt."""
    messages = [{"role": "system", "content": system}] if system else []
    return [*messages, {"role": "user", "content": question}]
