"""The rollout callback: before each batch, sample completions from the policy, verify them, hand them over.

It is a callback because *when* and *how* rollouts are produced is a scheduling concern that
researchers swap (another sampler, a reward server, dynamic sampling), while the module only
consumes a verified `Rollout`. It stays a thin scheduler over two
components that are tested on their own: a `RolloutEngine` (`lit_rlvr.rollout`, chosen by class
path under `rollout.engine`, which holds the sampling knobs) and `RewardScorer`.

Contract with the module: before every training batch it puts the rollout into the batch
(`batch["rollout"]`, which `training_step` receives) with the raw verified rewards (the weighted
sum of the reward terms), correctness and per-term rewards filled in; everything after
verification (reward shaping, old and reference log-probs, advantages, updates) is the module's.
Before every validation batch it puts in a greedy, verified rollout with one completion per
prompt and, with `validation_samples`, a sampled one (`batch["sampled_rollout"]`) drawn at the
training temperature from a random stream of its own: validation leaves the training's sampling
unchanged, and arms validated at the same step draw with the same seeds. After every training
batch it calls the engine's `sync_weights`. At setup it refuses a `samples_per_prompt` the
objective cannot work with.

With an `environment` (`lit_rlvr.environments`), a rollout is multi-turn (`lit_rlvr.episodes`):
the policy and the environment take turns, the environment's per-turn reward terms are added to
the verified reward, and its per-episode counts are logged as `env/...`.

Dynamic sampling (`objective.keep_groups`, DAPO): groups the objective drops are replaced by groups
of further prompts from `PromptDataModule.more_train_batches`, for at most
`objective.max_sampling_rounds` rounds.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from lit_rlvr.dynamic_sampling import sample_informative
from lit_rlvr.environments.base import Environment
from lit_rlvr.environments.chat import ObservationTokens
from lit_rlvr.episodes import episode_metrics, run_episodes
from lit_rlvr.rewards.terms import RewardScorer, RewardTerm
from lit_rlvr.rollout import Rollout, RolloutEngine, RolloutGenerator
from lit_rlvr.strategy import full_parameters

DEFAULT_REWARDS = (RewardTerm(name="correct", fn="lit_rlvr.rewards.math.correct", weight=1.0),)


class RolloutCollector(Callback):
    """Samples and verifies a rollout before each training and validation batch and puts it into the batch.

    Args:
        engine: the sampler and its knobs (`lit_rlvr.rollout.RolloutGenerator`, the policy's own
            decoder, by default; `lit_rlvr.vllm_engine.VLLMEngine` for vLLM).
        rewards: weighted reward terms; the first is the correctness check that accuracy counts.
        reward_workers: reward worker processes.
        reward_timeout_s: per-call reward limit; a call past it scores 0 and is counted.
        validation_samples: completions sampled per validation prompt at the training temperature,
            besides the greedy one, for `val/mean@n` and `val/pass@k`; 0: greedy only.
        environment: what answers the policy between turns (`lit_rlvr.environments.tools.ToolEnvironment`);
            None: one turn per completion.
    """

    def __init__(
        self,
        *,
        engine: RolloutEngine | None = None,
        rewards: list[RewardTerm] | None = None,
        reward_workers: int = 2,
        reward_timeout_s: float = 5.0,
        validation_samples: int = 0,
        environment: Environment | None = None,
    ) -> None:
        if validation_samples < 0:
            raise ValueError(f"rollout.validation_samples must be >= 0, got {validation_samples}")
        self.engine = engine or RolloutGenerator()
        self.environment = environment
        self.validation_samples = validation_samples
        self.scorer = RewardScorer(
            list(rewards or DEFAULT_REWARDS), workers=reward_workers, timeout_s=reward_timeout_s
        )
        self.failures: dict[str, int] = {}
        self.sync_s = 0.0  # the last weight sync's seconds, counted in the next training step's timings

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        pl_module.objective.check_samples_per_prompt(self.engine.samples_per_prompt)
        if self.environment is not None:
            tokenizer = pl_module.tokenizer
            templated = trainer.datamodule.chat_template != "none" and bool(tokenizer.chat_template)
            self.observation_tokens = ObservationTokens(tokenizer, chat_template=templated)

    def collect(
        self, module: LightningModule, batch: dict[str, Any], *, greedy: bool, samples: int | None = None
    ) -> Rollout:
        """Generates and verifies a rollout for `batch` (log-probs not yet filled): greedy, or
        `samples` completions per prompt (None: the engine's `samples_per_prompt`)."""
        started = time.perf_counter()
        # bf16-mixed generates under autocast too; FSDP2 gathers the policy once, not once per token
        with module.trainer.precision_plugin.forward_context(), full_parameters(module.policy):
            if self.environment is None:
                rollout = self.engine(module.policy, module.tokenizer, batch, greedy=greedy, samples=samples)
            else:
                rollout = run_episodes(
                    self.engine,
                    module.policy,
                    module.tokenizer,
                    batch,
                    self.environment,
                    self.observation_tokens,
                    greedy=greedy,
                    samples=samples,
                )
        generated = time.perf_counter()
        group = rollout.group_size
        rows = [row for row in rollout.rows for _ in range(group)]
        scores = self.scorer(rollout.texts, rows)
        for key, count in scores.failures.items():
            self.failures[key] = self.failures.get(key, 0) + count
        timings = {"generate": generated - started, "verify": time.perf_counter() - generated}
        per_turn = rollout.reward_terms or {}  # the environment's, summed over each episode
        return rollout._replace(
            rewards=scores.rewards + sum(per_turn.values(), torch.zeros_like(scores.rewards)),
            correct=scores.correct,
            reward_terms={**scores.terms, **per_turn},
            timings=timings,
        )

    def state_dict(self) -> dict[str, Any]:
        """Checkpointed: the reward failure counts."""
        return {"failures": dict(self.failures)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.failures = dict(state["failures"])

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        objective = pl_module.objective
        failed_before = dict(self.failures)
        sampled = sample_informative(
            lambda prompts: self.collect(pl_module, _to(prompts, pl_module.device), greedy=False),
            batch,
            trainer.datamodule.more_train_batches() if objective.max_sampling_rounds > 1 else iter(()),
            objective.keep_groups,
            prompts_needed=len(batch["rows"]),
            max_rounds=objective.max_sampling_rounds,
            pad_token_id=pl_module.tokenizer.pad_token_id,
        )
        if sampled.capped:
            training_on = "those" if sampled.informative else "the last round's groups, which carry no signal"
            rank_zero_warn(
                f"dynamic sampling kept {sampled.informative} of the {len(batch['rows'])} groups needed in "
                f"model.objective.max_sampling_rounds={objective.max_sampling_rounds} rounds; training on "
                f"{training_on} (raise the knob, or use a task whose groups are less often all right or "
                "all wrong)"
            )
        pl_module.log_dict(
            {
                "rollout/sampling_rounds": float(sampled.rounds),
                "rollout/sampling_capped": float(sampled.capped),
                **{f"reward/{key}": float(n - failed_before.get(key, 0)) for key, n in self.failures.items()},
                **{f"reward/{key}_total": float(n) for key, n in self.failures.items()},
                **episode_metrics(sampled.rollout),
            },
            batch_size=1,
        )
        timings = {**sampled.rollout.timings, "sync": self.sync_s}  # the sync that preceded this step
        batch["rollout"] = sampled.rollout._replace(timings=timings)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        started = time.perf_counter()
        self.engine.sync_weights(pl_module.policy)
        self.sync_s = time.perf_counter() - started

    def on_validation_batch_start(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if batch_idx == 0:
            self.validation_started = time.perf_counter()
        batch["rollout"] = self.collect(pl_module, batch, greedy=True)
        if self.validation_samples:
            cuda = [pl_module.device.index or 0] if pl_module.device.type == "cuda" else []
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(batch_idx * trainer.world_size + trainer.global_rank)
                batch["sampled_rollout"] = self.collect(
                    pl_module, batch, greedy=False, samples=self.validation_samples
                )

    def on_validation_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if trainer.progress_bar_callback is None:  # else the bar shows it
            batches = trainer.num_val_batches[dataloader_idx]
            seconds = time.perf_counter() - self.validation_started
            rank_zero_info(f"validation: batch {batch_idx + 1}/{batches}, {seconds:.0f} s")

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.scorer.close()
        if self.environment is not None:
            self.environment.close()


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in batch.items()
    }
