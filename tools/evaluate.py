"""Evaluate a model on a math task outside training: accuracy, pass@k, response lengths, verifier health.

    python tools/evaluate.py --model smollm2-135m-instruct                          # arithmetic validation
    python tools/evaluate.py --model exports/grpo --data gsm8k_test.jsonl --reader gsm8k \
        --samples 8 --temperature 0.6 --max_new_tokens 512 --out runs/eval/gsm8k.jsonl
    python tools/evaluate.py --task ArithmeticTask --task.phrasing plain --split validation --limit 64

`--model` takes what `lit_rlvr.models.load_causal_lm` takes: an alias, a local Hugging Face folder
(a training checkpoint exported with `tools/export_hf.py`) or a hub id. The prompts come from a
task (`--task`, class path and init args, as `data.task` in a training config) or from a file in a
reader's format (`--data` with `--reader`; every row of the file is evaluated). Prompts are rendered
and sampled with the training code (`render_prompt`, `RolloutGenerator`) and scored with the math
verifier in killable worker processes, so a number here means what `val/accuracy` means in training.

Greedy with `--samples 1 --temperature 0` (the default); otherwise `--samples` k completions per
prompt are sampled. Writes one JSONL row per completion to `--out` and the summary (also printed
as a markdown table, split by `data_source` when there are several) to `<out>.summary.json`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import datasets
import torch
from jsonargparse import CLI
from tqdm import tqdm

import lit_rlvr.tasks.countdown  # noqa: F401 - imported so that `--task` accepts its short class names
import lit_rlvr.tasks.word_problems  # noqa: F401
from lit_rlvr.data import ChatTemplate, collate_prompts, render_prompt
from lit_rlvr.models import SMOLLM2, load_causal_lm, load_tokenizer, resolve
from lit_rlvr.rollout import RolloutGenerator
from lit_rlvr.tasks.arithmetic import ArithmeticTask
from lit_rlvr.tasks.base import Split, Task
from lit_rlvr.tasks.files import FileTask
from lit_rlvr.tasks.readers import DAPOMathTask, DeepScaleRTask, GSM8KTask, MATH500Task, MATHTask
from lit_rlvr.verifiers.extract import answer_kind, extract_answer, gold_answer
from lit_rlvr.verifiers.math import score
from lit_rlvr.workers import WorkerPool

Reader = Literal["gsm8k", "math", "math500", "deepscaler", "dapo_math"]
READERS: dict[Reader, type[FileTask]] = {
    "gsm8k": GSM8KTask,
    "math": MATHTask,
    "math500": MATH500Task,
    "deepscaler": DeepScaleRTask,
    "dapo_math": DAPOMathTask,
}


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate of one prompt: 1 - C(n - c, k) / C(n, k) (Chen et al. 2021, eq. 1).

    The chance that k of the n samples, drawn without replacement, contain a correct one. Python's
    integers are exact, so the binomials need no product trick against overflow.

    Args:
        n: samples drawn for the prompt.
        c: how many of them are correct.
        k: the budget, 1 <= k <= n.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def budgets(n: int) -> list[int]:
    """The k reported for n samples per prompt: powers of two below n, and n itself."""
    return sorted({2**i for i in range(n.bit_length()) if 2**i < n} | {n})


def metrics(records: Sequence[dict[str, Any]], samples: int) -> dict[str, Any]:
    """Accuracy, pass@k, response length, truncation and verifier health of scored completions.

    Args:
        records: one per completion, with `prompt_id`, `score`, `length`, `truncated`, `no_answer`
            and `verifier` (the worker pool's status); every prompt has `samples` of them.
        samples: n, completions per prompt.
    """
    correct: Counter[int] = Counter()
    for record in records:
        correct[record["prompt_id"]] += record["score"] >= 1.0
    n = len(records)
    return {
        "prompts": len(correct),
        "completions": n,
        "accuracy": sum(r["score"] for r in records) / n,  # mean@k: every prompt has k completions
        **{
            f"pass@{k}": sum(pass_at_k(samples, c, k) for c in correct.values()) / len(correct)
            for k in budgets(samples)
        },
        "response_length_mean": sum(r["length"] for r in records) / n,
        "truncated": sum(r["truncated"] for r in records) / n,
        "no_answer": sum(r["no_answer"] for r in records) / n,
        "verifier_failures": dict(Counter(r["verifier"] for r in records if r["verifier"] != "ok")),
    }


def summarize(records: Sequence[dict[str, Any]], samples: int) -> dict[str, Any]:
    """`metrics` over all completions, and per `data_source` when there are several."""
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_source[record["data_source"]].append(record)
    summary = {"all": metrics(records, samples)}
    if len(by_source) > 1:
        summary["by_source"] = {name: metrics(rows, samples) for name, rows in sorted(by_source.items())}
    return summary


def markdown(summary: dict[str, Any], samples: int) -> str:
    """The summary as a markdown table: one line per data source (when several), then all."""
    ks = budgets(samples)
    header = ["data_source", "prompts", f"accuracy (mean@{samples})", *(f"pass@{k}" for k in ks)]
    header += ["response length", "truncated", "no answer", "verifier failures"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, m in [*summary.get("by_source", {}).items(), ("all", summary["all"])]:
        failures = ", ".join(f"{status} {count}" for status, count in m["verifier_failures"].items())
        cells = [name, str(m["prompts"]), f"{m['accuracy']:.4f}", *(f"{m[f'pass@{k}']:.4f}" for k in ks)]
        cells += [f"{m['response_length_mean']:.1f}", f"{m['truncated']:.3f}", f"{m['no_answer']:.3f}"]
        lines.append("| " + " | ".join([*cells, failures or "none"]) + " |")
    return "\n".join(lines)


def load_rows(
    task: Task | None,
    data: str | None,
    reader: Reader,
    split: Split | None,
    limit: int | None,
    skip_bad_rows: bool = False,
) -> tuple[datasets.Dataset, dict[str, Any]]:
    """The prompts to evaluate and a description of where they came from."""
    if task is not None and data is not None:
        raise ValueError("--task and --data: give a task or a data file, not both")
    if data is not None and split is not None:
        raise ValueError("--data and --split: a data file is evaluated whole; --split applies to --task")
    if data is not None:
        task = READERS[reader](train=data, skip_bad_rows=skip_bad_rows)
        rows = task.rows("train")  # a reader's `train` file, without a held-out fraction, is all of it
        where: dict[str, Any] = {"data": data, "reader": reader}
    else:
        task = task or ArithmeticTask()
        split = split or "validation"
        rows = task.rows(split)
        class_path = f"{type(task).__module__}.{type(task).__name__}"
        where = {"task": {"class_path": class_path, "init_args": vars(task)}, "split": split}
    if len(rows) == 0:
        empty = data if data is not None else f"{type(task).__name__}'s {split!r} split"
        raise ValueError(f"no prompts to evaluate: {empty} is empty")
    if limit is not None:
        rows = rows.select(range(min(limit, len(rows))))
    return rows, where


def complete(
    policy: torch.nn.Module,
    tokenizer: Any,
    generator: RolloutGenerator,
    pool: WorkerPool,
    batch: dict[str, Any],
    *,
    greedy: bool,
    first_id: int,
) -> list[dict[str, Any]]:
    """Generates and scores the completions of a collated prompt batch, one record per completion.

    Args:
        policy: the model, on the device of `batch`'s tensors.
        tokenizer: its tokenizer.
        generator: the sampler.
        pool: the verifier's worker processes.
        batch: `prompt_ids [B, P]`, `prompt_mask [B, P]` and the B task `rows`.
        greedy: decode greedily (one completion per prompt).
        first_id: the `prompt_id` of the batch's first prompt.
    """
    rollout = generator(policy, tokenizer, batch, greedy=greedy)
    group = rollout.group_size
    golds = [row["gold"] for row in rollout.rows for _ in range(group)]
    outcomes = pool.map(score, list(zip(rollout.texts, golds, strict=True)))
    lengths = rollout.completion_mask.sum(-1).tolist()  # [N]
    truncated = rollout.truncated.tolist()  # [N]
    records = []
    for i, (text, outcome) in enumerate(zip(rollout.texts, outcomes, strict=True)):
        row = rollout.rows[i // group]
        records.append(
            {
                "prompt_id": first_id + i // group,
                "sample": i % group,
                "data_source": row["data_source"],
                "prompt": row["messages"][-1]["content"],
                "gold": row["gold"],
                "completion": text,
                "score": outcome.value,
                "length": lengths[i],
                "truncated": truncated[i],
                "no_answer": extract_answer(text, answer_kind(gold_answer(row["gold"]))) is None,
                "verifier": outcome.status,
            }
        )
    return records


def evaluate(
    model: str = SMOLLM2,
    task: Task | None = None,
    data: str | None = None,
    reader: Reader = "gsm8k",
    skip_bad_rows: bool = False,
    split: Split | None = None,
    limit: int | None = None,
    samples: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = 0,
    max_new_tokens: int = 512,
    batch_size: int = 16,
    chat_template: ChatTemplate = "auto",
    seed: int = 0,
    verifier_workers: int = 2,
    verifier_timeout_s: float = 5.0,
    threads: int | None = None,
    out: Path = Path("results.jsonl"),
) -> dict[str, Any]:
    """Evaluates a model on a math task and writes per-completion rows and a summary.

    Args:
        model: an alias (`smollm2-135m-instruct`, `tiny-random-llama`), a local Hugging Face folder
            (e.g. exported from a training checkpoint by `tools/export_hf.py`) or a hub id.
        task: a task by class path and init args (default: the built-in arithmetic task).
        data: a .jsonl, .json, .parquet or .csv file in `reader`'s format, evaluated whole (instead
            of `task`; for other field names use `--task FileTask --task.train FILE ... --split train`).
        reader: the format of `data`.
        skip_bad_rows: skip (and log) records of `data` that cannot be read or converted instead of
            stopping at the first; a file without one good record is still an error.
        split: the task's split (default: validation); not with `data`.
        limit: evaluate only the first prompts (None for all).
        samples: k, completions per prompt; pass@k is reported for powers of two below k and k.
        temperature: 0 decodes greedily (only with samples=1); above 0 samples.
        top_p: nucleus sampling threshold (1.0 disables it).
        top_k: top-k sampling (0 disables it).
        max_new_tokens: the generation budget per completion; one without EOS within it is truncated.
        batch_size: prompts sampled together (each with `samples` completions).
        chat_template: as the training run's `data.chat_template`: `auto`, `required` or `none`.
        seed: the sampling seed.
        verifier_workers: verifier worker processes.
        verifier_timeout_s: per-completion verifier limit; a check past it scores 0 and is counted.
        threads: torch intra-op threads on CPU, as the training CLI's `--threads` (None: torch's
            default, one per core, which is many times slower when other processes share the cores).
        out: the JSONL of completions; the summary goes to `<out without .jsonl>.summary.json`.
    """
    greedy = temperature == 0
    try:
        if samples < 1 or batch_size < 1 or (limit is not None and limit < 1):
            raise ValueError("--samples, --batch_size and --limit must be >= 1")
        if temperature < 0 or (greedy and samples > 1):
            raise ValueError(
                f"--temperature {temperature} with --samples {samples}: greedy decoding (temperature 0) "
                "gives one completion per prompt; sample k > 1 at a temperature above 0 (e.g. 0.6 or 1.0)"
            )
        resolve(model)  # a missing folder or a .ckpt fails here, before the data is read
        generator = RolloutGenerator(
            samples_per_prompt=samples,
            max_new_tokens=max_new_tokens,
            temperature=1.0 if greedy else temperature,  # unused when greedy; the generator refuses 0
            top_p=top_p,
            top_k=top_k,
        )
        rows, source = load_rows(task, data, reader, split, limit, skip_bad_rows)
        tokenizer = load_tokenizer(model)
        policy = load_causal_lm(model)
    except (OSError, ValueError) as error:  # a bad argument, file, row or model: one line, no traceback
        if os.environ.get("LIT_RLVR_TRACEBACK") == "1":
            raise
        raise SystemExit(f"evaluate.py: error: {error}") from error
    if threads:
        torch.set_num_threads(threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    policy.to(device)
    prompts = rows.map(lambda row: {"input_ids": render_prompt(tokenizer, row["messages"], chat_template)})
    torch.manual_seed(seed)

    out.parent.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    started = time.perf_counter()
    with WorkerPool(workers=verifier_workers, timeout_s=verifier_timeout_s) as pool, out.open("w") as file:
        bar = tqdm(range(0, len(prompts), batch_size), desc="prompt batches", unit="batch")
        for start in bar:
            batch = collate_prompts(
                list(prompts.select(range(start, min(start + batch_size, len(prompts))))),
                tokenizer.pad_token_id,
            )
            batch = {key: v.to(device) if isinstance(v, torch.Tensor) else v for key, v in batch.items()}
            scored = complete(policy, tokenizer, generator, pool, batch, greedy=greedy, first_id=start)
            file.writelines(json.dumps(record) + "\n" for record in scored)
            file.flush()  # an interrupted run keeps the completions of every finished batch
            records += scored
            bar.set_postfix(accuracy=f"{sum(r['score'] for r in records) / len(records):.3f}")
    seconds = time.perf_counter() - started

    summary = {
        "model": model,
        **source,
        "samples": samples,
        "greedy": greedy,
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "max_new_tokens": max_new_tokens,
        "chat_template": chat_template,
        "seed": seed,
        "device": str(device),
        "seconds": seconds,
        **summarize(records, samples),
    }
    summary_path = out.with_suffix(".summary.json")
    summary_path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(markdown(summary, samples))
    print(f"\n{len(records)} completions in {seconds:.1f} s: {out}, summary in {summary_path}")
    return summary


def main() -> None:
    """Runs `evaluate` from the command line."""
    CLI(evaluate, as_positional=False)


if __name__ == "__main__":
    main()
