"""Peak memory of one training step of the embedded model: fp32, bf16, activation checkpointing, LoRA.

    python tools/benchmark_memory.py --out docs/scaling/memory.json

Each setup runs in a fresh process: the module is built (policy, and a reference for the KL
term), then one optimizer step is taken on a fixed batch of `--sequences` completions of
`--completion_tokens` tokens after `--prompt_tokens`-token prompts (random token ids: memory does not
depend on the text). On CPU it reports the peak resident set size (RSS) of the whole process and
its growth over the step (gradients, optimizer states, activations); on a GPU, the peak allocated
and reserved bytes. A table and JSON come out; `docs/scaling.md` turns them into per-GPU figures
for larger policies.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

SETUPS = {
    "fp32": [],
    "bf16-mixed": ["--precision=bf16-mixed"],
    "bf16-true": ["--precision=bf16-true"],
    "fp32 + activation checkpointing": ["--activation_checkpointing"],
    "fp32 + LoRA r=16": ["--lora"],
    "bf16-true + checkpointing + LoRA": ["--precision=bf16-true", "--activation_checkpointing", "--lora"],
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def one_step(args: argparse.Namespace) -> dict[str, float]:
    """Builds the module, takes one optimizer step on a fixed batch, and measures (this process)."""
    import torch
    from lightning import Callback, Trainer
    from torch.utils.data import DataLoader

    from lit_rlvr.lora import LoraSettings
    from lit_rlvr.module import RLVRModule
    from lit_rlvr.objectives import GRPO
    from lit_rlvr.rollout import Rollout

    torch.set_num_threads(args.threads)
    module = RLVRModule(
        model=args.model,
        objective=GRPO(kl_coef=0.04),
        precision=args.precision,
        activation_checkpointing=args.activation_checkpointing,
        lora=LoraSettings() if args.lora else None,
        micro_batch_size=args.sequences,
        log_completions_every=0,
    )
    generator = torch.Generator().manual_seed(0)
    n, p, t = args.sequences, args.prompt_tokens, args.completion_tokens
    rewards = torch.rand(n, generator=generator)
    rollout = Rollout(
        prompt_ids=torch.randint(3, 10_000, (n, p), generator=generator),
        prompt_mask=torch.ones(n, p, dtype=torch.bool),
        completion_ids=torch.randint(3, 10_000, (n, t), generator=generator),
        completion_mask=torch.ones(n, t, dtype=torch.bool),
        truncated=torch.ones(n, dtype=torch.bool),
        texts=[""] * n,
        rows=[{"gold": "0"}] * (n // 2),
        group_size=2,
        max_new_tokens=t,
        temperature=1.0,
        rewards=rewards,
        correct=rewards > 0.5,
    )

    class Attach(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            pl_module.attach_rollout(rollout)

    on_gpu = torch.cuda.is_available()
    loaded = current_rss_mib()
    trainer = Trainer(
        accelerator="gpu" if on_gpu else "cpu",
        devices=1,
        precision=args.precision,
        max_steps=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Attach()],
    )
    trainer.fit(module, DataLoader([0], batch_size=1))
    trained = sum(p.numel() for p in module.policy.parameters() if p.requires_grad)
    result = {
        "trainable_parameters": trained,
        "loaded_rss_mib": loaded,
        "peak_rss_mib": peak_rss_mib(),
        "step_growth_mib": peak_rss_mib() - loaded,
    }
    if on_gpu:
        result["peak_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
        result["peak_reserved_mib"] = torch.cuda.max_memory_reserved() / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--prompt_tokens", type=int, default=64)
    parser.add_argument("--completion_tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--precision", default="32-true", help=argparse.SUPPRESS)
    parser.add_argument("--activation_checkpointing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lora", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_step(args)))
        return
    shared = [
        f"--model={args.model}", f"--sequences={args.sequences}", f"--prompt_tokens={args.prompt_tokens}",
        f"--completion_tokens={args.completion_tokens}", f"--threads={args.threads}",
    ]  # fmt: skip
    results = {}
    for index, (name, flags) in enumerate(SETUPS.items(), 1):
        print(f"[{index}/{len(SETUPS)}] {name} ...", flush=True)
        done = subprocess.run(
            [sys.executable, __file__, "--child", *shared, *flags], capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"benchmark_memory: {name} failed: {done.stderr.strip().splitlines()[-1]}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\n{'setup':<34} {'trainable':>11} {'loaded MiB':>11} {'peak MiB':>9} {'step +MiB':>10}")
    for name, r in results.items():
        print(
            f"{name:<34} {r['trainable_parameters']:>11,} {r['loaded_rss_mib']:>11.0f} "
            f"{r['peak_rss_mib']:>9.0f} {r['step_growth_mib']:>10.0f}"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        kept = ("model", "sequences", "prompt_tokens", "completion_tokens")
        settings = {key: value for key, value in vars(args).items() if key in kept}
        args.out.write_text(json.dumps({"settings": settings, "results": results}, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
