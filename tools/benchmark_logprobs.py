"""Benchmark: chunked completion log-probs vs the naive full-logits computation (time and peak memory).

Each variant runs forward + backward in its own subprocess, so peak RSS (CPU) or peak allocated
memory (CUDA) is measured cleanly; results are printed side by side with their ratios.

    python tools/benchmark_logprobs.py --model smollm2-135m-instruct --sequences 32 --completion 128
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch


def naive_logprobs(model, input_ids, attention_mask, completion_mask):
    from lit_rlvr.logprobs import position_ids

    logits = model(input_ids, attention_mask=attention_mask, position_ids=position_ids(attention_mask)).logits
    logits = logits[:, -completion_mask.shape[1] - 1 : -1].float()  # [N, T, V]
    logp = logits.log_softmax(-1).gather(-1, input_ids[:, -completion_mask.shape[1] :, None]).squeeze(-1)
    return logp * completion_mask


def measure(variant: str, model_name: str, sequences: int, prompt: int, completion: int, device: str) -> dict:
    from lit_rlvr.logprobs import completion_logprobs
    from lit_rlvr.models import load_causal_lm

    torch.manual_seed(0)
    model = load_causal_lm(model_name).to(device)
    vocab = model.config.vocab_size
    input_ids = torch.randint(0, vocab, (sequences, prompt + completion), device=device)
    attention_mask = torch.ones_like(input_ids)
    completion_mask = torch.ones(sequences, completion, dtype=torch.bool, device=device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(3):
        started = time.perf_counter()
        if variant == "chunked":
            logp = completion_logprobs(model, input_ids, attention_mask, completion_mask).logp
        else:
            logp = naive_logprobs(model, input_ids, attention_mask, completion_mask)
        logp.sum().backward()
        model.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {"variant": variant, "seconds": min(times), "peak_mib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--sequences", type=int, default=16)
    parser.add_argument("--prompt", type=int, default=64)
    parser.add_argument("--completion", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--variant", choices=["chunked", "naive"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(
            json.dumps(
                measure(args.variant, args.model, args.sequences, args.prompt, args.completion, args.device)
            )
        )
        return
    results = {}
    for variant in ("chunked", "naive"):
        print(f"running {variant} ...", file=sys.stderr, flush=True)
        out = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--variant", variant], capture_output=True, text=True
        )
        if out.returncode:
            raise SystemExit(out.stderr[-2000:])
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    chunked, naive = results["chunked"], results["naive"]
    print(
        f"model {args.model}, N={args.sequences}, P={args.prompt}, T={args.completion}, device {args.device}"
    )
    print(f"{'variant':<10}{'fwd+bwd s':>12}{'peak MiB':>12}")
    for row in (chunked, naive):
        print(f"{row['variant']:<10}{row['seconds']:>12.3f}{row['peak_mib']:>12.0f}")
    time_ratio = chunked["seconds"] / naive["seconds"]
    memory_ratio = chunked["peak_mib"] / naive["peak_mib"]
    print(f"chunked / naive: time {time_ratio:.2f}x, peak memory {memory_ratio:.2f}x")


if __name__ == "__main__":
    main()
