"""Arithmetic word problems generated deterministically from a seed: a built-in task, no download."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Literal

import datasets

from lit_rlvr.tasks.base import Split, Task, chat, distinct_problems

Operation = Literal["+", "-", "*"]
Phrasing = Literal["word", "plain"]
INSTRUCTION = "Put the final answer in \\boxed{}."
NAMES = ("Tom", "Anna", "Lena", "Omar", "Mia", "Ravi", "Sofia", "Ken")
ITEMS = ("apples", "pencils", "stickers", "marbles", "books", "coins", "cards", "shells")
TEMPLATES: dict[Operation, str] = {
    "+": "{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?",
    "-": "{name} has {a} {item} and gives away {b}. How many {item} does {name} have left?",
    "*": "{name} buys {a} bags with {b} {item} in each bag. How many {item} does {name} buy?",
}

PLAIN = "What is {a} {symbol} {b}?"
SYMBOLS: dict[Operation, str] = {"+": "+", "-": "-", "*": "\u00d7"}


def _solve(a: int, op: Operation, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


class ArithmeticTask(Task):
    """One-step arithmetic word problems whose gold answer is an integer.

    Args:
        operations: which operations appear; subtraction never goes below zero.
        max_operand: operands are drawn from 0..max_operand (the difficulty knob).
        train_size: training prompts.
        val_size: distinct validation problems, at most `distinct_problems - 1`; no (a, op, b) problem of
            validation appears in training.
        phrasing: `word` problems ("Tom has 7 apples and gets 5 more...") or `plain` ones
            ("What is 7 + 5?"), which a small model answers in fewer tokens.
        seed: the generator seed; the same seed gives the same splits.
        system_prompt: an optional system message (None keeps the chat template's default).
    """

    def __init__(
        self,
        *,
        operations: Sequence[Operation] = ("+",),
        max_operand: int = 20,
        train_size: int = 2000,
        val_size: int = 64,
        phrasing: Phrasing = "word",
        seed: int = 0,
        system_prompt: str | None = None,
    ) -> None:
        if not operations or any(op not in TEMPLATES for op in operations):
            raise ValueError(f"ArithmeticTask: operations must be a non-empty subset of {list(TEMPLATES)}")
        if max_operand < 1:
            raise ValueError(f"ArithmeticTask: max_operand must be >= 1, got {max_operand}")
        self.operations = tuple(operations)
        self.max_operand = max_operand
        if val_size >= self.distinct_problems:
            raise ValueError(
                f"ArithmeticTask: val_size {val_size} leaves no training problems: operations "
                f"{list(self.operations)} with operands 0..{max_operand} give {self.distinct_problems} "
                "distinct problems"
            )
        self.train_size = train_size
        self.val_size = val_size
        self.phrasing = phrasing
        self.seed = seed
        self.system_prompt = system_prompt

    @property
    def distinct_problems(self) -> int:
        """The distinct (a, op, b) problems the knobs allow: `(m + 1)^2` each for + and x, and
        `(m + 1)(m + 2) / 2` for - (a >= b), with m = `max_operand`; 0..20 with all three: 1113."""
        m = self.max_operand
        return sum((m + 1) * (m + 2) // 2 if op == "-" else (m + 1) ** 2 for op in set(self.operations))

    def _problem(self, rng: random.Random) -> tuple[int, Operation, int]:
        op = rng.choice(self.operations)
        a, b = rng.randint(0, self.max_operand), rng.randint(0, self.max_operand)
        return (max(a, b), op, min(a, b)) if op == "-" else (a, op, b)

    def rows(self, split: Split) -> datasets.Dataset:
        rng = random.Random(self.seed)
        held_out = set(distinct_problems(lambda: self._problem(rng), self.val_size, task="ArithmeticTask"))
        if split == "validation":
            problems = sorted(held_out)
            random.Random(self.seed + 1).shuffle(problems)
        else:
            problems = []
            while len(problems) < self.train_size:
                problem = self._problem(rng)
                if problem not in held_out:
                    problems.append(problem)
        records = []
        for a, op, b in problems:
            if self.phrasing == "plain":
                question = PLAIN.format(a=a, symbol=SYMBOLS[op], b=b)
            else:
                question = TEMPLATES[op].format(name=rng.choice(NAMES), item=rng.choice(ITEMS), a=a, b=b)
            records.append(
                {
                    "messages": chat(f"{question} {INSTRUCTION}", self.system_prompt),
                    "gold": str(_solve(a, op, b)),
                    "data_source": "arithmetic",
                }
            )
        return datasets.Dataset.from_list(records)
