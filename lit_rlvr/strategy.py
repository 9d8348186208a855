"""The strategy registry: which Lightning strategy runs a job, chosen in one place.

- one device: Lightning's single-device strategy;
- several CPU processes: DDP over gloo (the fastest multi-process option on CPU);
- several GPUs: FSDP2 (`ModelParallelStrategy` with `fully_shard` on each decoder layer), which
  supports manual optimization with several backward passes per step, as every objective needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from lightning.pytorch.strategies import DDPStrategy, ModelParallelStrategy, Strategy
from torch import nn

Parallelism = Literal["auto", "single", "ddp", "fsdp2"]


def world_size(accelerator: str, devices: int | str, num_nodes: int) -> int:
    """Processes a Trainer with these settings starts."""
    if devices in ("auto", -1, "-1"):
        gpus = torch.cuda.device_count() if accelerator in ("auto", "gpu", "cuda") else 0
        devices = max(gpus, 1)
    return (len(devices) if isinstance(devices, list) else int(devices)) * num_nodes


def choose(parallelism: Parallelism, accelerator: str, devices: int | str, num_nodes: int) -> Parallelism:
    """Resolves `auto`: one process -> single, several CPU processes -> ddp, several GPUs -> fsdp2."""
    if parallelism != "auto":
        return parallelism
    if world_size(accelerator, devices, num_nodes) <= 1:
        return "single"
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    return "fsdp2" if on_gpu else "ddp"


def build(
    parallelism: Parallelism, accelerator: str, devices: int | str, num_nodes: int, *, critic: bool = False
) -> Strategy | str:
    """The Lightning strategy (or strategy name) for `parallelism`.

    With a critic, each backward pass reaches only the policy or only the critic, so DDP must look
    for the parameters a loss did not use.
    """
    choice = choose(parallelism, accelerator, devices, num_nodes)
    if choice == "single":
        return "auto"
    if choice == "ddp":
        return DDPStrategy(find_unused_parameters=critic)
    size = world_size(accelerator, devices, num_nodes)
    return ModelParallelStrategy(data_parallel_size=size, tensor_parallel_size=1)


def shard_for_fsdp2(model: nn.Module, mesh: object) -> None:
    """Shards each transformer block, then the whole model, with FSDP2's `fully_shard`.

    Idempotent: Lightning calls `configure_model` again for `fit` after a `validate`.
    """
    from torch.distributed.fsdp import FSDPModule, fully_shard

    if isinstance(model, FSDPModule):
        return

    block_names = set(getattr(model, "_no_split_modules", None) or [])
    for module in list(model.modules()):
        if type(module).__name__ in block_names:
            fully_shard(module, mesh=mesh)
    fully_shard(model, mesh=mesh)


@contextmanager
def full_parameters(model: nn.Module) -> Iterator[None]:
    """Keeps an FSDP2-sharded `model`'s parameters gathered while the block runs (a rollout's generation).

    Without it, `generate` runs every block's forward once per decoded token, and FSDP2 all-gathers
    the block's parameters before and frees them after each of those forwards: T gathers of the
    whole model per rollout. Here each block is gathered once and freed at the end, so each process
    holds one full copy of the weights for the duration. A model that is not sharded is left alone.
    """
    from torch.distributed.fsdp import FSDPModule

    if not isinstance(model, FSDPModule):
        yield
        return
    # The root keeps its own setting: FSDP2 never reshards the root after forward (its parameters,
    # the tied output head among them, are read again right after it).
    blocks = [module for module in model.modules() if isinstance(module, FSDPModule) and module is not model]
    for block in blocks:
        block.set_reshard_after_forward(False, recurse=False)
    for module in [model, *blocks]:
        module.unshard()
    try:
        yield
    finally:
        for block in blocks:
            block.reshard()
            block.set_reshard_after_forward(True, recurse=False)  # `shard_for_fsdp2`'s setting
        model.reshard()
