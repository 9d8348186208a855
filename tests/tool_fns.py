"""Module-level tools for the tool tests (workers import them by name)."""

import time


def sleep(seconds: float) -> str:
    """Sleeps, then says so.

    Args:
        seconds: how long.
    """
    time.sleep(seconds)
    return "awake"


def hog_memory(gib: int) -> str:
    """Allocates memory.

    Args:
        gib: how much.
    """
    return str(len(bytearray(gib * 1024**3)))
