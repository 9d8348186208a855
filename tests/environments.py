"""Environments for the multi-turn tests, written against the public seam as a user would."""

from typing import Any

from lightning import Callback

from lit_rlvr.environments.base import Environment, Turn


class Echo(Environment):
    """Answers every turn with the number of characters it read; ends only at `max_turns`."""

    def step(self, states: list[Any], texts: list[str]) -> list[Turn]:
        return [Turn(f"you wrote {len(text)} characters", done=False, counts={"echoes": 1}) for text in texts]


class VowelCalls(Environment):
    """A turn of at least 40% vowels (the random model's: about 37%) calls a tool that answers `ok`
    and pays a per-turn reward of 1 (once per episode): the tiny model's only way to a reward."""

    counted = ("tool_calls",)

    def start(self, row: dict[str, Any]) -> dict[str, bool]:
        return {"called": False}

    def step(self, states: list[dict[str, bool]], texts: list[str]) -> list[Turn]:
        turns = []
        for state, text in zip(states, texts, strict=True):
            letters = [c for c in text.lower() if c.isalpha()]
            if not letters or sum(c in "aeiou" for c in letters) / len(letters) < 0.4:
                turns.append(Turn(None, done=True))
                continue
            reward = 0.0 if state["called"] else 1.0
            state["called"] = True
            turns.append(Turn("ok", done=False, rewards={"tool": reward}, counts={"tool_calls": 1}))
        return turns


class EndsOften(Callback):
    """Makes every seventh token of the tiny model's vocabulary end a turn, so that its random
    policy finishes turns within a few tokens, as a trained one does."""

    def setup(self, trainer, pl_module, stage: str) -> None:
        policy = pl_module.policy
        policy.generation_config.eos_token_id = list(range(0, policy.config.vocab_size, 7))
