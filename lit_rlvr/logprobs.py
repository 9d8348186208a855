"""Log-probabilities and entropies of completion tokens, without a float32 `[N, T, V]` tensor.

The decoder runs once; the vocabulary projection then runs over the completion tokens in chunks,
each under activation checkpointing, so neither the forward nor the backward ever holds more
than `chunk_tokens x V` logits (V is 49k for SmolLM2: a full `[N, T, V]` float32 tensor would be
~6 GB at N = 256, T = 128).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint


class TokenLogprobs(NamedTuple):
    """`[N, T]` log-probs of the taken tokens and the policy's entropy at each position (0 off-mask)."""

    logp: Tensor
    entropy: Tensor


def position_ids(attention_mask: Tensor) -> Tensor:
    """Positions counted from each row's first real token, as `generate` uses for left padding."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def _head_logprobs(
    head: nn.Module, hidden: Tensor, targets: Tensor, temperature: float
) -> tuple[Tensor, Tensor]:
    logits = head(hidden).float() / temperature  # [M, V]
    log_norm = logits.logsumexp(-1)  # [M]
    logp = logits.gather(-1, targets[:, None]).squeeze(-1) - log_norm
    entropy = log_norm - (logits.softmax(-1) * logits).sum(-1)
    return logp, entropy


def completion_logprobs(
    model: nn.Module,
    input_ids: Tensor,
    attention_mask: Tensor,
    completion_mask: Tensor,
    *,
    temperature: float = 1.0,
    chunk_tokens: int = 1024,
) -> TokenLogprobs:
    """Scores the completion part of prompt+completion sequences.

    Args:
        model: a Hugging Face causal LM.
        input_ids: `[N, P + T]` left-padded prompts followed by completions.
        attention_mask: `[N, P + T]` 1 on real tokens.
        completion_mask: `[N, T]` bool, the completion tokens to score.
        temperature: the sampling temperature; log-probs are of the distribution actually sampled.
        chunk_tokens: completion tokens per vocabulary-projection chunk.

    Returns:
        `TokenLogprobs` with `[N, T]` tensors, zero where `completion_mask` is False.
    """
    num_completion = completion_mask.shape[1]
    # Calling the model itself (not its decoder) keeps FSDP's root hooks in play; asking for one
    # logit position makes its own vocabulary projection negligible.
    output = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids(attention_mask),
        output_hidden_states=True,
        logits_to_keep=1,
        use_cache=False,
    )
    hidden = output.hidden_states[-1][:, -num_completion - 1 : -1]  # [N, T, H]: the state before each token
    selected = hidden[completion_mask]  # [M, H], M completion tokens
    targets = input_ids[:, -num_completion:][completion_mask]  # [M]
    head = model.get_output_embeddings()
    logp_parts, entropy_parts = [], []
    for start in range(0, selected.shape[0], chunk_tokens):
        chunk = (
            head,
            selected[start : start + chunk_tokens],
            targets[start : start + chunk_tokens],
            temperature,
        )
        logp, entropy = (
            checkpoint(_head_logprobs, *chunk, use_reentrant=False)
            if torch.is_grad_enabled()
            else _head_logprobs(*chunk)
        )
        logp_parts.append(logp)
        entropy_parts.append(entropy)
    logp = torch.zeros(completion_mask.shape, dtype=torch.float32, device=input_ids.device)
    entropy = torch.zeros_like(logp)
    if logp_parts:
        logp = logp.masked_scatter(completion_mask, torch.cat(logp_parts))
        entropy = entropy.masked_scatter(completion_mask, torch.cat(entropy_parts))
    return TokenLogprobs(logp, entropy)
