"""Countdown: reach a target number with given numbers, each used at most once (+, -, *, /)."""

from __future__ import annotations

import json
import random
from fractions import Fraction

import datasets

from lit_rlvr.tasks.base import Split, Task, chat, distinct_problems

PROMPT = (
    "Using the numbers {numbers}, write an arithmetic expression that equals {target}. You may use +, -, *, /"
    " and parentheses, and each number at most once. Put only the expression in \\boxed{{}}, for example"
    " \\boxed{{(1 + 2) * 3}}."
)


def _combine(rng: random.Random, values: list[Fraction]) -> Fraction:
    """Folds `values` with random operations, keeping every intermediate a positive integer."""
    total = values[0]
    for value in values[1:]:
        options = [total + value, total * value]
        if total > value:
            options.append(total - value)
        if value and total % value == 0:
            options.append(total / value)
        total = rng.choice(options)
    return total


class CountdownTask(Task):
    """Countdown puzzles generated from a seed; the gold is `{"target": t, "numbers": [...]}`.

    Every puzzle is solvable: its target is built from a random subset of its numbers. Score it with
    the reward `lit_rlvr.rewards.countdown.reach_target`.

    Args:
        numbers_count: how many numbers each puzzle gives (the main difficulty knob).
        max_number: numbers are drawn from 1..max_number.
        min_used: the target uses at least this many of the numbers (at most `numbers_count`).
        max_target: targets are kept in 1..max_target.
        train_size: training puzzles.
        val_size: distinct validation puzzles, disjoint from training (the default knobs allow
            hundreds of thousands: 25^4 number sets, each with many reachable targets).
        seed: generator seed; the same seed gives the same splits.
        system_prompt: an optional system message.
    """

    def __init__(
        self,
        *,
        numbers_count: int = 4,
        max_number: int = 25,
        min_used: int = 2,
        max_target: int = 200,
        train_size: int = 2000,
        val_size: int = 64,
        seed: int = 0,
        system_prompt: str | None = None,
    ) -> None:
        if numbers_count < 2:
            raise ValueError(f"CountdownTask: numbers_count must be >= 2, got {numbers_count}")
        if not 2 <= min_used <= numbers_count:
            raise ValueError(
                f"CountdownTask: min_used must be in 2..numbers_count ({numbers_count}), got {min_used}"
            )
        if max_number < 2 or max_target < 1:
            raise ValueError("CountdownTask: max_number must be >= 2 and max_target >= 1")
        self.numbers_count, self.max_number, self.min_used = numbers_count, max_number, min_used
        self.max_target, self.train_size, self.val_size = max_target, train_size, val_size
        self.seed, self.system_prompt = seed, system_prompt

    def _puzzle(self, rng: random.Random) -> tuple[int, tuple[int, ...]]:
        while True:
            numbers = [rng.randint(1, self.max_number) for _ in range(self.numbers_count)]
            used = rng.sample(numbers, rng.randint(self.min_used, self.numbers_count))
            target = _combine(rng, [Fraction(n) for n in used])
            if target.denominator == 1 and 1 <= target <= self.max_target:
                return int(target), tuple(numbers)

    def rows(self, split: Split) -> datasets.Dataset:
        rng = random.Random(self.seed)
        held_out = distinct_problems(lambda: self._puzzle(rng), self.val_size, task="CountdownTask")
        if split == "validation":
            puzzles = held_out
        else:
            seen, puzzles = set(held_out), []
            while len(puzzles) < self.train_size:
                puzzle = self._puzzle(rng)
                if puzzle not in seen:
                    puzzles.append(puzzle)
        records = [
            {
                "messages": chat(PROMPT.format(numbers=list(numbers), target=target), self.system_prompt),
                "gold": json.dumps({"target": target, "numbers": list(numbers)}),
                "data_source": "countdown",
            }
            for target, numbers in puzzles
        ]
        return datasets.Dataset.from_list(records)
