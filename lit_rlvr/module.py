"""The RLVR LightningModule: policy, frozen reference, optional critic, and the update loop.

Each training step reads top to bottom, from the verified rollout the rollout callback put into its
batch (prompts -> completions -> raw rewards): shape rewards -> old and reference log-probs (when
needed: `lit_rlvr.scoring`) -> advantages (`objective.advantages`, over the critic's values read
before its update) -> the critic's steps -> `ppo_epochs` passes over mini-batches, each accumulated
over micro-batches -> objective (each token's loss weighted by the sampler correction, when one is
chosen) -> one optimizer step per mini-batch, each logging its own readings (`lit_rlvr.updates`) ->
the sampler/trainer mismatch -> the rollout's readings. Validation is `lit_rlvr.validation`'s.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from lightning import LightningModule
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn
from torch.distributed.fsdp import FSDPModule

from lit_rlvr import metrics, strategy
from lit_rlvr.advantages import Advantages
from lit_rlvr.checkpoint_state import CheckpointState
from lit_rlvr.critics import CriticConfig, CriticStep, critic_for
from lit_rlvr.kl import kl_estimate
from lit_rlvr.lora import LoraSettings, settings_from
from lit_rlvr.mismatch import SamplerCorrection
from lit_rlvr.models import SMOLLM2, load_causal_lm, load_policy, load_tokenizer
from lit_rlvr.objectives import GRPO, Objective
from lit_rlvr.precision import Precision, frozen_dtype, trained_dtype
from lit_rlvr.precision import normalize as normalize_precision
from lit_rlvr.rollout import Rollout, verified_rollout
from lit_rlvr.scoring import ScoringPasses
from lit_rlvr.updates import PolicyUpdates
from lit_rlvr.validation import ValidationReadings


class RLVRModule(CheckpointState, ScoringPasses, PolicyUpdates, ValidationReadings, LightningModule):
    """Trains a causal-LM policy on verified rollouts with a configurable objective.

    Args:
        model: the policy: an alias (`smollm2-135m-instruct`, `tiny-random-llama`), a folder or a hub id.
        objective: the policy-optimization objective, selected by class path.
        critic: the critic's backbone and optimizer; required by objectives with a critic (PPO,
            SequencePPO) and refused by the others.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        warmup_steps: optimizer steps of linear learning-rate warm-up.
        max_grad_norm: gradient clipping threshold (global L2 norm).
        ppo_epochs: passes over each rollout.
        mini_batches: optimizer steps per pass; each mini-batch is a slice of the rollout.
        micro_batch_size: sequences per forward/backward at most; gradients accumulate exactly over them.
        micro_batch_tokens: token positions per forward/backward at most (each distinct prompt once,
            plus every row's completion at the micro-batch's longest), None: sequences only. Rows
            are grouped by prompt and length either way (`lit_rlvr.batching`).
        log_completions_every: write sample completions to the logger every this many steps (0: never).
        seed: seed of the mini-batch shuffling.
        precision: the Trainer's precision (the CLI links it from `trainer.precision`): the dtype
            each model is loaded in (`lit_rlvr.precision`).
        activation_checkpointing: recompute each decoder block's activations in the backward pass
            instead of storing them (policy and critic): less memory for about one more forward.
        lora: train LoRA adapters on a frozen policy (`lit_rlvr.lora`), at `lr` times its
            `lr_multiplier` (10 by default); the reference is then the policy with its adapters
            disabled. None: train every weight.
        placement: under FSDP2, where the reference and critic live (`lit_rlvr.strategy.plan`
            decides what is left None).
        sampler_correction: reweights each token's loss by how far the sampler's log-probs are
            from the trainer's (`lit_rlvr.mismatch`); None: no correction (the mismatch is logged
            either way, under `mismatch/`).
        match_sampler_truncation: score log-probs under the truncated, renormalised distribution the
            sampler drew from when top-k or top-p is on (as vLLM's log-probs are); False: under the
            full tempered distribution, as TRL and verl score.
    """

    def __init__(
        self,
        *,
        model: str = SMOLLM2,
        objective: Objective | None = None,
        critic: CriticConfig | None = None,
        lr: float = 1e-5,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        max_grad_norm: float = 1.0,
        ppo_epochs: int = 1,
        mini_batches: int = 1,
        micro_batch_size: int = 8,
        micro_batch_tokens: int | None = None,
        log_completions_every: int = 10,
        seed: int = 0,
        precision: Precision | str | int | None = "32-true",
        activation_checkpointing: bool = False,
        lora: LoraSettings | None = None,
        placement: strategy.Placement | None = None,
        sampler_correction: SamplerCorrection | None = None,
        match_sampler_truncation: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (
            ("ppo_epochs", ppo_epochs),
            ("mini_batches", mini_batches),
            ("micro_batch_size", micro_batch_size),
        ):
            if value < 1:
                raise ValueError(f"model.{name} must be >= 1, got {value}")
        if micro_batch_tokens is not None and micro_batch_tokens < 1:
            raise ValueError(f"model.micro_batch_tokens must be >= 1 or null, got {micro_batch_tokens}")
        if not lr > 0:
            raise ValueError(f"model.lr must be > 0, got {lr}")
        if max_grad_norm <= 0 or warmup_steps < 0:
            raise ValueError("model.max_grad_norm must be > 0 and model.warmup_steps >= 0")
        self.precision = normalize_precision(precision)
        self.save_hyperparameters(ignore=["objective"])
        self.automatic_optimization = False
        self.objective = objective or GRPO()
        self.tokenizer = load_tokenizer(model)
        self.policy = load_policy(
            model, self.precision, lora=lora, activation_checkpointing=activation_checkpointing
        ).train()
        #: The reference is the policy with its adapters disabled (`_score`), not a second copy.
        self.reference_is_base = lora is not None and self.objective.needs_reference
        self.reference = (
            load_causal_lm(model, frozen_dtype(self.precision)).requires_grad_(False).eval()
            if self.objective.needs_reference and lora is None
            else None
        )
        self.critic_config = critic
        self.critic = critic_for(self.objective, critic, model, trained_dtype(self.precision))
        if activation_checkpointing and self.critic is not None:
            self.critic.backbone.activation_checkpointing_enable({"use_reentrant": False})
        self.objective.setup(self.tokenizer, self.policy.get_input_embeddings().num_embeddings)
        self.placement = placement
        self.ppo_epochs = ppo_epochs
        self.mini_batches = mini_batches
        self.micro_batch_size = micro_batch_size
        self.micro_batch_tokens = micro_batch_tokens
        self.log_completions_every = log_completions_every
        self.sampler_correction = sampler_correction
        self.match_sampler_truncation = match_sampler_truncation
        self.skipped_updates = 0
        self.validated_at_step: int | None = None
        self._shuffle = torch.Generator().manual_seed(seed)

    def setup(self, stage: str) -> None:
        if normalize_precision(self.trainer.precision) != self.precision:
            raise ValueError(
                f"trainer.precision={self.trainer.precision!r} but model.precision={self.precision!r}: "
                "the models were loaded for the latter; give both the same value"
            )

    def configure_model(self) -> None:
        if self.device_mesh is None:  # single process or DDP: every model whole on each process
            return
        models = {"policy": self.policy, "reference": self.reference, "critic": self.critic}
        chosen = strategy.plan(models, self.placement, on_gpu=self.device.type == "cuda")
        if not isinstance(self.policy, FSDPModule):  # Lightning calls this again for `fit` after `validate`
            for line in strategy.describe(models, chosen, self.trainer.world_size):
                rank_zero_info(line)
            strategy.place(models, chosen, self.device_mesh["data_parallel"])

    @property
    def updates_per_rollout(self) -> int:
        """Optimizer steps each rollout feeds."""
        return self.ppo_epochs * self.mini_batches

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        started = time.perf_counter()
        rollout = verified_rollout(batch)
        rewards = self._shaped_rewards(rollout)  # [B, G]
        order = self._mini_batch_order(len(rollout.texts))
        rollout = self._score(rollout, order)
        scored = time.perf_counter()
        estimate, values = self._advantages(rollout, rewards)
        critic_metrics = self._critic_steps(rollout, estimate.returns, values, order)
        warming_up = self.trainer.fit_loop.total_batch_idx < self.objective.critic_warmup_steps
        # while the critic warms up, only it learns
        mismatch = {} if warming_up else self._update(rollout, estimate.advantages, order)
        timings = {
            **(rollout.timings or {}),
            "logprob": scored - started,
            "update": time.perf_counter() - scored,
        }
        logged = {
            **metrics.rollout_metrics(rollout),
            **self._shaped_metrics(rewards),
            **{
                f"rollout/advantage_{k}": v
                for k, v in metrics.stats(estimate.advantages[rollout.completion_mask]).items()
            },
            **critic_metrics,
            **mismatch,
            **metrics.perf_metrics(rollout, timings),
            "train/skipped_updates_total": float(self.skipped_updates),
        }
        self.log_dict(logged, batch_size=len(rollout.texts))
        self.log("step_s", sum(timings.values()), prog_bar=True, logger=False)
        self.log("reward", logged["reward/mean"], prog_bar=True, logger=False)
        if self.log_completions_every and batch_idx % self.log_completions_every == 0:
            metrics.log_completions(self.logger, rollout, self.global_step)

    def _shaped_rewards(self, rollout: Rollout) -> Tensor:
        """`[B, G]` rewards shaped by the objective (DAPO's overlong penalty); the rollout keeps them raw."""
        group = rollout.group_size
        lengths = rollout.completion_mask.sum(-1).view(-1, group)
        raw = rollout.rewards.view(-1, group).to(self.device)
        return self.objective.shape_rewards(raw, lengths, rollout.max_new_tokens)

    def _shaped_metrics(self, rewards: Tensor) -> dict[str, Tensor]:
        """`reward/shaped_*` for an objective that shapes; `reward/*` stay raw, comparable across all."""
        if type(self.objective).shape_rewards is Objective.shape_rewards:
            return {}
        return {f"reward/shaped_{k}": v for k, v in metrics.stats(rewards.float().flatten()).items()}

    def _advantages(self, rollout: Rollout, rewards: Tensor) -> tuple[Advantages, Tensor | None]:
        """`objective.advantages` over the critic's values before its update, and those values; an
        adaptive KL coefficient then observes the rollout's KL."""
        mask = rollout.completion_mask
        kl = None
        if self.objective.kl_in_reward:
            kl = kl_estimate(rollout.logp_old, rollout.ref_logp, self.objective.kl_estimator)  # [N, T]
        values = None if self.critic is None else self.critic.rollout_values(rollout, self.micro_batch_size)
        estimate = self.objective.advantages(
            rewards, mask, kl=kl, values=values, reduce_sum=strategy.sum_over_processes(self.trainer)
        )
        if kl is not None:  # after the estimate, which used the coefficient this rollout was sampled under
            self.objective.observe_kl(self._all_processes(torch.where(mask, kl, 0.0).sum(-1)))
        return estimate, values

    def _critic_steps(
        self, rollout: Rollout, returns: Tensor | None, values: Tensor | None, order: list[Tensor]
    ) -> dict[str, Tensor]:
        """The critic learns the returns, one optimizer step per mini-batch of the policy's `order`."""
        if self.critic is None:
            return {}
        step = CriticStep(
            optimizer=self._optimizers()[1].optimizer,  # raw: not a global step (see lit_rlvr.critics)
            backward=self.manual_backward,
            max_grad_norm=self.critic_config.max_grad_norm,
            micro_batch_size=self.micro_batch_size,
            mean_over_processes=strategy.mean_over_processes(self.trainer),
        )
        return self.critic.learn(self.objective, rollout, returns, values, order=order, step=step)

    def _all_processes(self, values: Tensor) -> Tensor:
        """`[n]` values of this process -> `[world_size * n]` of every process, in rank order."""
        return values if self.trainer.world_size == 1 else self.all_gather(values).flatten()

    def _mini_batch_order(self, size: int) -> list[Tensor]:
        """Row indices of each optimizer step of a rollout: `ppo_epochs` shuffled passes of `mini_batches`."""
        mini_size = math.ceil(size / self.mini_batches)
        order = []
        for _ in range(self.ppo_epochs):
            indices = (
                torch.randperm(size, generator=self._shuffle)
                if self.updates_per_rollout > 1
                else torch.arange(size)
            )
            order.extend(indices.to(self.device).split(mini_size))
        return order

    def _optimizers(self) -> list[Any]:
        optimizers = self.optimizers()
        return optimizers if isinstance(optimizers, list) else [optimizers]

    def trained_parameters(self) -> list[dict[str, nn.Parameter]]:
        """Each optimizer's parameters by name, in its order: the policy's trained ones, the critic's."""
        groups = [{f"policy.{name}": p for name, p in self.policy.named_parameters() if p.requires_grad}]
        if self.critic is not None:
            groups.append({f"critic.{name}": p for name, p in self.critic.named_parameters()})
        return groups

    def configure_optimizers(self) -> dict[str, Any]:
        trained = self.trained_parameters()
        lora = self.hparams.lora
        optimizer = torch.optim.AdamW(
            list(trained[0].values()),
            lr=self.hparams.lr * (1.0 if lora is None else settings_from(lora).lr_multiplier),
            weight_decay=self.hparams.weight_decay,
        )
        warmup = self.hparams.warmup_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / (warmup + 1))
        )
        policy = {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        if self.critic is None:
            return policy
        critic = torch.optim.AdamW(
            list(trained[1].values()), lr=self.critic_config.lr, weight_decay=self.critic_config.weight_decay
        )
        return [policy, {"optimizer": critic}]
