"""The random-number state a checkpoint must hold for a resumed run to draw exactly what it would have."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture_rng(shuffle: torch.Generator) -> dict[str, Any]:
    """torch (CPU and CUDA), Python and NumPy global states, and the module's own `shuffle` generator."""
    name, key, *rest = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        # A tensor and plain values: resuming loads with `weights_only=True`, which refuses ndarrays.
        "numpy": (name, torch.from_numpy(key.copy()), *rest),
        "shuffle": shuffle.get_state(),
    }


def restore_rng(state: dict[str, Any], shuffle: torch.Generator) -> None:
    """Restores what `capture_rng` saved."""
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    name, key, *rest = state["numpy"]
    np.random.set_state((name, key.numpy(), *rest))
    shuffle.set_state(state["shuffle"])
