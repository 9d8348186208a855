"""Peak memory of one training step of the embedded model: fp32, bf16, activation checkpointing, LoRA.

    python tools/benchmark_memory.py --out docs/scaling/memory.json
    python tools/benchmark_memory.py --project docs/scaling/memory.json

Each setup runs in a fresh process: the module is built (policy, and a reference for the KL
term), then one optimizer step is taken on a fixed batch of `--sequences` completions of
`--completion_tokens` tokens after `--prompt_tokens`-token prompts (random token ids: memory does not
depend on the text). On CPU it reports the peak resident set size (RSS) of the whole process and
its growth over the step (gradients, optimizer states, activations); on a GPU, the peak allocated
and reserved bytes. A table and JSON come out.

`--project` turns a measurement into per-GPU estimates for 1.5B and 7B policies under FSDP2 on 1, 8
and 16 GPUs (`docs/scaling.md`): the standard bytes per parameter for weights, gradients and AdamW
states in each precision, divided by the GPUs that shard them, plus the activations of one
micro-batch scaled from the measured ones by hidden size x layers, plus the full copy of the policy
that generation gathers and its KV cache.
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


# Qwen2.5 shapes (parameters, layers, hidden, KV heads x head dim): the usual 1.5B and 7B RLVR policies.
POLICIES = {"1.5B": (1.54e9, 28, 1536, 2 * 128), "7B": (7.62e9, 28, 3584, 4 * 128)}
SMOLLM2 = (134.5e6, 30, 576)
GIB = 2**30


def projection(
    measured: dict, *, sequences: int = 8, tokens: int = 1280, rollout_tokens: int = 32 * 1280
) -> str:
    """A markdown table of estimated GiB per GPU (see the module docstring)."""
    results, settings = measured["results"], measured["settings"]
    measured_tokens = settings["sequences"] * (settings["prompt_tokens"] + settings["completion_tokens"])
    _, smol_layers, smol_hidden = SMOLLM2

    def activations(name: str, layers: int, hidden: int) -> float:
        # the step's growth minus gradients and AdamW states (12 bytes per fp32 trainable parameter)
        optimizer = (12 if "bf16-true" not in name else 6) * results[name]["trainable_parameters"]
        per_token = (results[name]["step_growth_mib"] * 2**20 - optimizer) / measured_tokens
        return max(per_token, 0.0) * (layers * hidden) / (smol_layers * smol_hidden) * sequences * tokens

    rows = [
        ("GRPO, bf16-mixed", "bf16-mixed", 16, 2, 4, None),
        ("GRPO, bf16-mixed + checkpointing", "fp32 + activation checkpointing", 16, 2, 4, None),
        ("GRPO, bf16-true + checkpointing + LoRA", "bf16-true + checkpointing + LoRA", 2, 0, 2, None),
        (
            "PPO, bf16-mixed + checkpointing (critic = policy)",
            "fp32 + activation checkpointing",
            16,
            2,
            4,
            "same",
        ),
        ("SPPO 7B, small 1.5B critic replicated", "fp32 + activation checkpointing", 16, 0, 4, "1.5B"),
    ]
    lines = [
        "| setup | policy | GPUs | sharded states | activations | generation | total GiB per GPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, measured_as, policy_bytes, reference_bytes, gather_bytes, critic in rows:
        for policy_name, (parameters, layers, hidden, kv) in POLICIES.items():
            if critic == "1.5B" and policy_name != "7B":
                continue
            for gpus in (1, 8, 16):
                sharded = (policy_bytes + reference_bytes) * parameters / gpus
                replicated = 0.0
                if critic == "same":
                    sharded += 16 * parameters / gpus
                elif critic == "1.5B":
                    replicated = 16 * POLICIES["1.5B"][0]
                act = activations(measured_as, layers, hidden)
                kv_cache = 2 * layers * kv * 2 * rollout_tokens / gpus  # K and V, bf16, this GPU's share
                generation = gather_bytes * parameters + kv_cache
                total = sharded + replicated + max(act, generation)  # generation and the update alternate
                states = (sharded + replicated) / GIB
                lines.append(
                    f"| {label} | {policy_name} | {gpus} | {states:.1f} | {act / GIB:.1f} "
                    f"| {generation / GIB:.1f} | {total / GIB:.1f} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--prompt_tokens", type=int, default=64)
    parser.add_argument("--completion_tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--project", type=Path, help="print per-GPU estimates from a measurement's JSON")
    parser.add_argument("--precision", default="32-true", help=argparse.SUPPRESS)
    parser.add_argument("--activation_checkpointing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lora", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_step(args)))
        return
    if args.project:
        print(projection(json.loads(args.project.read_text())))
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
