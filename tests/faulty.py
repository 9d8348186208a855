"""Misbehaving reward functions for `test_faults.py`; reward workers import them by name, so no torch here."""

import os
import time


def raises(completion: str, gold: str, row: dict) -> float:
    raise ValueError("bad reward")


def hangs(completion: str, gold: str, row: dict) -> float:
    time.sleep(60)
    return 1.0


def dies(completion: str, gold: str, row: dict) -> float:
    os._exit(3)


def not_a_number(completion: str, gold: str, row: dict) -> float:
    return float("nan")
