"""Sampling G completions per prompt: each prompt prefilled once, and only unfinished rows decoded.

Hugging Face `generate` repeats every prompt G times before the prefill and keeps feeding rows
that have finished (padding them) until the last one ends. Here the prompts run through the
model once, their KV cache is repeated for the G samples, and each decoding step runs on the
rows still live: a finished row leaves the cache. The distribution is `generate`'s: temperature,
then top-k, then top-p (`next_token_distribution`, tested against its warpers); greedy is argmax.

Shapes: `B` prompts, `G` samples each, `N = B * G` rows (sample g of prompt b at row `b * G + g`),
`P` prompt length, `T` completion length (at most `max_new_tokens`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from lit_rlvr.logprobs import CACHE, check_cache_used, position_ids, truncated_logits


def next_token_distribution(logits: Tensor, *, temperature: float, top_k: int, top_p: float) -> Tensor:
    """`[n, V]` sampling probabilities from `[n, V]` logits: tempered, then top-k, then nucleus-truncated."""
    return truncated_logits(logits.float() / temperature, top_k=top_k, top_p=top_p).softmax(-1)


def draw(probs: Tensor, block: int = 256) -> Tensor:
    """`[n]` one token per row of `[n, V]` probabilities, by inverting the CDF in two levels.

    `torch.multinomial` draws an exponential variate per vocabulary entry (V = 49k for SmolLM2);
    this draws one uniform per row, picks a block of `block` tokens from the blocks' masses and a
    token inside it, accumulating in float64. A draw that rounding lands on a zero-probability
    token (measure zero in exact arithmetic) is redrawn with `torch.multinomial`.
    """
    rows, vocab = probs.shape
    blocks = torch.nn.functional.pad(probs, (0, -vocab % block)).view(rows, -1, block)
    mass = blocks.sum(-1, dtype=torch.float64)  # [n, K]
    cdf = mass.cumsum(-1)
    target = torch.rand(rows, 1, dtype=torch.float64, device=probs.device) * cdf[:, -1:]
    chosen_block = torch.searchsorted(cdf, target, right=True).clamp_(max=cdf.shape[1] - 1)  # [n, 1]
    within = target - (cdf.gather(-1, chosen_block) - mass.gather(-1, chosen_block))
    inner = blocks[torch.arange(rows, device=probs.device), chosen_block.squeeze(-1)].cumsum(
        -1, dtype=torch.float64
    )
    token = (
        chosen_block * block + torch.searchsorted(inner, within, right=True).clamp_(max=block - 1)
    ).squeeze(-1)
    token = token.clamp_(max=vocab - 1)
    stray = probs.gather(-1, token[:, None]).squeeze(-1) == 0
    if stray.any():
        token[stray] = torch.multinomial(probs[stray], 1).squeeze(-1)
    return token


class Sampled(NamedTuple):
    """What the decoder drew: tokens and the sampler's own log-probs of them."""

    tokens: Tensor  # [N, T] long, `pad_token_id` after each row's first EOS
    logp: Tensor  # [N, T] float32 log-prob of each drawn token under the distribution it was drawn from


@torch.no_grad()
def sample_completions(
    model: nn.Module,
    prompt_ids: Tensor,
    prompt_mask: Tensor,
    *,
    samples_per_prompt: int,
    max_new_tokens: int,
    eos_ids: Tensor,
    pad_token_id: int,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    greedy: bool = False,
) -> Sampled:
    """Completion tokens and their sampling log-probs (0 for greedy and after EOS).

    Args:
        model: a Hugging Face causal LM with a KV cache.
        prompt_ids: `[B, P]` left-padded prompts.
        prompt_mask: `[B, P]` 1 on real prompt tokens.
        samples_per_prompt: G.
        max_new_tokens: the longest completion.
        eos_ids: `[E]` tokens that end a completion.
        greedy: argmax instead of sampling.
    """
    num_rows = prompt_ids.shape[0] * samples_per_prompt
    out = model(
        input_ids=prompt_ids,
        attention_mask=prompt_mask.long(),
        position_ids=position_ids(prompt_mask),
        use_cache=True,
        logits_to_keep=1,
    )
    cache = getattr(out, CACHE)
    if samples_per_prompt > 1:
        cache.batch_repeat_interleave(samples_per_prompt)
    logits = out.logits[:, -1].repeat_interleave(samples_per_prompt, 0)  # [N, V]
    attention_mask = prompt_mask.long().repeat_interleave(samples_per_prompt, 0)  # [n, P + t]
    positions = attention_mask.sum(-1)  # [n], the next token's position
    live = torch.arange(num_rows, device=prompt_ids.device)  # rows still decoding
    tokens = torch.full(
        (num_rows, max_new_tokens), pad_token_id, dtype=prompt_ids.dtype, device=prompt_ids.device
    )
    logp = torch.zeros(tokens.shape, dtype=torch.float32, device=prompt_ids.device)
    for step in range(max_new_tokens):
        if greedy:
            chosen = logits.argmax(-1)
        else:
            probs = next_token_distribution(logits, temperature=temperature, top_k=top_k, top_p=top_p)
            chosen = draw(probs)
            logp[live, step] = probs.gather(-1, chosen[:, None]).squeeze(-1).log()
        tokens[live, step] = chosen
        going = ~torch.isin(chosen, eos_ids)
        if step == max_new_tokens - 1 or not going.any():
            return Sampled(tokens[:, : step + 1], logp[:, : step + 1])
        if not going.all():
            cache.batch_select_indices(going.nonzero().squeeze(-1))
            live, chosen, positions, attention_mask = (
                live[going],
                chosen[going],
                positions[going],
                attention_mask[going],
            )
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(len(live), 1)], dim=1)
        logits = model(
            input_ids=chosen[:, None],
            attention_mask=attention_mask,
            position_ids=positions[:, None],
            **{CACHE: cache},
            use_cache=True,
        ).logits[:, -1]
        if step == 0:
            check_cache_used(model, cache, prompt_ids.shape[1] + 1)
        positions = positions + 1
    return Sampled(tokens, logp)
