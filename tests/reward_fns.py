"""Module-level reward functions for the pool tests (workers import them by name)."""

import os
import time


def length(completion: str, gold: str) -> float:
    return float(len(completion))


def slow(completion: str, gold: str) -> float:
    time.sleep(60)
    return 1.0


def raises(completion: str, gold: str) -> float:
    raise ValueError("bad reward")


def dies(completion: str, gold: str) -> float:
    os._exit(3)


def hog_memory(completion: str, gold: str) -> float:
    return float(len(bytearray(8 * 1024**3)))


def vowel_share(completion: str, gold: str, row: dict) -> float:
    """A trivially learnable reward for tiny random models: the share of letters that are vowels."""
    letters = [c for c in completion.lower() if c.isalpha()]
    return sum(c in "aeiou" for c in letters) / len(letters) if letters else 0.0


def more_vowels(completion: str, gold: str, row: dict) -> float:
    """A 0/1 `vowel_share` for BCE critics (SPPO): 1 from 40% vowels, just above the random model's 37%.

    Half would be out of reach: the random model's 8-token completions never get there, so every
    reward is 0 and nothing can be learned.
    """
    return float(vowel_share(completion, gold, row) >= 0.4)


def nothing(completion: str, gold: str, row: dict) -> float:
    """Pays nothing: the reward then comes from the environment alone."""
    return 0.0
