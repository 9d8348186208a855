"""Side by side with TRL's `GRPOTrainer`: completions/s on the same model, task and settings; the ratio last.

TRL runs in its own environment, never a dependency of lit-rlvr (same torch, TRL 1.16):

    python -m venv ../trl-venv && ../trl-venv/bin/pip install torch==2.13.0 trl==1.16.0
    python tools/compare_trl.py --trl_python ../trl-venv/bin/python --rounds 2 --threads 1
    .venv-vllm/bin/python tools/compare_trl.py --engine vllm --trl_python ../trl-venv/bin/python

Each round runs lit-rlvr (`tools/benchmark.py`) and then TRL, one process at a time, each with
`--threads` torch threads, on the embedded SmolLM2-135M-Instruct in float32 and the built-in
arithmetic prompts: 2 prompts x 8 samples, 64 new tokens, temperature 1, no top-k or top-p, one
GRPO update per rollout at lr 1e-6, no KL and no reference model, no activation checkpointing
(TRL's defaults, bf16 and gradient checkpointing, are turned off to match). Each side's window
runs from the end of step `--warmup` to the end of the last step; generation seconds per step are
measured around each side's sampler (with `--engine vllm`, lit-rlvr samples through the vLLM
engine and its weight sync counts as generation). The table gives every round and the medians; the
last lines are the ratios of the median completions/s and tokens/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPTS, GROUP, NEW_TOKENS, LR = 2, 8, 64, 1e-6
LIT_RLVR_ARGS = [
    "--config", str(ROOT / "configs" / "grpo.yaml"),
    f"--data.prompts_per_step={PROMPTS}",
    f"--rollout.engine.samples_per_prompt={GROUP}",
    f"--rollout.engine.max_new_tokens={NEW_TOKENS}",
    "--rollout.engine.top_k=0",
    f"--model.lr={LR}",
]  # fmt: skip


def trl_side(prompts_file: str, model: str, steps: int, warmup: int, threads: int) -> dict:
    """Runs in TRL's environment: `GRPOTrainer` with plain `generate`, timed per step."""
    import resource

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    torch.set_num_threads(threads)
    rows = json.loads(Path(prompts_file).read_text())
    dataset = Dataset.from_list([{"prompt": row["messages"], "gold": row["gold"]} for row in rows])

    def correct(completions, gold, **_):
        found = [
            re.findall(r"-?\d+(?:\.\d+)?", c[0]["content"] if isinstance(c, list) else c) for c in completions
        ]
        return [float(bool(numbers) and numbers[-1] == g) for numbers, g in zip(found, gold, strict=True)]

    policy = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    generate_seconds = [0.0]
    plain_generate = policy.generate

    def timed_generate(*args, **kwargs):
        started = time.perf_counter()
        try:
            return plain_generate(*args, **kwargs)
        finally:
            generate_seconds[0] += time.perf_counter() - started

    policy.generate = timed_generate

    class Clock(TrainerCallback):
        ends, generate, lengths = [], [], []

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())
            self.generate.append(generate_seconds[0])
            generate_seconds[0] = 0.0

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "completions/mean_length" in logs:
                self.lengths.append(logs["completions/mean_length"])

    with tempfile.TemporaryDirectory() as output_dir:
        config = GRPOConfig(
            output_dir=output_dir,
            use_cpu=True,
            bf16=False,
            gradient_checkpointing=False,
            per_device_train_batch_size=PROMPTS * GROUP,
            generation_batch_size=PROMPTS * GROUP,
            num_generations=GROUP,
            max_completion_length=NEW_TOKENS,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            learning_rate=LR,
            beta=0.0,
            num_iterations=1,
            max_steps=warmup + steps,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            seed=0,
        )
        trainer = GRPOTrainer(
            model=policy, reward_funcs=correct, args=config, train_dataset=dataset, callbacks=[Clock()]
        )
        trainer.train()
    window = Clock.ends[-1] - Clock.ends[warmup - 1]
    completions = steps * PROMPTS * GROUP
    tokens = sum(Clock.lengths[warmup:]) * PROMPTS * GROUP
    return {
        "side": "TRL",
        "completions_per_s": completions / window,
        "tokens_per_s": tokens / window,
        "step_s": window / steps,
        "generate_s": sum(Clock.generate[warmup:]) / steps,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


ENGINES = {"decoder": "lit_rlvr.rollout.RolloutGenerator", "vllm": "lit_rlvr.vllm_engine.VLLMEngine"}


def lit_rlvr_side(steps: int, warmup: int, threads: int, out: str, engine: str) -> dict:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), f"--steps={steps}", f"--warmup={warmup}",
         f"--threads={threads}", f"--json={out}", "--", *LIT_RLVR_ARGS,
         f"--rollout.engine={ENGINES[engine]}"],
        check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": str(threads)},
    )  # fmt: skip
    result = json.loads(Path(out).read_text())
    return {
        "side": "lit-rlvr",
        "completions_per_s": result["completions_per_s"],
        "tokens_per_s": result["tokens_per_s"],
        "step_s": result["step_s"],
        "generate_s": result["phase_s"]["generate"] + result["phase_s"]["sync"],
        "rss_mib": result["peak_memory"]["rss_mib"],
        "benchmark": result,
    }


def write_prompts(path: Path) -> str:
    """The first 64 training prompts of the config's task, and the model folder both sides load."""
    from lit_rlvr.models import SMOLLM2, resolve
    from lit_rlvr.tasks.arithmetic import ArithmeticTask

    rows = ArithmeticTask(operations=["+"], max_operand=20, phrasing="plain").rows("train").select(range(64))
    path.write_text(json.dumps([{"messages": row["messages"], "gold": row["gold"]} for row in rows]))
    return resolve(SMOLLM2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trl_python", default=None, help="the Python of an environment with TRL installed")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="measured steps per run")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--engine", choices=sorted(ENGINES), default="decoder", help="lit-rlvr's sampler")
    parser.add_argument("--json", default=None, help="also write every round here")
    parser.add_argument("--side", choices=["trl"], help=argparse.SUPPRESS)
    parser.add_argument("--prompts", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "trl":
        print(json.dumps(trl_side(args.prompts, args.model, args.steps, args.warmup, args.threads)))
        return
    if not args.trl_python or not Path(args.trl_python).exists():
        parser.error(
            f"--trl_python {args.trl_python!r}: expected the Python of an environment with trl installed"
        )
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        prompts = Path(scratch) / "prompts.json"
        model = write_prompts(prompts)
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}/{args.rounds}: lit-rlvr ...", file=sys.stderr, flush=True)
            ours = lit_rlvr_side(
                args.steps, args.warmup, args.threads, str(Path(scratch) / "ours.json"), args.engine
            )
            print(f"round {round_}/{args.rounds}: TRL ...", file=sys.stderr, flush=True)
            trl = subprocess.run(
                [args.trl_python, __file__, "--side=trl", f"--prompts={prompts}", f"--model={model}",
                 f"--steps={args.steps}", f"--warmup={args.warmup}", f"--threads={args.threads}"],
                check=True, capture_output=True, text=True,
                env={**os.environ, "OMP_NUM_THREADS": str(args.threads)},
            )  # fmt: skip
            theirs = json.loads(trl.stdout.strip().splitlines()[-1])
            results += [{"round": round_, **ours}, {"round": round_, **theirs}]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(
        f"{'round':<7}{'side':<10}{'compl/s':>9}{'tokens/s':>10}{'s/step':>9}{'generate s':>12}{'RSS MiB':>9}"
    )
    for row in results:
        print(
            f"{row['round']:<7}{row['side']:<10}{row['completions_per_s']:>9.3f}{row['tokens_per_s']:>10.1f}"
            f"{row['step_s']:>9.1f}{row['generate_s']:>12.1f}{row['rss_mib']:>9.0f}"
        )
    for reading in ("completions_per_s", "tokens_per_s"):
        median = {
            side: statistics.median(r[reading] for r in results if r["side"] == side)
            for side in ("lit-rlvr", "TRL")
        }
        print(f"median {reading}: lit-rlvr ({args.engine}) {median['lit-rlvr']:.3f}, TRL {median['TRL']:.3f}")
        print(f"lit-rlvr ({args.engine}) / TRL {reading}: {median['lit-rlvr'] / median['TRL']:.2f}x")


if __name__ == "__main__":
    main()
