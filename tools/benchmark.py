"""Benchmark a training config: throughput, seconds per phase beside each phase's floor, peak memory.

Runs `lit-rlvr fit` in this process for `--warmup + --steps` rollouts (no validation, checkpoints
or logger) and measures the window from the end of the last warm-up step to the end of the last
step, as a researcher's run would see it:

- completions/s and completion tokens/s over the window;
- seconds per step of each phase the module times (`generate`, `verify`, `logprob`: old and
  reference log-probs, `update`: critic and policy updates) and the rest (data, logging);
- each phase's floor: the seconds this machine needs at its measured matmul rate and memory
  bandwidth for the work the phase cannot avoid (prefill of each distinct prompt once; one decode
  step per generated token of the live rows only, each reading every weight once; forward, or
  forward and backward, over each distinct prompt once and each completion token once, with the
  vocabulary projection on completion tokens only); `x floor` is measured / floor;
- peak memory: RSS on CPU, allocated and reserved on GPU.

    python tools/benchmark.py --threads 1 --json runs/benchmark.json -- \
        --config configs/grpo.yaml --data.prompts_per_step 2 --rollout.engine.max_new_tokens 64

Arguments after `--` go to `lit-rlvr fit`. `docs/benchmarks.md` has the method and the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from lightning import Callback, LightningModule, Trainer

PHASES = ("generate", "sync", "verify", "logprob", "update")


@dataclass
class MachineRates:
    """This machine's measured float32 matmul rate and memory read bandwidth, at the chosen thread count."""

    matmul_flops_per_s: float
    read_bytes_per_s: float

    @classmethod
    def measure(cls, device: torch.device, hidden: int, intermediate: int) -> MachineRates:
        """Best of several: a `[1024, hidden] @ [hidden, intermediate]` matmul and a sum over 512 MiB."""
        a = torch.randn(1024, hidden, device=device)
        b = torch.randn(hidden, intermediate, device=device)
        big = torch.randn(2**27, device=device)
        matmul, read = [], []
        for _ in range(7):
            started = _now(device)
            for _ in range(8):
                a @ b
            matmul.append(8 * 2 * a.shape[0] * hidden * intermediate / (_now(device) - started))
            started = _now(device)
            big.sum()
            read.append(big.numel() * big.element_size() / (_now(device) - started))
        return cls(matmul_flops_per_s=max(matmul), read_bytes_per_s=max(read))


def _now(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


@dataclass
class ModelCost:
    """Per-token costs of a decoder: matmul FLOPs of the blocks and of the vocabulary projection."""

    block_flops: float  # per token, forward, every decoder block's linear layers
    head_flops: float  # per scored position, forward
    weight_bytes: float  # bytes read per decode step (blocks and head)
    attention_flops_per_context: float  # per token and context position, forward

    @classmethod
    def of(cls, model: torch.nn.Module) -> ModelCost:
        head = model.get_output_embeddings()
        block_params = sum(
            m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head
        )
        config = model.config
        return cls(
            block_flops=2.0 * block_params,
            head_flops=2.0 * head.weight.numel(),
            weight_bytes=float((block_params + head.weight.numel()) * head.weight.element_size()),
            attention_flops_per_context=4.0 * config.num_hidden_layers * config.hidden_size,
        )


@dataclass
class StepShape:
    """What one rollout held: distinct prompts' lengths and every completion's length."""

    prompt_lengths: list[int]  # [B]
    completion_lengths: list[int]  # [N]
    logprob_passes: int  # forward-only scoring passes (old policy, reference)
    update_passes: int  # forward + backward passes over the rollout (ppo_epochs)


def floors(shape: StepShape, cost: ModelCost, rates: MachineRates) -> dict[str, float]:
    """Seconds each phase needs at least on this machine for the work of `shape`."""
    prompt_tokens = sum(shape.prompt_lengths)
    prefill = prompt_tokens * cost.block_flops + len(shape.prompt_lengths) * cost.head_flops
    seconds = prefill / rates.matmul_flops_per_s
    mean_prompt = prompt_tokens / len(shape.prompt_lengths)
    for step in range(max(shape.completion_lengths)):
        live = sum(length > step for length in shape.completion_lengths)
        flops = live * (
            cost.block_flops + cost.head_flops + cost.attention_flops_per_context * (mean_prompt + step)
        )
        seconds += max(flops / rates.matmul_flops_per_s, cost.weight_bytes / rates.read_bytes_per_s)
    scored = sum(shape.completion_lengths)
    context = sum(length * (mean_prompt + length / 2) for length in shape.completion_lengths)
    forward = (
        (prompt_tokens + scored) * cost.block_flops
        + scored * cost.head_flops
        + context * cost.attention_flops_per_context
    ) / rates.matmul_flops_per_s
    return {
        "generate": seconds,
        "verify": 0.0,
        "logprob": shape.logprob_passes * forward,
        "update": shape.update_passes * 3 * forward,
    }


@dataclass
class PhaseRecorder(Callback):
    """Records each training step's end time, phase seconds and rollout shape."""

    ends: list[float] = field(default_factory=list)
    phases: list[dict[str, float]] = field(default_factory=list)
    shapes: list[StepShape] = field(default_factory=list)
    completions: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        rollout = batch["rollout"]  # put there by the RolloutCollector, which runs first
        group = rollout.group_size
        self.shapes.append(
            StepShape(
                prompt_lengths=rollout.prompt_mask[::group].sum(-1).tolist(),
                completion_lengths=rollout.completion_mask.sum(-1).tolist(),
                logprob_passes=int(pl_module.needs_logp_old) + int(pl_module.objective.needs_reference),
                update_passes=pl_module.ppo_epochs,
            )
        )
        self.completions.append(len(rollout.texts))
        self.tokens.append(int(rollout.completion_mask.sum()))

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        self.ends.append(time.perf_counter())
        metrics = trainer.callback_metrics
        self.phases.append({phase: float(metrics.get(f"perf/{phase}_s", 0.0)) for phase in PHASES})
        done = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in self.phases[-1].items())
        print(f"step {len(self.ends)}/{trainer.max_steps}: {done}", file=sys.stderr, flush=True)


def peak_memory(device: torch.device) -> dict[str, float]:
    if device.type == "cuda":
        return {
            "allocated_mib": torch.cuda.max_memory_allocated() / 2**20,
            "reserved_mib": torch.cuda.max_memory_reserved() / 2**20,
        }
    return {"rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run(fit_args: list[str], *, steps: int, warmup: int, threads: int | None) -> dict[str, Any]:
    """Runs the fit and returns the measured window, phases, floors and memory."""
    from lit_rlvr.cli import run as cli_run

    if threads:
        torch.set_num_threads(threads)
    args = [
        *fit_args,
        f"--trainer.max_steps={warmup + steps}",
        "--trainer.limit_val_batches=0",
        "--trainer.logger=false",
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
        "--validate_before_fit=false",
    ]
    cli = cli_run(args, subcommand=False)
    recorder = PhaseRecorder()
    cli.trainer.callbacks.append(recorder)
    module = cli.model
    cost = ModelCost.of(module.policy)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = module.policy.config
    rates = MachineRates.measure(
        device, config.hidden_size, getattr(config, "intermediate_size", 4 * config.hidden_size)
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    cli.trainer.fit(module, datamodule=cli.datamodule)
    window = slice(warmup, warmup + steps)
    seconds = recorder.ends[-1] - recorder.ends[warmup - 1] if warmup else recorder.ends[-1]
    measured = {phase: sum(p[phase] for p in recorder.phases[window]) / steps for phase in PHASES}
    measured["rest"] = seconds / steps - sum(measured.values())
    floor = {phase: 0.0 for phase in PHASES}
    for shape in recorder.shapes[window]:
        for phase, value in floors(shape, cost, rates).items():
            floor[phase] += value / steps
    return {
        "args": fit_args,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "steps": steps,
        "warmup": warmup,
        "window_s": seconds,
        "completions_per_s": sum(recorder.completions[window]) / seconds,
        "tokens_per_s": sum(recorder.tokens[window]) / seconds,
        "step_s": seconds / steps,
        "phase_s": measured,
        "floor_s": floor,
        "machine": asdict(rates),
        "peak_memory": peak_memory(device),
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['steps']} steps after {result['warmup']} warm-up, {result['threads']} thread(s), "
        f"{result['device']}",
        f"completions/s {result['completions_per_s']:.3f}   tokens/s {result['tokens_per_s']:.1f}   "
        f"s/step {result['step_s']:.2f}   peak "
        + ", ".join(f"{k} {v:.0f}" for k, v in result["peak_memory"].items()),
        f"{'phase':<10}{'s/step':>9}{'floor s':>9}{'x floor':>9}",
    ]
    for phase, seconds in result["phase_s"].items():
        floor = result["floor_s"].get(phase, 0.0)
        ratio = f"{seconds / floor:>9.1f}" if floor > 0 else f"{'-':>9}"
        lines.append(f"{phase:<10}{seconds:>9.2f}{floor:>9.2f}{ratio}")
    machine = result["machine"]
    lines.append(
        f"machine: matmul {machine['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s, "
        f"read {machine['read_bytes_per_s'] / 1e9:.1f} GB/s"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=3, help="measured steps")
    parser.add_argument("--warmup", type=int, default=1, help="steps before the window")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--json", default=None, help="also write the result here")
    parser.add_argument("fit_args", nargs=argparse.REMAINDER, help="-- then `lit-rlvr fit` arguments")
    args = parser.parse_args()
    fit_args = args.fit_args[1:] if args.fit_args[:1] == ["--"] else args.fit_args
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    result = run(fit_args, steps=args.steps, warmup=args.warmup, threads=args.threads)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    print(table(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
