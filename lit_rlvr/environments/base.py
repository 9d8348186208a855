"""The environment seam: what answers the policy between its turns in a multi-turn rollout.

An episode starts from a dataset row; after each of the policy's turns the environment returns an
observation (the content of the message the policy reads next, e.g. a tool's answer), whether the
episode is done, and optional per-turn reward terms. The final verifiable reward stays the reward
terms' job (`rollout.rewards`). The rollout keeps the trajectory as token ids
(`lit_rlvr.episodes`): the environment sees text, the policy is trained on its own tokens only.

Chosen by class path under `rollout.environment`; without one, a rollout is one turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple


class Turn(NamedTuple):
    """What the environment answers to one policy turn."""

    observation: str | None  # the next message's content; None when done
    done: bool
    rewards: dict[str, float] = {}  # per-turn reward terms, summed over the episode
    counts: dict[str, int] = {}  # per-turn counts, summed over the episode and logged (`env/<name>`)


class Environment:
    """Base class of every environment; subclasses are selected in YAML by class path.

    Args:
        max_turns: the policy's turns per episode; the last one is final whatever it says.
        max_tokens: trajectory tokens per episode (the policy's and the observations'); an episode
            that reaches it ends truncated.
    """

    #: Typed functions with docstrings offered to the model in its prompt (`lit_rlvr.environments.chat`).
    tools: Sequence[Callable[..., Any]] = ()
    #: Per-turn counts logged every step, 0 when none happened (others appear when they first do).
    counted: tuple[str, ...] = ()

    def __init__(self, *, max_turns: int = 4, max_tokens: int = 1024) -> None:
        if max_turns < 1:
            raise ValueError(f"rollout.environment.max_turns must be >= 1, got {max_turns}")
        if max_tokens < 1:
            raise ValueError(f"rollout.environment.max_tokens must be >= 1, got {max_tokens}")
        self.max_turns = max_turns
        self.max_tokens = max_tokens

    def start(self, row: dict[str, Any]) -> Any:
        """The state of a new episode on dataset `row` (None by default: a stateless environment)."""

    def step(self, states: list[Any], texts: list[str]) -> list[Turn]:
        """Answers the policy's turn `texts[i]` in episode `states[i]`, for every live episode at once."""
        raise NotImplementedError

    def close(self) -> None:
        """Releases what the environment holds (worker processes)."""
