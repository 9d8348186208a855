"""The scoring passes before a rollout's updates: which log-probs are needed, and under what distribution.

Before the updates a rollout may need `logp_old` (when it feeds more than one optimizer step, or the
KL sits in the reward) and `ref_logp` (when the objective uses a reference). Each pass runs without
gradient over micro-batches, under the distribution the rollout was sampled from: its temperature,
and its top-k/top-p truncation when `match_sampler_truncation` asks for it (`_distribution`, which
the update's own forward uses too).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lit_rlvr.batching import rollout_micro_batches
from lit_rlvr.logprobs import completion_logprobs
from lit_rlvr.rollout import Rollout


class ScoringPasses:
    """`RLVRModule`'s scoring passes (a mixin: they read its `policy`, `reference`, `objective`,
    `ppo_epochs`, `updates_per_rollout`, `reference_is_base`, micro-batch knobs and
    `match_sampler_truncation`)."""

    @property
    def needs_logp_old(self) -> bool:
        """Whether `logp_old` is scored before the updates (off-policy passes, or the KL in the reward)."""
        return self.updates_per_rollout > 1 or self.objective.kl_in_reward

    @property
    def first_update_scores_itself(self) -> bool:
        """Whether the first mini-batch takes `logp_old` from its own forward pass, which runs on the
        sampling weights: when no epoch revisits its rows and the reward needs no `logp_old` first."""
        return self.ppo_epochs == 1 and not self.objective.kl_in_reward

    def _distribution(self, rollout: Rollout) -> dict[str, Any]:
        """How log-probs of `rollout` are scored: its temperature, and its truncation when matched."""
        truncated = self.match_sampler_truncation
        return {
            "temperature": rollout.temperature,
            "top_k": rollout.top_k if truncated else 0,
            "top_p": rollout.top_p if truncated else 1.0,
        }

    def cut_micro_batches(self, rollout: Rollout, indices: Tensor) -> list[Tensor]:
        """`indices` cut into micro-batches by `micro_batch_size` and `micro_batch_tokens`."""
        return rollout_micro_batches(rollout, indices, self.micro_batch_size, self.micro_batch_tokens)

    @torch.no_grad()
    def sequence_logprobs(self, model: nn.Module, rollout: Rollout, indices: Tensor | None = None) -> Tensor:
        """`[N, T]` log-probs of the rollout's completions (rows `indices`; None: all) under `model`."""
        logp = torch.zeros(rollout.completion_mask.shape, dtype=torch.float32, device=self.device)
        if indices is None:
            indices = torch.arange(len(rollout.texts), device=self.device)
        for index in self.cut_micro_batches(rollout, indices):
            part = rollout.select(index)
            scored = completion_logprobs(
                model,
                part.input_ids,
                part.attention_mask,
                part.completion_mask,
                **self._distribution(rollout),
            )
            logp[index, : scored.logp.shape[1]] = scored.logp
        return logp

    def _score(self, rollout: Rollout, order: list[Tensor]) -> Rollout:
        """The rollout with `logp_old` (when needed) and `ref_logp` (when the objective uses a reference).

        The first mini-batch's `logp_old` is left to its own update when it can be
        (`first_update_scores_itself`), so that pass is not run twice.
        """
        if self.needs_logp_old:
            indices = None
            if self.first_update_scores_itself:
                indices = torch.ones(len(rollout.texts), dtype=torch.bool, device=self.device)
                indices[order[0]] = False
                indices = indices.nonzero().squeeze(-1)
            rollout = rollout._replace(logp_old=self.sequence_logprobs(self.policy, rollout, indices))
        if self.reference is not None:
            rollout = rollout._replace(ref_logp=self.sequence_logprobs(self.reference, rollout))
        if self.reference_is_base:
            with self.policy.disable_adapter():
                rollout = rollout._replace(ref_logp=self.sequence_logprobs(self.policy, rollout))
        return rollout
