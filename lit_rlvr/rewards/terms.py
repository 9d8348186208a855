"""Rewards as named, weighted terms, each a function named by import path and run in the worker pool.

A reward function has the signature `fn(completion: str, gold: str, row: dict) -> float`. The
total reward is the weighted sum of the terms; each term is logged on its own, and every call
that raised, hung or killed its worker scores 0 and is counted under `reward/<name>/<status>`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from lit_rlvr.workers import WorkerPool


@dataclass
class RewardTerm:
    """One reward term.

    Args:
        name: the metric name, `reward/<name>/...`.
        fn: import path of `fn(completion, gold, row) -> float`, e.g. `lit_rlvr.rewards.math.correct`.
        weight: its weight in the total reward.
    """

    name: str
    fn: str
    weight: float = 1.0


class Scores(NamedTuple):
    """Rewards of N completions."""

    rewards: Tensor  # [N] weighted sum of the terms
    terms: dict[str, Tensor]  # name -> [N] unweighted values
    correct: Tensor  # [N] bool: the first term (the correctness check by convention) scored 1
    failures: dict[str, int]  # "<term>/<status>" -> count of calls that did not end "ok"


def import_function(path: str, option: str) -> Callable[..., Any]:
    """Imports `package.module.function`, or fails with a message naming the config option."""
    module_name, _, attribute = path.rpartition(".")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"{option}: cannot import function {path!r} ({error})") from error
    if not callable(function):
        raise ValueError(f"{option}: {path!r} is not callable")
    return function


class RewardScorer:
    """Scores completions with weighted reward terms in killable worker processes.

    Args:
        terms: the reward terms; the first is the correctness check that accuracy is measured by.
        workers: worker processes.
        timeout_s: per-call limit; a call past it scores 0.
    """

    def __init__(self, terms: Sequence[RewardTerm], *, workers: int = 2, timeout_s: float = 5.0) -> None:
        if not terms:
            raise ValueError("rewards: at least one reward term is needed")
        names = [term.name for term in terms]
        if len(set(names)) != len(names):
            raise ValueError(f"rewards: term names must be unique, got {names}")
        self.terms = list(terms)
        self.functions = [import_function(t.fn, f"rewards[{i}].fn") for i, t in enumerate(self.terms)]
        self.pool = WorkerPool(workers=workers, timeout_s=timeout_s)

    def __call__(self, completions: Sequence[str], rows: Sequence[dict[str, Any]]) -> Scores:
        """Scores completion i against `rows[i]["gold"]`."""
        items = [
            (completion, str(row["gold"]), row) for completion, row in zip(completions, rows, strict=True)
        ]
        terms, failures = {}, {}
        for term, function in zip(self.terms, self.functions, strict=True):
            outcomes = self.pool.map(function, items)
            terms[term.name] = torch.tensor([o.value for o in outcomes], dtype=torch.float32)
            for outcome in outcomes:
                if outcome.status != "ok":
                    key = f"{term.name}/{outcome.status}"
                    failures[key] = failures.get(key, 0) + 1
        rewards = sum(term.weight * terms[term.name] for term in self.terms)
        return Scores(rewards, terms, terms[self.terms[0].name] >= 1.0, failures)

    def close(self) -> None:
        """Stops the worker processes."""
        self.pool.close()
