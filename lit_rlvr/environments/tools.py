"""The tool environment: the policy calls tools between its turns until it answers without a call.

Every call of a turn runs in killable worker processes (`lit_rlvr.workers.WorkerPool`) with a
time and memory limit; whatever goes wrong (a malformed call, a tool that raises, hangs or
allocates without limit) becomes the answer the model reads, `error: ...`, and a count, and
training goes on. Counts per episode (`env/...`): `tool_calls`, `tool_errors/<kind>` with kinds
`malformed`, `unknown_tool`, `bad_arguments` (the call) and `error`, `timeout`, `crash` (the tool).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from lit_rlvr.environments.base import Environment, Turn
from lit_rlvr.environments.tool_calls import Call, call_tool, parse_calls
from lit_rlvr.rewards.terms import import_function
from lit_rlvr.workers import WorkerPool

DEFAULT_TOOLS = ("lit_rlvr.environments.calculator.calculator",)


class ToolEnvironment(Environment):
    """Answers each tool call of a turn; a turn without one ends the episode.

    Args:
        tools: import paths of the tools, typed functions with a Google-style docstring
            (`lit_rlvr.environments.calculator.calculator`, `lit_rlvr.environments.sandbox.python`).
        max_turns: the policy's turns per episode.
        max_tokens: trajectory tokens per episode.
        max_calls_per_turn: calls answered per turn; the rest get an error.
        workers: tool worker processes.
        timeout_s: wall-clock limit of one call.
        memory_limit_mb: address-space limit of a tool worker.
    """

    counted = ("tool_calls",)

    def __init__(
        self,
        *,
        tools: Sequence[str] = DEFAULT_TOOLS,
        max_turns: int = 4,
        max_tokens: int = 1024,
        max_calls_per_turn: int = 4,
        workers: int = 2,
        timeout_s: float = 10.0,
        memory_limit_mb: int = 2048,
    ) -> None:
        super().__init__(max_turns=max_turns, max_tokens=max_tokens)
        if not tools:
            raise ValueError("rollout.environment.tools: at least one tool is needed")
        if max_calls_per_turn < 1:
            raise ValueError(f"rollout.environment.max_calls_per_turn must be >= 1, got {max_calls_per_turn}")
        self.tools = [
            import_function(path, f"rollout.environment.tools[{i}]") for i, path in enumerate(tools)
        ]
        self.by_name = {tool.__name__: tool for tool in self.tools}
        if len(self.by_name) != len(self.tools):
            raise ValueError(f"rollout.environment.tools: two tools share a name: {list(tools)}")
        self.max_calls_per_turn = max_calls_per_turn
        self.pool = WorkerPool(
            workers=workers, timeout_s=timeout_s, memory_limit_mb=memory_limit_mb, text=True
        )

    def step(self, states: list[Any], texts: list[str]) -> list[Turn]:
        """Runs every call of every turn in one pass over the worker pool."""
        parsed = [parse_calls(text, self.by_name) for text in texts]
        calls = [(i, call) for i, turn in enumerate(parsed) for call in turn[: self.max_calls_per_turn]]
        to_run = [(self.by_name[call.name], call.arguments) for _, call in calls if isinstance(call, Call)]
        results = iter(self.pool.map(call_tool, to_run))
        answers: list[list[str]] = [[] for _ in texts]
        counts: list[Counter[str]] = [Counter() for _ in texts]
        for i, call in calls:
            kind = None
            if isinstance(call, Call):
                outcome = next(results)
                answer = outcome.value if outcome.status == "ok" else f"error: {outcome.detail}"
                kind = None if outcome.status == "ok" else outcome.status
            else:
                answer, kind = f"error: {call.message}", call.kind
            answers[i].append(answer)
            counts[i]["tool_calls"] += 1
            if kind:
                counts[i][f"tool_errors/{kind}"] += 1
        for i, turn in enumerate(parsed):
            if len(turn) > self.max_calls_per_turn:
                answers[i].append(
                    f"error: at most {self.max_calls_per_turn} calls per turn; the rest were not run"
                )
        return [
            Turn("\n".join(answer), done=False, counts=count) if answer else Turn(None, done=True)
            for answer, count in zip(answers, counts, strict=True)
        ]

    def close(self) -> None:
        self.pool.close()
