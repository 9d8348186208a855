"""Multi-step word problems: a quantity changes over several steps; the gold is computed exactly."""

from __future__ import annotations

import random
from collections.abc import Callable

import datasets

from lit_rlvr.tasks.base import Split, Task, chat, distinct_problems

INSTRUCTION = "Put the final answer in \\boxed{}."
NAMES = ("Ava", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hiro")
ITEMS = ("marbles", "stamps", "cookies", "stickers", "seashells", "pencils")


def _step(rng: random.Random, amount: int, max_number: int) -> tuple[str, int]:
    """One change to `amount`: its sentence and the new amount (always a non-negative integer)."""
    n = rng.randint(2, max_number)
    steps: list[Callable[[], tuple[str, int]]] = [
        lambda: (f"Then {{name}} buys {n} more {{item}}.", amount + n),
        lambda: (
            f"Then {{name}} receives {n} packs of {{item}} with {n + 1} in each pack.",
            amount + n * (n + 1),
        ),
    ]
    if amount >= n:
        steps.append(lambda: (f"Then {{name}} gives {n} {{item}} to a friend.", amount - n))
    if amount > 0:
        k = rng.randint(2, 3)
        steps.append(lambda: (f"Then the number of {{item}} {{name}} has is multiplied by {k}.", amount * k))
    divisors = [d for d in range(2, 6) if amount and amount % d == 0]
    if divisors:
        d = rng.choice(divisors)
        steps.append(
            lambda: (
                f"Then {{name}} shares the {{item}} equally among {d} boxes and keeps one box.",
                amount // d,
            )
        )
    return rng.choice(steps)()


class WordProblemTask(Task):
    """Word problems with several arithmetic steps, generated deterministically from a seed.

    Args:
        steps: changes applied to the starting amount (the main difficulty knob).
        max_number: the largest number in any one step, and in the starting amount.
        train_size: training problems.
        val_size: distinct validation problems, disjoint from training (the default knobs allow
            millions: 8 names x 6 items x 12 starts x several changes per step).
        seed: generator seed; the same seed gives the same splits.
        system_prompt: an optional system message.
    """

    def __init__(
        self,
        *,
        steps: int = 3,
        max_number: int = 12,
        train_size: int = 2000,
        val_size: int = 64,
        seed: int = 0,
        system_prompt: str | None = None,
    ) -> None:
        if steps < 1:
            raise ValueError(f"WordProblemTask: steps must be >= 1, got {steps}")
        if max_number < 2:
            raise ValueError(f"WordProblemTask: max_number must be >= 2, got {max_number}")
        self.steps, self.max_number = steps, max_number
        self.train_size, self.val_size = train_size, val_size
        self.seed, self.system_prompt = seed, system_prompt

    def _problem(self, rng: random.Random) -> tuple[str, int]:
        name, item = rng.choice(NAMES), rng.choice(ITEMS)
        amount = rng.randint(1, self.max_number)
        sentences = [f"{name} has {amount} {item}."]
        for _ in range(self.steps):
            sentence, amount = _step(rng, amount, self.max_number)
            sentences.append(sentence.format(name=name, item=item))
        sentences.append(f"How many {item} does {name} have now?")
        return " ".join(sentences), amount

    def rows(self, split: Split) -> datasets.Dataset:
        rng = random.Random(self.seed)
        held_out = distinct_problems(lambda: self._problem(rng), self.val_size, task="WordProblemTask")
        if split == "validation":
            problems = held_out
        else:
            seen, problems = {question for question, _ in held_out}, []
            while len(problems) < self.train_size:
                question, answer = self._problem(rng)
                if question not in seen:
                    problems.append((question, answer))
        records = [
            {
                "messages": chat(f"{question} {INSTRUCTION}", self.system_prompt),
                "gold": str(answer),
                "data_source": "word_problems",
            }
            for question, answer in problems
        ]
        return datasets.Dataset.from_list(records)
