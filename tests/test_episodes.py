"""Multi-turn rollouts: token in, token out; the policy's tokens alone are trained on."""

import signal
from pathlib import Path

import pytest
import torch
from environments import Echo
from fit_helpers import fit, logged
from test_resume import assert_same_run, steps
from test_resume import fit as resumable_fit

from lit_rlvr.environments.chat import ObservationTokens, messages_with_tools
from lit_rlvr.environments.sandbox import python
from lit_rlvr.episodes import episode_metrics, run_episodes
from lit_rlvr.logprobs import completion_logprobs
from lit_rlvr.rollout import RolloutGenerator

# A ChatML template that renders `tools=` as Qwen2.5's does, and one that refuses a `tool` message.
TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n# Tools\n{% for t in tools %}{{ t | tojson }}\n"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
STRICT_TEMPLATE = (
    "{% for m in messages %}{% if m.role not in ['user', 'assistant', 'system'] %}"
    "{{ raise_exception('roles are user, assistant and system') }}{% endif %}"
    "<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class Recording(RolloutGenerator):
    """Our decoder, keeping what it was given and what it drew at each turn."""

    def __init__(self, **knobs) -> None:
        super().__init__(**knobs)
        self.turns = []

    def sample(self, model, tokenizer, prompt_ids, prompt_mask, **knobs):
        sampled = super().sample(model, tokenizer, prompt_ids, prompt_mask, **knobs)
        self.turns.append(
            ([ids[mask].tolist() for ids, mask in zip(prompt_ids, prompt_mask, strict=True)], sampled)
        )
        return sampled


@pytest.fixture
def ends_often(varied_model):
    """Every seventh token ends a turn, so the random policy finishes turns as a trained one does."""
    varied_model.generation_config.eos_token_id = list(range(0, varied_model.config.vocab_size, 7))
    return varied_model


def test_a_multi_turn_trajectory_is_the_sampled_tokens_and_the_observations_as_tokenized(
    ends_often, tokenizer, prompt_batch
):
    torch.manual_seed(0)
    engine = Recording(samples_per_prompt=4, max_new_tokens=6)
    observation = ObservationTokens(tokenizer)
    environment = Echo(max_turns=3, max_tokens=48)
    rollout = run_episodes(
        engine, ends_often, tokenizer, prompt_batch, environment, observation, greedy=False
    )
    eos = set(ends_often.generation_config.eos_token_id)
    prompts = [
        ids[mask].tolist() for ids, mask in zip(rollout.prompt_ids, rollout.prompt_mask.bool(), strict=True)
    ]
    sequences = [
        p + ids[context].tolist()
        for p, ids, context in zip(prompts, rollout.completion_ids, rollout.context_mask, strict=True)
    ]
    assert not (rollout.completion_mask & rollout.observation_mask).any()
    assert rollout.episode_counts["turns"].max() == 3 and rollout.episode_counts["turns"].min() >= 1
    sampled_tokens = 0
    for prefixes, drawn in engine.turns:  # each turn was sampled from the exact ids so far ...
        for prefix, tokens, logp in zip(prefixes, drawn.tokens.tolist(), drawn.logp, strict=True):
            ends = [i for i, token in enumerate(tokens) if token in eos]
            turn = tokens[: ends[0] + 1] if ends else tokens
            kept = {}  # row -> how many of the turn's tokens it holds (its budget may cut the turn)
            for row, sequence in enumerate(sequences):
                start = len(prefix) - len(prompts[row])
                if sequence[: len(prefix)] != prefix or start >= rollout.completion_mask.shape[1]:
                    continue
                mine = rollout.completion_mask[row, start:].tolist()
                length = mine.index(False) if False in mine else len(mine)
                if 0 < length <= len(turn) and sequence[len(prefix) : len(prefix) + length] == turn[:length]:
                    kept[row] = length
            assert kept, (prefix, turn)
            row, length = next(iter(kept.items()))
            start = len(prefix) - len(prompts[row])
            assert (
                length == len(turn)
                or length == min(rollout.max_new_tokens, len(turn))
                or rollout.truncated[row]
            )
            # ... and kept as drawn, with its log-probs
            assert torch.equal(rollout.sampler_logp[row, start : start + length], logp[:length])
            sampled_tokens += length
    assert sampled_tokens == int(rollout.completion_mask.sum())  # every trained token was sampled so
    for row in range(len(sequences)):  # between the turns, each observation as tokenized once
        turns = int(rollout.episode_counts["turns"][row])
        observed = rollout.completion_ids[row][rollout.observation_mask[row]].tolist()
        said = [
            observation(f"you wrote {len(tokenizer.decode(turn, skip_special_tokens=True))} characters",
                        tokenizer.decode(turn[-1:]))
            for turn in _policy_turns(rollout, row)
        ]  # fmt: skip
        assert observed == sum(said[: turns - 1], []) or rollout.truncated[row]
    last_turns = [_policy_turns(rollout, row)[-1] for row in range(len(sequences))]
    assert rollout.texts == [tokenizer.decode(turn, skip_special_tokens=True) for turn in last_turns]
    assert episode_metrics(rollout)["env/turns"] == pytest.approx(
        float(rollout.episode_counts["turns"].mean())
    )


def _policy_turns(rollout, row: int) -> list[list[int]]:
    """The token ids of the policy's turns in a row, split where an observation lies between them."""
    turns, current = [], []
    for token, mine, context in zip(
        rollout.completion_ids[row].tolist(),
        rollout.completion_mask[row],
        rollout.context_mask[row],
        strict=True,
    ):
        if mine:
            current.append(token)
        elif context and current:
            turns.append(current)
            current = []
    turns.append(current)
    return turns


def test_the_trainer_scores_the_policy_tokens_in_their_multi_turn_context_as_the_sampler_did(
    ends_often, tokenizer, prompt_batch
):
    torch.manual_seed(1)
    engine = RolloutGenerator(samples_per_prompt=2, max_new_tokens=6)
    environment = Echo(max_turns=3, max_tokens=48)
    observation = ObservationTokens(tokenizer)
    rollout = run_episodes(
        engine, ends_often, tokenizer, prompt_batch, environment, observation, greedy=False
    )
    assert rollout.observation_mask.any()
    with torch.no_grad():
        scored = completion_logprobs(
            ends_often, rollout.input_ids, rollout.attention_mask, rollout.completion_mask
        )
    mask = rollout.completion_mask
    torch.testing.assert_close(scored.logp[mask], rollout.sampler_logp[mask], atol=1e-4, rtol=1e-4)
    assert (scored.logp[~mask] == 0).all()  # observations are context, never scored


def test_tools_go_through_the_template_or_the_system_message(tokenizer):
    messages = [{"role": "user", "content": "What is 1234 * 5678?"}]
    described, schemas = messages_with_tools(tokenizer, messages, [python], templated=True)
    assert schemas is None and described[0]["role"] == "system"  # SmolLM2's template ignores tools=
    assert '"name": "python"' in described[0]["content"] and "<tool_call>" in described[0]["content"]
    assert described[1:] == messages
    with_tools = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    with_tools.chat_template = TOOLS_TEMPLATE
    same, schemas = messages_with_tools(with_tools, messages, [python], templated=True)
    assert same == messages and schemas[0]["function"]["name"] == "python"
    assert schemas[0]["function"]["parameters"]["required"] == ["code"]


def test_an_observation_is_framed_as_the_template_frames_a_tool_message(tokenizer):
    observation = ObservationTokens(tokenizer)
    ids = observation("42", "<|im_end|>")  # the template's own end of an assistant turn stays the policy's
    assert tokenizer.decode(ids) == "\n<|im_start|>tool\n42<|im_end|>\n<|im_start|>assistant\n"
    other_end = observation("42", "<|endoftext|>")  # another end gets the template's closing too
    assert (
        tokenizer.decode(other_end) == "<|im_end|>\n<|im_start|>tool\n42<|im_end|>\n<|im_start|>assistant\n"
    )
    strict = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    strict.chat_template = STRICT_TEMPLATE
    wrapped = ObservationTokens(strict)(" 42", strict.eos_token)
    assert (
        strict.decode(wrapped)
        == "\n<|im_start|>user\n<tool_response> 42</tool_response><|im_end|>\n<|im_start|>assistant\n"
    )
    plain = ObservationTokens(tokenizer, chat_template=False)
    assert tokenizer.decode(plain("42", tokenizer.eos_token)) == "\nTool: 42\nAssistant:"


CONFIGS = Path(__file__).parents[1] / "configs"
# In-process fits that keep each step's readings (fit_helpers.History) and write nothing else.
RECORDED = [
    "--validate_before_fit=false",
    "--trainer.limit_val_batches=0",
    "--trainer.logger=false",
    "--trainer.enable_checkpointing=false",
    "--trainer.callbacks+=fit_helpers.History",
]
MULTI_TURN = [
    "--rollout.environment=environments.Echo",
    "--rollout.environment.max_turns=3",
    "--rollout.environment.max_tokens=32",
    "--rollout.engine.max_new_tokens=6",
    "--trainer.callbacks+=environments.EndsOften",
]


@pytest.mark.slow  # 1-2 minutes: `.ci/run` runs this file's slow tests in a stage of their own
@pytest.mark.parametrize("config", ["grpo", "ppo", "gspo", "sspo"])
def test_objectives_train_unchanged_on_multi_turn_rollouts(config, tmp_path):
    _, history = fit(
        f"--config={CONFIGS / config}.yaml",
        *MULTI_TURN,
        "--trainer.max_steps=2",
        "--rollout.engine.samples_per_prompt=4",
        "--data.prompts_per_step=2",
        "--model.micro_batch_size=8",
        *RECORDED,
        root=str(tmp_path),
    )
    assert max(step["env/turns"] for step in history.steps) > 1
    for step in history.steps:
        assert all(torch.isfinite(torch.tensor(value)) for value in step.values())


@pytest.mark.slow
def test_multi_turn_training_resumes_exactly_after_kill(tmp_path):
    assert resumable_fit(tmp_path / "uninterrupted", *MULTI_TURN) == 0
    assert resumable_fit(tmp_path / "resumed", *MULTI_TURN, kill_at_step=5) == -signal.SIGKILL
    assert resumable_fit(tmp_path / "resumed", *MULTI_TURN, "--ckpt_path=last") == 0
    uninterrupted = steps(tmp_path / "uninterrupted")
    assert "env/turns" in uninterrupted[1]
    assert_same_run(steps(tmp_path / "resumed"), uninterrupted)


@pytest.mark.slow
def test_the_tiny_model_learns_to_call_a_tool_when_only_the_tool_pays(tmp_path):
    # The only reward is the environment's: 1 for the first call of its tool in an episode (a turn
    # of at least 40% vowels, `environments.VowelCalls`); the final reward term pays nothing.
    _, history = fit(
        "--rollout.environment=environments.VowelCalls",
        "--rollout.environment.max_turns=2",
        "--rollout.environment.max_tokens=32",
        "--rollout.engine.max_new_tokens=8",
        "--trainer.callbacks+=environments.EndsOften",
        "--rollout.rewards=[{name: nothing, fn: reward_fns.nothing}]",
        "--trainer.max_steps=60",
        "--model.lr=2e-2",
        "--rollout.engine.samples_per_prompt=8",
        "--data.prompts_per_step=4",
        "--seed_everything=0",
        *RECORDED,
        root=str(tmp_path),
    )
    used = [step["env/used_tool"] for step in history.steps]
    first, last = sum(used[:5]) / 5, sum(used[-5:]) / 5
    print(f"share of episodes that called the tool: {first:.2f} -> {last:.2f}")
    assert last >= first + 0.2, used


def test_validation_reads_tool_use_and_accuracy_with_and_without_a_tool():
    from lit_rlvr.metrics import ValidationTally

    tally = ValidationTally()
    tally.add(
        ["a"] * 4, torch.tensor([True, False, True, True]), None, torch.tensor([True, True, False, False])
    )
    readings = tally.readings()
    assert readings["val/used_tool"] == 0.5 and readings["val/accuracy"] == 0.75
    assert readings["val/accuracy_with_tool"] == 0.5 and readings["val/accuracy_without_tool"] == 1.0
    plain = ValidationTally()
    plain.add(["a"], torch.tensor([True]), None)
    assert "val/used_tool" not in plain.readings()


@pytest.mark.slow
@pytest.mark.parametrize("parallelism", ["ddp", "fsdp2"])
def test_multi_turn_rollouts_train_in_two_processes(tmp_path, parallelism):
    # Each process runs its own episodes, as many turns as they take: generation holds no collective.
    from test_distributed import two_process_fit

    done = two_process_fit(tmp_path, *MULTI_TURN, f"--parallelism={parallelism}")
    assert "`Trainer.fit` stopped: `max_steps=4` reached." in done.stdout + done.stderr
    assert max(value for _, value in logged(tmp_path, "env/turns")) > 1
