"""Sampling completions from the policy: left-padded prompt batches, G samples each, a completion mask.

Shapes: `B` prompts, `G` samples per prompt, `N = B * G` sequences (sample g of prompt b at row
`b * G + g`), `P` prompt length, `T` completion length.

The rollout engine is a seam (`RolloutEngine`): prompts in, `Rollout` out, and `sync_weights`,
which the rollout callback calls after each training step's updates. `RolloutGenerator` (the policy
itself, through `lit_rlvr.decoding`) is the one engine, and its `sync_weights` has nothing to do.
A vLLM or SGLang engine is one more file with the same two methods, designed as follows (not
built: it needs a GPU to be tested on):
- colocated: the engine lives in each training process on the same GPU, created once with
  `gpu_memory_utilization` leaving room for training and sleep mode between rollouts (vLLM's
  `sleep(level=1)` / `wake_up()` frees its KV cache while the policy trains);
- `__call__` passes the prompt token ids (not text, so tokenization is ours), `n = G` samples
  with the same temperature, top-p and top-k, and builds `Rollout` from the returned token ids
  exactly as `RolloutGenerator` does; the engine's own log-probs are not used (the module rescores
  with the policy, so the ratio's denominator has the trainer's numerics);
- `sync_weights(policy)` streams the policy's parameters (gathered one block at a time under
  FSDP2, merged adapters under LoRA) into the engine's model with `load_weights`, so sampling
  always uses the weights of the last update; with several updates per rollout it runs once,
  after the last.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor, nn

from lit_rlvr.decoding import sample_completions


class Rollout(NamedTuple):
    """A batch of sampled completions; the rollout callback fills the rewards in, the module the log-probs."""

    prompt_ids: Tensor  # [N, P] left-padded
    prompt_mask: Tensor  # [N, P] bool
    completion_ids: Tensor  # [N, T] padded after EOS
    completion_mask: Tensor  # [N, T] bool, True up to and including the first EOS
    truncated: Tensor  # [N] bool, no EOS within the budget
    texts: list[str]  # N decoded completions
    rows: list[dict[str, Any]]  # B dataset rows (gold, data_source, ...)
    group_size: int  # G
    max_new_tokens: int  # the generation budget, T <= max_new_tokens
    temperature: float  # of the sampling distribution; log-probs are taken at the same temperature
    rewards: Tensor | None = None  # [N]
    correct: Tensor | None = None  # [N] bool, the accuracy term scored 1
    reward_terms: dict[str, Tensor] | None = None  # name -> [N], unweighted
    logp_old: Tensor | None = None  # [N, T]; None: on-policy, the first pass's own detached log-probs
    ref_logp: Tensor | None = None  # [N, T]
    timings: dict[str, float] | None = None  # seconds per phase

    @property
    def input_ids(self) -> Tensor:
        """`[N, P + T]` prompts followed by completions."""
        return torch.cat([self.prompt_ids, self.completion_ids], dim=1)

    @property
    def attention_mask(self) -> Tensor:
        """`[N, P + T]` real prompt tokens and completion tokens up to EOS."""
        return torch.cat([self.prompt_mask, self.completion_mask], dim=1)

    def select(self, index: Tensor) -> Rollout:
        """Rows `index` of every per-sequence tensor, trimmed of padding shared by all of them."""
        prompt_len = int(self.prompt_mask[index].sum(1).max())
        completion_len = max(int(self.completion_mask[index].sum(1).max()), 1)
        per_token = {
            name: getattr(self, name)[index][:, :completion_len]
            for name in ("completion_ids", "completion_mask", "logp_old", "ref_logp")
            if getattr(self, name) is not None
        }
        return self._replace(
            prompt_ids=self.prompt_ids[index][:, -prompt_len:],
            prompt_mask=self.prompt_mask[index][:, -prompt_len:],
            truncated=self.truncated[index],
            **per_token,
        )


def completion_mask(completion_ids: Tensor, eos_ids: Tensor) -> Tensor:
    """`[N, T]` True up to and including each row's first EOS (all True when there is none)."""
    is_eos = torch.isin(completion_ids, eos_ids).long()
    eos_before = is_eos.cumsum(-1) - is_eos  # EOS tokens strictly before each position
    return eos_before == 0


class RolloutEngine(Protocol):
    """What the rollout callback needs from a sampler."""

    samples_per_prompt: int

    def __call__(self, model: nn.Module, tokenizer: Any, batch: dict[str, Any], *, greedy: bool) -> Rollout:
        """Completions for a collated prompt batch (`prompt_ids [B, P]`, `prompt_mask [B, P]`, `rows`)."""

    def sync_weights(self, policy: nn.Module) -> None:
        """Makes the engine sample from `policy`'s current weights (called after each step's updates)."""


class RolloutGenerator:
    """Samples completions with the policy itself (`lit_rlvr.decoding`): prompts prefilled once,
    finished rows dropped.

    Args:
        samples_per_prompt: G, completions sampled per prompt.
        max_new_tokens: the generation budget per completion.
        temperature: sampling temperature; log-probs are of the tempered distribution.
        top_p: nucleus sampling threshold (1.0 disables it). The log-probs ignore the truncation,
            as verl and TRL do.
        top_k: top-k sampling (0 disables it).
    """

    def __init__(
        self,
        *,
        samples_per_prompt: int = 8,
        max_new_tokens: int = 128,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
    ) -> None:
        if samples_per_prompt < 1:
            raise ValueError(f"samples_per_prompt must be >= 1, got {samples_per_prompt}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        self.samples_per_prompt = samples_per_prompt
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k

    @torch.no_grad()
    def __call__(
        self, model: nn.Module, tokenizer: Any, batch: dict[str, Any], *, greedy: bool = False
    ) -> Rollout:
        """Generates for a collated prompt batch (`prompt_ids [B, P]`, `prompt_mask [B, P]`, `rows`)."""
        group_size = 1 if greedy else self.samples_per_prompt
        eos_ids = _eos_ids(model, tokenizer).to(batch["prompt_ids"].device)
        was_training = model.training
        model.eval()
        completion_ids = sample_completions(
            model,
            batch["prompt_ids"],
            batch["prompt_mask"],
            samples_per_prompt=group_size,
            max_new_tokens=self.max_new_tokens,
            eos_ids=eos_ids,
            pad_token_id=tokenizer.pad_token_id,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            greedy=greedy,
        )  # [N, T]
        model.train(was_training)
        mask = completion_mask(completion_ids, eos_ids)
        texts = tokenizer.batch_decode(
            completion_ids.masked_fill(~mask, tokenizer.pad_token_id), skip_special_tokens=True
        )
        return Rollout(
            prompt_ids=batch["prompt_ids"].repeat_interleave(group_size, 0),
            prompt_mask=batch["prompt_mask"].repeat_interleave(group_size, 0),
            completion_ids=completion_ids,
            completion_mask=mask,
            truncated=~torch.isin(completion_ids, eos_ids).any(-1),
            texts=texts,
            rows=batch["rows"],
            group_size=group_size,
            max_new_tokens=self.max_new_tokens,
            temperature=1.0 if greedy else self.temperature,
        )

    def sync_weights(self, policy: nn.Module) -> None:
        """Nothing to do: sampling runs on the policy itself."""


def _eos_ids(model: nn.Module, tokenizer: Any) -> Tensor:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    ids.add(tokenizer.eos_token_id)
    return torch.tensor(sorted(i for i in ids if i is not None))
