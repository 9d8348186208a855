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
    runtime = current_rss_mib()  # Python, torch, transformers, Lightning: before any model
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
            batch["rollout"] = rollout

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
        "parameters": sum(p.numel() for p in module.policy.parameters()),
        "trainable_parameters": trained,
        "runtime_rss_mib": runtime,
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
SMOLLM2_SHAPE = (30, 576)  # layers, hidden
GIB = 2**30
# Bytes per parameter of the states a setup holds for the whole step: (frozen or trained weights,
# gradients, AdamW's two moments, reference weights) for full training; LoRA's frozen base doubles
# as the reference and its adapters carry the trained states.
STATE_BYTES = {
    "fp32": (4, 4, 8, 4),
    "bf16-mixed": (4, 4, 8, 2),
    "bf16-true": (2, 2, 4, 2),
    "fp32 + activation checkpointing": (4, 4, 8, 4),
    "fp32 + LoRA r=16": (4, 0, 0, 0),
    "bf16-true + checkpointing + LoRA": (2, 0, 0, 0),
}
ADAPTER_BYTES = {"fp32 + LoRA r=16": 16, "bf16-true + checkpointing + LoRA": 8}


def projection(measured: dict, *, sequences: int = 8, tokens: int = 1280, rollout_tokens: int = 40960) -> str:
    """A markdown table of estimated GiB per GPU (see the module docstring).

    Activations per token come from the fp32 runs, the one setup whose weights are counted once in
    the RSS (a bf16 run also keeps pages of the float32 file it converted from): the peak beyond
    the runtime and the states of `STATE_BYTES`, scaled by layers x hidden to the target, halved in
    bfloat16, times the measured ratio with activation checkpointing, for a micro-batch of
    `sequences` x `tokens`. Generation holds the gathered policy and the KV cache of this GPU's
    share of `rollout_tokens`.
    """
    results, settings = measured["results"], measured["settings"]
    measured_tokens = settings["sequences"] * (settings["prompt_tokens"] + settings["completion_tokens"])

    def states(setup: str, parameters: float, adapters: float) -> float:
        return sum(STATE_BYTES[setup]) * parameters + ADAPTER_BYTES.get(setup, 0) * adapters

    def residual(setup: str) -> float:
        r = results[setup]
        return (r["peak_rss_mib"] - r["runtime_rss_mib"]) * 2**20 - states(setup, r["parameters"], 0)

    per_token = residual("fp32") / measured_tokens  # SmolLM2, float32, no checkpointing
    checkpointed = residual("fp32 + activation checkpointing") / residual("fp32")

    rows = [  # label, states, gathered bytes per parameter while generating, checkpointing, critic
        ("GRPO, bf16-mixed", "bf16-mixed", 4, False, None),
        ("GRPO, bf16-mixed + checkpointing", "bf16-mixed", 4, True, None),
        ("GRPO, bf16-true + checkpointing", "bf16-true", 2, True, None),
        ("GRPO, bf16-true + checkpointing + LoRA", "bf16-true + checkpointing + LoRA", 2, True, None),
        ("PPO, bf16-mixed + checkpointing, critic = policy size", "bf16-mixed", 4, True, "same"),
        ("SPPO, bf16-mixed + checkpointing, 1.5B critic replicated", "bf16-mixed", 4, True, "1.5B"),
    ]
    lines = [
        "| setup | policy | GPUs | states (sharded + replicated) | activations | generation | GiB per GPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, setup, gathered, checkpointing, critic in rows:
        for name, (parameters, layers, hidden, kv) in POLICIES.items():
            if critic == "1.5B" and name != "7B":
                continue
            adapters = parameters * 0.0064 if setup in ADAPTER_BYTES else 0  # r = 16 on every linear layer
            scale = (layers * hidden) / (SMOLLM2_SHAPE[0] * SMOLLM2_SHAPE[1])
            act = per_token * scale * 0.5 * sequences * tokens * (checkpointed if checkpointing else 1.0)
            for gpus in (1, 8, 16):
                held = states(setup, parameters, adapters) / gpus
                if critic == "same":
                    held += 16 * parameters / gpus  # fp32 weights, gradients and AdamW, sharded
                elif critic == "1.5B":
                    held += 16 * POLICIES["1.5B"][0]  # replicated whole on every GPU
                generation = gathered * parameters + 2 * layers * kv * 2 * rollout_tokens / gpus
                total = held + max(act, generation)  # generation and the update alternate
                lines.append(
                    f"| {label} | {name} | {gpus} | {held / GIB:.1f} | {act / GIB:.1f} "
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
