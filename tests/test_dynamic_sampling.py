"""Dynamic sampling (DAPO): group selection, concatenation across rounds, the sampling loop and its cap."""

import itertools

import pytest
import torch
from fit_helpers import fit

from lit_rlvr.dynamic_sampling import concat_rollouts, sample_informative, select_groups
from lit_rlvr.objectives import DAPO
from lit_rlvr.rollout import Rollout

PAD = 0


def fake_rollout(rewards: list[list[float]], prompt_len: int, completion_len: int, tag: int = 0) -> Rollout:
    """B groups of G samples; prompt and completion ids encode (tag, row) so rows can be traced."""
    scores = torch.tensor(rewards)  # [B, G]
    n = scores.numel()
    ids = torch.arange(1, n + 1)[:, None] + 100 * tag
    return Rollout(
        prompt_ids=ids.repeat(1, prompt_len),
        prompt_mask=torch.ones(n, prompt_len, dtype=torch.bool),
        completion_ids=ids.repeat(1, completion_len),
        completion_mask=torch.ones(n, completion_len, dtype=torch.bool),
        truncated=torch.zeros(n, dtype=torch.bool),
        texts=[f"{tag}-{i}" for i in range(n)],
        rows=[{"gold": f"{tag}-{b}"} for b in range(len(rewards))],
        group_size=scores.shape[1],
        max_new_tokens=completion_len,
        temperature=1.0,
        rewards=scores.flatten(),
        correct=scores.flatten() == 1,
        reward_terms={"correct": scores.flatten()},
        timings={"generate": 1.0},
    )


def test_select_groups_keeps_whole_groups_in_order():
    rollout = fake_rollout([[0, 1], [1, 1], [0, 0], [1, 0]], prompt_len=2, completion_len=3)
    kept = select_groups(rollout, DAPO().keep_groups(rollout.rewards.view(4, 2), rollout.correct.view(4, 2)))
    assert kept.texts == ["0-0", "0-1", "0-6", "0-7"]
    assert [row["gold"] for row in kept.rows] == ["0-0", "0-3"]
    assert kept.rewards.tolist() == [0, 1, 1, 0]
    assert kept.reward_terms["correct"].tolist() == [0, 1, 1, 0]


def test_concat_pads_prompts_left_and_completions_right():
    short = fake_rollout([[0, 1]], prompt_len=2, completion_len=3, tag=1)
    long = fake_rollout([[1, 0]], prompt_len=4, completion_len=1, tag=2)
    both = concat_rollouts([short, long], PAD)
    assert both.prompt_ids.shape == (4, 4) and both.completion_ids.shape == (4, 3)
    assert both.prompt_mask[0].tolist() == [False, False, True, True]
    assert both.prompt_ids[0].tolist() == [PAD, PAD, 101, 101]
    assert both.completion_mask[2].tolist() == [True, False, False]
    assert both.texts == ["1-0", "1-1", "2-0", "2-1"] and len(both.rows) == 2
    assert both.timings == {"generate": 2.0}


def rounds_of(*rewards):
    """A `collect` that returns the given reward matrices round after round, ignoring the prompts."""
    made = iter([fake_rollout(r, prompt_len=2, completion_len=2, tag=i) for i, r in enumerate(rewards)])
    return lambda batch: next(made)


def test_sampling_fills_the_batch_from_later_rounds():
    collect = rounds_of([[0, 0], [0, 1]], [[1, 1], [1, 1]], [[1, 0], [0, 1]])
    sampled = sample_informative(
        collect,
        {},
        itertools.repeat({}),
        DAPO().keep_groups,
        prompts_needed=2,
        max_rounds=5,
        pad_token_id=PAD,
    )
    assert (sampled.rounds, sampled.capped) == (3, False)
    assert [row["gold"] for row in sampled.rollout.rows] == [
        "0-1",
        "2-0",
    ]  # the third round's extra group is left out


def test_sampling_cap_trains_on_what_it_has():
    collect = rounds_of([[0, 0], [0, 1]], [[1, 1], [1, 1]])
    sampled = sample_informative(
        collect,
        {},
        itertools.repeat({}),
        DAPO().keep_groups,
        prompts_needed=2,
        max_rounds=2,
        pad_token_id=PAD,
    )
    assert (sampled.rounds, sampled.capped, sampled.informative) == (2, True, 1)
    assert [row["gold"] for row in sampled.rollout.rows] == ["0-1"]


def test_sampling_cap_with_nothing_kept_returns_the_last_round():
    collect = rounds_of([[0, 0]], [[1, 1]])
    sampled = sample_informative(
        collect,
        {},
        itertools.repeat({}),
        DAPO().keep_groups,
        prompts_needed=1,
        max_rounds=2,
        pad_token_id=PAD,
    )
    assert sampled.capped and sampled.informative == 0 and sampled.rollout.texts == ["1-0", "1-1"]


def test_objectives_without_dynamic_sampling_use_the_first_round_as_is():
    collect = rounds_of([[0, 0], [1, 1]])
    sampled = sample_informative(
        collect,
        {},
        iter(()),
        DAPO(filter_groups=False).keep_groups,
        prompts_needed=2,
        max_rounds=1,
        pad_token_id=PAD,
    )
    assert (sampled.rounds, sampled.capped, sampled.informative) == (1, False, 2)
    assert len(sampled.rollout.texts) == 4


def test_filter_metric_reward_keeps_groups_with_unequal_continuous_rewards():
    rewards = torch.tensor([[0.2, 0.4], [0.3, 0.3]])
    keep = DAPO(filter_metric="reward").keep_groups(rewards, torch.zeros(2, 2, dtype=torch.bool))
    assert keep.tolist() == [True, False]


def test_a_capped_step_warns_naming_the_knob_and_what_it_trains_on(tmp_path):
    # The tiny model never scores a whole 1 on the vowel share: every group is all wrong, none is kept.
    with pytest.warns(
        UserWarning,
        match=r"dynamic sampling kept 0 of the 2 groups needed in model.objective.max_sampling_rounds=2 "
        r"rounds; training on the last round's groups, which carry no signal",
    ):
        cli, history = fit(
            "--model.objective=DAPO",
            "--model.objective.max_sampling_rounds=2",
            "--rollout.engine.samples_per_prompt=2",
            "--rollout.engine.max_new_tokens=4",
            "--data.prompts_per_step=2",
            "--validate_before_fit=false",
            "--trainer.limit_val_batches=0",
            "--trainer.max_steps=1",
            "--trainer.callbacks+=fit_helpers.History",
            root=str(tmp_path),
        )
    assert history.steps[0]["rollout/sampling_capped"] == 1.0
    assert history.steps[0]["rollout/sampling_rounds"] == 2.0
