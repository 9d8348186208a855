"""The sampler: greedy output identical to Hugging Face `generate`, the same sampling distribution."""

import pytest
import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from lit_rlvr.decoding import draw, next_token_distribution, sample_completions


def hf_generate(model, batch, *, group, new_tokens, eos, pad, **sampling):
    output = model.generate(
        input_ids=batch["prompt_ids"],
        attention_mask=batch["prompt_mask"].long(),
        do_sample=bool(sampling),
        max_new_tokens=new_tokens,
        num_return_sequences=group,
        eos_token_id=eos,
        pad_token_id=pad,
        **sampling,
    )
    return output[:, batch["prompt_ids"].shape[1] :]


def ours(model, batch, *, group, new_tokens, eos, pad, greedy=False, **sampling):
    return sample_completions(
        model,
        batch["prompt_ids"],
        batch["prompt_mask"],
        samples_per_prompt=group,
        max_new_tokens=new_tokens,
        eos_ids=torch.tensor(eos),
        pad_token_id=pad,
        greedy=greedy,
        **sampling,
    ).tokens


def test_greedy_identical_to_generate_with_rows_finishing_early(varied_model, tokenizer, prompt_batch):
    pad = tokenizer.pad_token_id
    free = hf_generate(varied_model, prompt_batch, group=1, new_tokens=12, eos=[pad], pad=pad)
    # End row 0 at its 3rd token and row 1 at its 6th: the rows leave the cache at different steps.
    eos = sorted({int(free[0, 2]), int(free[1, 5])} - set(free[2].tolist()))
    assert eos, "the tiny model's third row happened to use both tokens"
    expected = hf_generate(varied_model, prompt_batch, group=1, new_tokens=12, eos=eos, pad=pad)
    got = ours(varied_model, prompt_batch, group=1, new_tokens=12, eos=eos, pad=pad, greedy=True)
    assert torch.equal(got, expected)
    assert (got == pad).sum(-1)[:2].min() > 0  # the early rows really did stop


@pytest.mark.parametrize(
    "temperature, top_k, top_p", [(1.0, 0, 1.0), (0.7, 0, 1.0), (1.3, 5, 1.0), (0.8, 0, 0.9), (0.6, 50, 0.8)]
)
def test_next_token_distribution_is_generates(temperature, top_k, top_p):
    torch.manual_seed(0)
    logits = torch.randn(6, 300) * 3
    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
    if top_k:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p < 1:
        warpers.append(TopPLogitsWarper(top_p))
    expected = warpers(None, logits.clone()).softmax(-1)
    got = next_token_distribution(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    assert torch.allclose(got, expected, atol=1e-7)
    if top_k or top_p < 1:
        assert (got == 0).any()


@torch.no_grad()
def exact_logprobs(model, prompt, completions, eos, *, temperature, top_k):
    """`[n]` log-probability of each completion (through its first EOS) under the intended distribution,
    from a full forward pass without any cache."""
    ids = torch.cat([prompt.expand(len(completions), -1), completions], dim=1)
    logits = model(ids).logits[:, prompt.shape[1] - 1 : -1]  # [n, T, V]
    probs = next_token_distribution(logits.flatten(0, 1), temperature=temperature, top_k=top_k, top_p=1.0)
    taken = probs.gather(-1, completions.flatten()[:, None]).view(completions.shape)
    is_eos = torch.isin(completions, torch.tensor(eos)).long()
    scored = (is_eos.cumsum(-1) - is_eos) == 0
    return torch.where(scored, taken.log(), 0.0).sum(-1)


def test_sampled_sequences_follow_generates_distribution(varied_model, tokenizer, prompt_batch):
    """Every sampled token lies in the top-k support of the true conditional (rows leave the cache
    mid-way), and the mean sequence log-prob equals `generate`'s within sampling noise."""
    pad = tokenizer.pad_token_id
    batch = {key: value[1:2] for key, value in prompt_batch.items() if key != "rows"}
    prompt = batch["prompt_ids"][:, batch["prompt_mask"][0]]
    first = hf_generate(varied_model, batch, group=1, new_tokens=1, eos=[pad], pad=pad)
    settings = dict(
        group=300, new_tokens=4, eos=[pad, int(first[0, 0])], pad=pad
    )  # the likeliest first token ends a row

    def scored(sampler, seed, temperature=0.7, top_k=20):
        torch.manual_seed(seed)
        completions = sampler(varied_model, batch, temperature=temperature, top_k=top_k, **settings)
        return exact_logprobs(varied_model, prompt, completions, settings["eos"], temperature=0.7, top_k=20)

    reference, same = scored(hf_generate, 1), scored(ours, 2)
    assert torch.isfinite(same).all()
    noise = 4 * (reference.var() / len(reference) + same.var() / len(same)).sqrt()
    assert (same.mean() - reference.mean()).abs() < noise
    # the test can tell another distribution: a colder one, and a wider support
    assert (scored(ours, 2, temperature=0.3).mean() - reference.mean()).abs() > noise
    assert not torch.isfinite(scored(ours, 2, top_k=40)).all()


def test_draw_follows_the_probabilities_and_never_picks_a_zero():
    torch.manual_seed(0)
    probs = next_token_distribution(torch.randn(4, 1000) * 2, temperature=1.0, top_k=7, top_p=1.0)
    probs[1] = 0
    probs[1, 999] = 1.0  # the last entry of a padded block
    draws = torch.stack([draw(probs) for _ in range(4000)])  # [4000, 4]
    for row in range(4):
        frequencies = torch.bincount(draws[:, row], minlength=1000).float() / len(draws)
        assert (frequencies[probs[row] == 0] == 0).all()
        assert (frequencies - probs[row]).abs().max() < 0.03  # 4000 draws: standard error <= 0.008
