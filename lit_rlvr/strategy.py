"""The strategy registry: which Lightning strategy runs a job, chosen in one place.

- one device: Lightning's single-device strategy;
- several CPU processes: DDP over gloo (the fastest multi-process option on CPU);
- several GPUs: FSDP2 (`ModelParallelStrategy` with `fully_shard` on each decoder layer), which
  supports manual optimization with several backward passes per step, as every objective needs.

Under FSDP2 the registry also places each model the objective needs (`plan`): the policy is
sharded; the reference, when there is one, is sharded (or offloaded to CPU memory on a GPU
run); a critic is sharded when it is about the policy's size and replicated (FSDP2 over a mesh of
shards of one, so its gradients are all-reduced as DDP would) when it is small, as SPPO's small
critic. `model.placement` overrides either choice; the plan is printed at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from lightning import Trainer
from lightning.pytorch.strategies import DDPStrategy, ModelParallelStrategy, Strategy
from torch import Tensor, nn

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


#: A critic with at most this share of the policy's parameters is replicated instead of sharded.
SMALL_CRITIC = 0.4  # SPPO: 1.5B for 7B is 21%; SmolLM2-135M cut to 6 of 30 layers is 36%


@dataclass
class Placement:
    """Where the reference and critic live under FSDP2 (`model.placement` in YAML); None: `plan` decides.

    Args:
        reference: `shard` across processes, or `offload` its shards to CPU memory (GPU runs only).
        critic: `shard` across processes, or `replicate` a whole copy on each.
    """

    reference: Literal["shard", "offload"] | None = None
    critic: Literal["shard", "replicate"] | None = None


def plan(models: dict[str, nn.Module | None], placement: Placement | None, *, on_gpu: bool) -> dict[str, str]:
    """`shard`, `offload` or `replicate` for each present model of `policy`, `reference`, `critic`."""
    placement = placement or Placement()
    if placement.reference == "offload" and not on_gpu:
        raise ValueError(
            "model.placement.reference=offload needs a GPU run: on CPU the weights are in CPU memory"
        )
    sizes = {
        name: sum(p.numel() for p in model.parameters())
        for name, model in models.items()
        if model is not None
    }
    chosen = {"policy": "shard"}
    if "reference" in sizes:
        chosen["reference"] = placement.reference or "shard"
    if "critic" in sizes:
        small = sizes["critic"] <= SMALL_CRITIC * sizes["policy"]
        chosen["critic"] = placement.critic or ("replicate" if small else "shard")
    return chosen


def describe(models: dict[str, nn.Module | None], chosen: dict[str, str], processes: int) -> list[str]:
    """One line per model for the start-up log."""
    policy = sum(p.numel() for p in models["policy"].parameters())
    lines = []
    for name, where in chosen.items():
        size = sum(p.numel() for p in models[name].parameters())
        how = {
            "shard": f"sharded over {processes} processes (FSDP2)",
            "offload": f"sharded over {processes} processes, shards in CPU memory (FSDP2 offload)",
            "replicate": f"replicated on each of {processes} processes, gradients all-reduced",
        }[where]
        lines.append(f"{name}: {size / 1e6:.1f}M parameters ({size / policy:.0%} of the policy), {how}")
    return lines


def place(models: dict[str, nn.Module | None], chosen: dict[str, str], mesh: object) -> None:
    """Applies `plan`'s choices with FSDP2 on the data-parallel `mesh`."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import CPUOffloadPolicy, OffloadPolicy

    for name, where in chosen.items():
        if where == "replicate":  # HSDP with shards of one process: pure replication
            replicas = init_device_mesh(
                mesh.device_type, (mesh.size(), 1), mesh_dim_names=("replicate", "shard")
            )
            shard_for_fsdp2(models[name], replicas)
        else:
            offload = CPUOffloadPolicy() if where == "offload" else OffloadPolicy()
            shard_for_fsdp2(models[name], mesh, offload_policy=offload)


def sum_over_processes(trainer: Trainer) -> Callable[[Tensor], Tensor] | None:
    """Sums a tensor over the data-parallel processes; None in one process (nothing to reduce)."""
    return None if trainer.world_size == 1 else partial(trainer.strategy.reduce, reduce_op="sum")


def mean_over_processes(trainer: Trainer) -> Callable[[Tensor], Tensor] | None:
    """Averages a tensor over the data-parallel processes; None in one process."""
    return None if trainer.world_size == 1 else partial(trainer.strategy.reduce, reduce_op="mean")


def max_over_processes(trainer: Trainer) -> Callable[[Tensor], Tensor] | None:
    """The elementwise largest value of a tensor over the data-parallel processes; None in one process."""
    return None if trainer.world_size == 1 else partial(trainer.strategy.reduce, reduce_op="max")


def shard_for_fsdp2(model: nn.Module, mesh: object, **options: object) -> None:
    """Shards each transformer block, then the whole model, with FSDP2's `fully_shard`.

    Idempotent: Lightning calls `configure_model` again for `fit` after a `validate`.
    """
    from torch.distributed.fsdp import FSDPModule, fully_shard

    if isinstance(model, FSDPModule):
        return

    block_names = set(getattr(model, "_no_split_modules", None) or [])
    for module in list(model.modules()):
        if type(module).__name__ in block_names:
            fully_shard(module, mesh=mesh, **options)
    fully_shard(model, mesh=mesh, **options)


@contextmanager
def full_parameters(model: nn.Module) -> Iterator[None]:
    """Keeps an FSDP2-sharded `model`'s parameters gathered while the block runs (a rollout's generation).

    Without it, the sampler runs every block's forward once per decoded token, and FSDP2 all-gathers
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
