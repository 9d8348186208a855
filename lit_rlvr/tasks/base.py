"""A task: where prompts come from, how they are phrased, and what the gold answer is.

A task yields rows as a `datasets.Dataset` with the columns

- `messages`: the chat, a list of `{"role": ..., "content": ...}` ending with the user's turn;
- `gold`: the reference answer as a string;
- `data_source`: a short name that rewards and metrics split on.

Tokenization and chat templates are the data module's job, so a task never sees a tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Literal, TypeVar

import datasets

Split = Literal["train", "validation"]
Problem = TypeVar("Problem", bound=Hashable)
#: Draws allowed per distinct problem wanted before a task says its knobs allow too few.
DRAWS_PER_PROBLEM = 50
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


def distinct_problems(draw: Callable[[], Problem], count: int, *, task: str) -> list[Problem]:
    """`count` distinct problems from `draw`, in the order first drawn.

    Raises:
        ValueError: the knobs allow fewer: `DRAWS_PER_PROBLEM * count` draws found too few.
    """
    found: dict[Problem, None] = {}
    for _ in range(DRAWS_PER_PROBLEM * count):
        if len(found) == count:
            break
        found.setdefault(draw())
    if len(found) < count:
        raise ValueError(
            f"{task}: val_size {count} asks for more distinct validation problems than its knobs give "
            f"({len(found)} distinct in {DRAWS_PER_PROBLEM * count} draws); lower val_size or widen the knobs"
        )
    return list(found)
