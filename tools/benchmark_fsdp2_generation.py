"""Greedy generation under FSDP2: parameters gathered once per rollout vs once per decoded token.

    torchrun --nproc_per_node 2 tools/benchmark_fsdp2_generation.py --model smollm2-135m-instruct \\
        --prompts 4 --new_tokens 32 --rounds 2 --out runs/fsdp2_generation.json

Each process shards the model with `lit_rlvr.strategy.shard_for_fsdp2` and generates greedily for
the same prompts three ways: unsharded (the reference output), sharded as `generate` runs it by
default (FSDP2 gathers each block before each forward and frees it after, once per token), and
sharded inside `strategy.full_parameters` (each block gathered once). It reports, per way, the
completions, the number of all-gathers and the median seconds; rank 0 writes JSON and a table. On
CPU the processes talk over gloo; `--threads` sets torch's threads per process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh

from lit_rlvr.models import load_causal_lm, load_tokenizer
from lit_rlvr.strategy import full_parameters, shard_for_fsdp2

PROMPTS = [
    "What is 17 + 25? Answer with a number.",
    "Name a prime number larger than 10.",
    "Write the word 'seven' in digits.",
    "How many legs does a spider have?",
]


class GatherCounter:
    """Counts FSDP2's all-gathers (`dist.all_gather_single`) while active."""

    def __init__(self) -> None:
        self.count = 0
        self._original = dist.all_gather_single

    def __enter__(self) -> GatherCounter:
        def counted(*args, **kwargs):
            self.count += 1
            return self._original(*args, **kwargs)

        dist.all_gather_single = counted
        return self

    def __exit__(self, *exc: object) -> None:
        dist.all_gather_single = self._original


def generate(model, batch, new_tokens: int) -> torch.Tensor:
    with torch.no_grad():
        return model.generate(**batch, do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny-random-llama")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--new_tokens", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo")
    tokenizer = load_tokenizer(args.model)
    texts = [PROMPTS[i % len(PROMPTS)] for i in range(args.prompts)]
    batch = dict(tokenizer(texts, return_tensors="pt", padding=True))
    unsharded = load_causal_lm(args.model).eval()
    sharded = load_causal_lm(args.model).eval()
    shard_for_fsdp2(sharded, init_device_mesh("cpu", (dist.get_world_size(),)))
    ways = {
        "unsharded": (unsharded, nullcontext),
        "per_token": (sharded, nullcontext),
        "gathered_once": (sharded, lambda: full_parameters(sharded)),
    }
    results = {}
    for name, (model, context) in ways.items():
        seconds = []
        for _ in range(args.rounds):
            dist.barrier()
            started = time.perf_counter()
            with GatherCounter() as gathers, context():
                output = generate(model, batch, args.new_tokens)
            seconds.append(time.perf_counter() - started)
        results[name] = {
            "completions": output[:, batch["input_ids"].shape[1] :].tolist(),
            "all_gathers": gathers.count,
            "seconds": statistics.median(seconds),
        }
    if dist.get_rank() == 0:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        settings = {**vars(args), "out": str(args.out), "processes": dist.get_world_size()}
        args.out.write_text(json.dumps({"settings": settings, **results}, indent=1))
        for name, result in results.items():
            same = result["completions"] == results["unsharded"]["completions"]
            print(
                f"{name:>14}: {result['seconds']:7.2f} s  {result['all_gathers']:5d} all-gathers  "
                f"completions equal to unsharded: {same}"
            )
        ratio = results["per_token"]["seconds"] / results["gathered_once"]["seconds"]
        print(f"gathered once is {ratio:.2f}x the speed of per-token gathering")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
