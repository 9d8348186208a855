"""The rollout callback: before each batch, sample completions from the policy, verify them, attach them.

It is a callback, as the design card asks, because *when* and *how* rollouts are produced is a
scheduling concern that researchers swap (another sampler, a reward server, dynamic sampling),
while the module only consumes a verified `Rollout`. It stays a thin scheduler over two
components that are tested on their own: `RolloutGenerator` and `RewardScorer`.

Contract with the module: before every training batch it calls `pl_module.attach_rollout(rollout)`
with rewards (shaped by `objective.shape_rewards`), correctness, per-term rewards, `logp_old`
(when `pl_module.needs_logp_old`: a rollout feeds more than one optimizer step, or the KL sits in
the reward) and `ref_logp` (when the objective uses a reference) filled in; before every
validation batch it attaches a greedy, verified rollout with one completion per prompt.

Dynamic sampling (`objective.keep_groups`, DAPO): groups the objective drops are replaced by groups
of further prompts, drawn from a second shuffle of the training prompts (its own seed, so the
Trainer's own prompt order is untouched; seed and position are checkpointed), for at most
`objective.max_sampling_rounds` rounds.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader

from lit_rlvr.dynamic_sampling import sample_informative
from lit_rlvr.rewards.terms import RewardScorer, RewardTerm
from lit_rlvr.rollout import Rollout, RolloutGenerator

DEFAULT_REWARDS = (RewardTerm(name="correct", fn="lit_rlvr.rewards.math.correct", weight=1.0),)


class RolloutCollector(Callback):
    """Samples, verifies and attaches a rollout before each training and validation batch.

    Args:
        samples_per_prompt: G, completions sampled per training prompt.
        max_new_tokens: the generation budget per completion.
        temperature: sampling temperature.
        top_p: nucleus sampling threshold (1.0 disables it).
        top_k: top-k sampling (0 disables it).
        rewards: weighted reward terms; the first is the correctness check that accuracy counts.
        reward_workers: reward worker processes.
        reward_timeout_s: per-call reward limit; a call past it scores 0 and is counted.
    """

    def __init__(
        self,
        *,
        samples_per_prompt: int = 8,
        max_new_tokens: int = 128,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        rewards: list[RewardTerm] | None = None,
        reward_workers: int = 2,
        reward_timeout_s: float = 5.0,
    ) -> None:
        self.generator = RolloutGenerator(
            samples_per_prompt=samples_per_prompt,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
        )
        self.scorer = RewardScorer(
            list(rewards or DEFAULT_REWARDS), workers=reward_workers, timeout_s=reward_timeout_s
        )
        self.failures: dict[str, int] = {}
        self._more_prompts: Iterator[dict[str, Any]] | None = None
        self._more_prompts_seed: int | None = None
        self._more_prompts_drawn = 0

    def collect(self, module: LightningModule, batch: dict[str, Any], *, greedy: bool) -> Rollout:
        """Generates and verifies a rollout for `batch` (log-probs not yet filled)."""
        started = time.perf_counter()
        rollout = self.generator(module.policy, module.tokenizer, batch, greedy=greedy)
        generated = time.perf_counter()
        group = rollout.group_size
        rows = [row for row in rollout.rows for _ in range(group)]
        scores = self.scorer(rollout.texts, rows)
        for key, count in scores.failures.items():
            self.failures[key] = self.failures.get(key, 0) + count
        timings = {"generate": generated - started, "verify": time.perf_counter() - generated}
        return rollout._replace(
            rewards=scores.rewards, correct=scores.correct, reward_terms=scores.terms, timings=timings
        )

    def _extra_prompts(self, trainer: Trainer) -> Iterator[dict[str, Any]]:
        """Endless prompt batches for dynamic sampling, from a second shuffle of the training prompts."""
        if self._more_prompts is None:
            if self._more_prompts_seed is None:
                self._more_prompts_seed = trainer.global_step + 1
            loader = trainer.datamodule.train_dataloader()
            shuffled = DataLoader(
                loader.dataset,
                batch_size=loader.batch_size,
                shuffle=True,
                collate_fn=loader.collate_fn,
                generator=torch.Generator().manual_seed(self._more_prompts_seed),
            )
            stream = itertools.chain.from_iterable(itertools.repeat(shuffled))
            for _ in range(self._more_prompts_drawn):  # resumed: skip what the checkpointed run drew
                next(stream)
            self._more_prompts = self._count_drawn(stream)
        return self._more_prompts

    def _count_drawn(self, stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for batch in stream:
            self._more_prompts_drawn += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        """Checkpointed: the dynamic-sampling prompt stream's seed and position, and the failure counts."""
        return {
            "more_prompts_seed": self._more_prompts_seed,
            "more_prompts_drawn": self._more_prompts_drawn,
            "failures": dict(self.failures),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._more_prompts_seed = state["more_prompts_seed"]
        self._more_prompts_drawn = state["more_prompts_drawn"]
        self.failures = dict(state["failures"])
        self._more_prompts = None

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        objective = pl_module.objective
        sampled = sample_informative(
            lambda prompts: self.collect(pl_module, _to(prompts, pl_module.device), greedy=False),
            batch,
            self._extra_prompts(trainer) if objective.max_sampling_rounds > 1 else iter(()),
            objective.keep_groups,
            prompts_needed=len(batch["rows"]),
            max_rounds=objective.max_sampling_rounds,
            pad_token_id=pl_module.tokenizer.pad_token_id,
        )
        rollout = sampled.rollout
        if sampled.capped:
            training_on = "those" if sampled.informative else "the last round's groups, which carry no signal"
            rank_zero_warn(
                f"dynamic sampling kept {sampled.informative} of the {len(batch['rows'])} groups needed in "
                f"model.objective.max_sampling_rounds={objective.max_sampling_rounds} rounds; training on "
                f"{training_on} (raise the knob, or use a task whose groups are less often all right or "
                "all wrong)"
            )
        group = rollout.group_size
        lengths = rollout.completion_mask.sum(-1).view(-1, group)
        shaped = objective.shape_rewards(rollout.rewards.view(-1, group), lengths, rollout.max_new_tokens)
        rollout = rollout._replace(rewards=shaped.reshape(-1))
        pl_module.log_dict(
            {
                "rollout/sampling_rounds": float(sampled.rounds),
                "rollout/sampling_capped": float(sampled.capped),
            },
            batch_size=1,
        )
        started = time.perf_counter()
        if pl_module.needs_logp_old:
            rollout = rollout._replace(logp_old=pl_module.sequence_logprobs(pl_module.policy, rollout))
        if pl_module.reference is not None:
            rollout = rollout._replace(ref_logp=pl_module.sequence_logprobs(pl_module.reference, rollout))
        rollout.timings["logprob"] = time.perf_counter() - started
        pl_module.log_dict({f"reward/{key}": float(n) for key, n in self.failures.items()}, batch_size=1)
        pl_module.attach_rollout(rollout)

    def on_validation_batch_start(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        pl_module.attach_rollout(self.collect(pl_module, batch, greedy=True))

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.scorer.close()


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in batch.items()
    }
