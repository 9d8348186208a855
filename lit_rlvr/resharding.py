"""Resuming at another world size: an FSDP2 run's sharded checkpoint read by one process, and back.

FSDP2 (`ModelParallelStrategy`) writes a checkpoint as a folder of shards (torch distributed
checkpoint, one file per process, plus `meta.pt` with loops, callbacks and data position); one
process or DDP reads a single file. `consolidate` turns the folder into that file: full tensors,
and each optimizer's state keyed by parameter position (`torch.optim`'s format) instead of by
parameter name (the sharded format). The other way, `ModelParallelStrategy` loads a single file
into its shards itself once each optimizer's state is keyed by parameter name
(`name_optimizer_states`). The data position is counted in prompts across all processes
(`lit_rlvr.data.ResumableSampler`), so a run resumed at another world size goes on with the
prompts not yet trained on; the per-process sampling RNG streams cannot carry over, so
the continuation is not bitwise the one the original world size would have produced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def is_sharded(path: str | Path) -> bool:
    """Whether `path` is a sharded (distributed) checkpoint folder."""
    return (Path(path) / ".metadata").is_file()


def by_position(optimizer_state: dict[str, Any]) -> dict[str, Any]:
    """An optimizer state keyed by parameter name -> keyed by position in its parameter groups."""
    names = [name for group in optimizer_state["param_groups"] for name in group["params"]]
    position = {name: i for i, name in enumerate(names)}
    return {
        "state": {position[name]: state for name, state in optimizer_state["state"].items()},
        "param_groups": [
            {**group, "params": [position[name] for name in group["params"]]}
            for group in optimizer_state["param_groups"]
        ],
    }


def by_name(optimizer_state: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """An optimizer state keyed by position -> keyed by the parameter names `names` (in its order)."""
    return {
        "state": {names[position]: state for position, state in optimizer_state["state"].items()},
        "param_groups": [
            {**group, "params": [names[position] for position in group["params"]]}
            for group in optimizer_state["param_groups"]
        ],
    }


def name_optimizer_states(checkpoint_file: str | Path, names: list[list[str]], output: str | Path) -> Path:
    """Writes `checkpoint_file` with each optimizer's state keyed by parameter name, for FSDP2 to load.

    Lightning maps positions to names by the order of *all* the module's parameters, which is
    right only for an optimizer over the module's first parameters, all trained: not for the
    critic's optimizer, nor under LoRA.
    """
    checkpoint = torch.load(checkpoint_file, map_location="cpu", weights_only=False)
    checkpoint["optimizer_states"] = [
        by_name(state, optimizer_names)
        for state, optimizer_names in zip(checkpoint["optimizer_states"], names, strict=True)
    ]
    output = Path(output)
    torch.save(checkpoint, output)
    return output


def consolidate(folder: str | Path, output: str | Path) -> Path:
    """Writes the sharded checkpoint `folder` as the single file `output`, which one process resumes from."""
    from lightning.fabric.utilities.load import _load_distributed_checkpoint

    state = _load_distributed_checkpoint(Path(folder))  # full tensors, and `meta.pt`'s contents
    optimizers = sorted(
        (key for key in state if key.startswith("optimizer_")), key=lambda k: int(k.split("_")[1])
    )
    state["optimizer_states"] = [by_position(state.pop(key)) for key in optimizers]
    output = Path(output)
    torch.save(state, output)
    return output
