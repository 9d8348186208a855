"""Sampling completions: left-padded prompt batches, G samples each, a completion mask.

Shapes: `B` prompts, `G` samples per prompt, `N = B * G` sequences (sample g of prompt b at row
`b * G + g`), `P` prompt length, `T` completion length.

The rollout engine is a seam (`RolloutEngine`): prompts in, `Rollout` out, and `sync_weights`,
which the rollout callback calls after each training step's updates. The sampling knobs are
defined once, on the base class, so every engine takes the same ones and a config swaps engines
with one override. `RolloutGenerator` samples with the policy itself (`lit_rlvr.decoding`);
`lit_rlvr.vllm_engine.VLLMEngine` samples with a colocated vLLM engine. Either returns the
sampler's own log-probs of the tokens it drew, which the module compares with the trainer's
(`lit_rlvr.mismatch`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from lit_rlvr.decoding import Sampled, sample_completions


class Rollout(NamedTuple):
    """A batch of sampled completions; the rollout callback fills the rewards in, the module the log-probs."""

    prompt_ids: Tensor  # [N, P] left-padded
    prompt_mask: Tensor  # [N, P] bool
    completion_ids: Tensor  # [N, T] padded after EOS (after the last turn's, for several turns)
    completion_mask: Tensor  # [N, T] bool, the policy's own tokens: up to and including the first EOS
    truncated: Tensor  # [N] bool, no EOS within the budget
    texts: list[str]  # N decoded completions
    rows: list[dict[str, Any]]  # B dataset rows (gold, data_source, ...)
    group_size: int  # G
    max_new_tokens: int  # the generation budget, T <= max_new_tokens
    temperature: float  # of the sampling distribution; log-probs are taken at the same temperature
    rewards: Tensor | None = None  # [N]
    correct: Tensor | None = None  # [N] bool, the accuracy term scored 1
    reward_terms: dict[str, Tensor] | None = None  # name -> [N], unweighted
    top_k: int = 0  # of the sampling distribution (0: none)
    top_p: float = 1.0  # of the sampling distribution (1.0: none)
    sampler_logp: Tensor | None = None  # [N, T] the sampler's log-probs of its tokens; None for greedy
    logp_old: Tensor | None = None  # [N, T]; None: on-policy, the first pass's own detached log-probs
    ref_logp: Tensor | None = None  # [N, T]
    timings: dict[str, float] | None = None  # seconds per phase
    observation_mask: Tensor | None = None  # [N, T] bool, the tokens between turns the policy read, not wrote
    episode_counts: dict[str, Tensor] | None = None  # name -> [N] per-episode counts of a multi-turn rollout

    @property
    def input_ids(self) -> Tensor:
        """`[N, P + T]` prompts followed by completions."""
        return torch.cat([self.prompt_ids, self.completion_ids], dim=1)

    @property
    def context_mask(self) -> Tensor:
        """`[N, T]` the completion tokens the model reads: the policy's and the observations between turns."""
        if self.observation_mask is None:
            return self.completion_mask
        return self.completion_mask | self.observation_mask

    @property
    def attention_mask(self) -> Tensor:
        """`[N, P + T]` real prompt tokens and completion tokens up to the end."""
        return torch.cat([self.prompt_mask, self.context_mask], dim=1)

    def select(self, index: Tensor) -> Rollout:
        """Rows `index` of every per-sequence tensor, trimmed of padding shared by all of them."""
        prompt_len = int(self.prompt_mask[index].sum(1).max())
        completion_len = max(int(self.context_mask[index].sum(1).max()), 1)  # the real tokens lead
        per_token = {
            name: getattr(self, name)[index][:, :completion_len]
            for name in (
                "completion_ids",
                "completion_mask",
                "observation_mask",
                "sampler_logp",
                "logp_old",
                "ref_logp",
            )
            if getattr(self, name) is not None
        }
        return self._replace(
            prompt_ids=self.prompt_ids[index][:, -prompt_len:],
            prompt_mask=self.prompt_mask[index][:, -prompt_len:],
            truncated=self.truncated[index],
            **per_token,
        )


def verified_rollout(batch: dict[str, Any]) -> Rollout:
    """The verified rollout the rollout callback put into a training or validation batch."""
    rollout = batch.get("rollout")
    if rollout is None or rollout.rewards is None:
        raise RuntimeError(
            "RLVRModule found no verified rollout for this batch: add the "
            "`lit_rlvr.callbacks.RolloutCollector` callback to the Trainer (the `lit-rlvr` CLI adds it)"
        )
    return rollout


def completion_mask(completion_ids: Tensor, eos_ids: Tensor) -> Tensor:
    """`[N, T]` True up to and including each row's first EOS (all True when there is none)."""
    is_eos = torch.isin(completion_ids, eos_ids).long()
    eos_before = is_eos.cumsum(-1) - is_eos  # EOS tokens strictly before each position
    return eos_before == 0


class RolloutEngine:
    """Samples completions for the rollout callback; the sampling knobs every engine shares.

    Args:
        samples_per_prompt: G, completions sampled per training prompt (validation takes 1, greedy).
        max_new_tokens: the generation budget per completion.
        temperature: sampling temperature; log-probs are of the tempered distribution.
        top_p: nucleus sampling threshold (1.0 disables it).
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
            raise ValueError(f"rollout.engine.samples_per_prompt must be >= 1, got {samples_per_prompt}")
        if max_new_tokens < 1:
            raise ValueError(f"rollout.engine.max_new_tokens must be >= 1, got {max_new_tokens}")
        if temperature <= 0:
            raise ValueError(f"rollout.engine.temperature must be > 0, got {temperature}")
        if not 0 < top_p <= 1:
            raise ValueError(f"rollout.engine.top_p must be in (0, 1], got {top_p}")
        if top_k < 0:
            raise ValueError(f"rollout.engine.top_k must be >= 0, got {top_k}")
        self.samples_per_prompt = samples_per_prompt
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k

    def __call__(
        self,
        model: nn.Module,
        tokenizer: Any,
        batch: dict[str, Any],
        *,
        greedy: bool = False,
        samples: int | None = None,
    ) -> Rollout:
        """Completions for a collated prompt batch (`prompt_ids [B, P]`, `prompt_mask [B, P]`, `rows`):
        one argmax completion per prompt when `greedy`, else `samples` (None: `samples_per_prompt`)."""
        eos_ids = eos_token_ids(model, tokenizer).to(batch["prompt_ids"].device)
        sampled = self.sample(
            model,
            tokenizer,
            batch["prompt_ids"],
            batch["prompt_mask"],
            samples=1 if greedy else samples or self.samples_per_prompt,
            max_new_tokens=self.max_new_tokens,
            greedy=greedy,
        )
        return self.rollout(
            tokenizer, batch, sampled.tokens, sampled.logp, eos_ids, greedy=greedy, samples=samples
        )

    def sample(
        self,
        model: nn.Module,
        tokenizer: Any,
        prompt_ids: Tensor,
        prompt_mask: Tensor,
        *,
        samples: int,
        max_new_tokens: int,
        greedy: bool,
    ) -> Sampled:
        """`samples` continuations of each `[B, P]` left-padded prompt (rows prompt-major), each ending
        at the first EOS or after `max_new_tokens`, with the sampler's log-probs (0 when greedy)."""
        raise NotImplementedError

    def sync_weights(self, policy: nn.Module) -> None:
        """Makes the engine sample from `policy`'s current weights (called after each step's updates)."""

    def rollout(
        self,
        tokenizer: Any,
        batch: dict[str, Any],
        completion_ids: Tensor,
        sampler_logp: Tensor | None,
        eos_ids: Tensor,
        *,
        greedy: bool,
        samples: int | None = None,
    ) -> Rollout:
        """The `Rollout` of `[N, T]` completions drawn for `batch`, `samples` (None: `G`; 1 when greedy)
        per prompt."""
        group_size = 1 if greedy else samples or self.samples_per_prompt
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
            sampler_logp=None if greedy else torch.where(mask, sampler_logp, 0.0),
            **self.distribution(greedy),
        )

    def distribution(self, greedy: bool) -> dict[str, Any]:
        """The `Rollout` fields of the distribution sampled: argmax (`temperature` 1, no truncation)
        when `greedy`."""
        if greedy:
            return {"temperature": 1.0, "top_k": 0, "top_p": 1.0}
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p}


class RolloutGenerator(RolloutEngine):
    """Samples with the policy itself (`lit_rlvr.decoding`): prompts prefilled once, finished rows
    dropped; nothing to sync, the weights are the policy's."""

    @torch.no_grad()
    def sample(
        self,
        model: nn.Module,
        tokenizer: Any,
        prompt_ids: Tensor,
        prompt_mask: Tensor,
        *,
        samples: int,
        max_new_tokens: int,
        greedy: bool,
    ) -> Sampled:
        was_training = model.training
        model.eval()
        sampled = sample_completions(
            model,
            prompt_ids,
            prompt_mask,
            samples_per_prompt=samples,
            max_new_tokens=max_new_tokens,
            eos_ids=eos_token_ids(model, tokenizer).to(prompt_ids.device),
            pad_token_id=tokenizer.pad_token_id,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            greedy=greedy,
        )
        model.train(was_training)
        return sampled


def eos_token_ids(model: nn.Module, tokenizer: Any) -> Tensor:
    """`[E]` the tokens that end a completion: the generation config's and the tokenizer's EOS."""
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    ids.add(tokenizer.eos_token_id)
    return torch.tensor(sorted(i for i in ids if i is not None))
