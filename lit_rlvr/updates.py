"""The policy's updates on a rollout: one optimizer step per mini-batch, each with its own readings.

`_update` runs `ppo_epochs` passes of `mini_batches` optimizer steps, each accumulated exactly over
micro-batches; the first runs on the sampling weights. Every optimizer step writes its readings on
an axis of its own (`_log_update`): the objective's (clip fractions in its unit, ratio statistics,
KL to the sampling weights) and `update/` (loss, gradient norm before and after clipping, KL to the
sampler, the share of completion tokens whose loss has zero gradient, learning rate, whether it ran
on the sampling weights, its rollout). Rollout-level readings stay on the training-step axis.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_rlvr import metrics, strategy
from lit_rlvr.aggregation import LossNorm, masked_mean
from lit_rlvr.logprobs import completion_logprobs
from lit_rlvr.mismatch import correction_metrics, kl_to_sampler, mismatch_metrics
from lit_rlvr.objectives import ObjectiveOutput, PolicyBatch
from lit_rlvr.rollout import Rollout


def zero_gradient_share(loss: Tensor, logp: Tensor, part: Rollout) -> Tensor:
    """The share of `part`'s completion tokens whose log-prob gets exactly zero gradient from `loss`
    (clipped, zero advantage, dropped by a correction): the tokens an update ignores."""
    if not logp.requires_grad:
        return torch.zeros((), device=logp.device)
    (slope,) = torch.autograd.grad(loss, logp, retain_graph=True)  # through the objective only
    return masked_mean((slope == 0).float(), part.completion_mask)


class PolicyUpdates:
    """`RLVRModule`'s update loop (a mixin: it reads its `policy`, `objective`, optimizers, micro-batch
    knobs, `sampler_correction` and `max_grad_norm`, and counts `skipped_updates`)."""

    def _update(self, rollout: Rollout, advantages: Tensor, order: list[Tensor]) -> dict[str, Tensor]:
        """One optimizer step per mini-batch of `order`, each logged by `_log_update`; the first runs on
        the sampling weights. Returns the rollout's `mismatch/` readings (at the sampling weights)."""
        optimizer, scheduler = self._optimizers()[0], self.lr_schedulers()
        mean_over_processes = strategy.mean_over_processes(self.trainer)
        mask = rollout.completion_mask
        # The trainer's log-probs at the sampling weights, for the mismatch: scored, or by step 0 itself.
        trainer_logp = rollout.logp_old if rollout.logp_old is not None else torch.zeros(mask.shape)
        trainer_logp = trainer_logp.to(self.device, torch.float32).clone()
        for step, mini in enumerate(order):
            norm = LossNorm.of(rollout.completion_mask[mini], rollout.max_new_tokens, mean_over_processes)
            optimizer.zero_grad()
            readings = metrics.WeightedMeans()
            loss = torch.zeros((), dtype=torch.float32, device=self.device)
            for micro in self.cut_micro_batches(rollout, mini):
                part = rollout.select(micro)
                if step == 0 and self.first_update_scores_itself:
                    part = part._replace(logp_old=None)  # on the sampling weights: its own log-probs
                out, logp, logp_old = self._micro_step(part, advantages[micro], norm)
                if step == 0:
                    trainer_logp[micro, : logp_old.shape[1]] = logp_old
                tokens = float(part.completion_mask.sum())
                readings.add({"update/zero_grad_tokens": zero_gradient_share(out.loss, logp, part)}, tokens)
                self.manual_backward(out.loss)
                loss += out.loss.detach()
                readings.add(out.metrics, weight=tokens)
                if part.sampler_logp is not None:
                    kl = kl_to_sampler(logp.detach(), part.sampler_logp, part.completion_mask)
                    readings.add({"update/kl_sampler": kl}, weight=tokens)
            readings.add({"update/loss": loss})
            grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.hparams.max_grad_norm)
            finite = bool(torch.isfinite(grad_norm) and torch.isfinite(loss))
            # Each process has its own loss: all skip if any is non-finite, or the replicas would diverge.
            skipped = self.trainer.strategy.reduce_boolean_decision(not finite, all=False)
            if skipped:
                optimizer.zero_grad(set_to_none=True)  # AdamW leaves parameters without a gradient alone
                self.skipped_updates += 1
            self._log_update(readings, grad_norm.detach(), on_policy=step == 0, skipped=skipped)
            optimizer.step()  # even when skipped: global_step (max_steps, checkpoints) counts updates
            scheduler.step()
        if rollout.sampler_logp is None:
            return {}
        readings = mismatch_metrics(trainer_logp, rollout.sampler_logp, mask)
        if self.sampler_correction is not None:
            weights = self.sampler_correction.weights(trainer_logp, rollout.sampler_logp, mask)
            readings.update(correction_metrics(weights, mask))
        return readings

    def _log_update(
        self, readings: metrics.WeightedMeans, grad_norm: Tensor, *, on_policy: bool, skipped: bool
    ) -> None:
        """Writes one optimizer step's readings (every process's) on the optimizer-step axis: the
        objective's `objective/` and `update/` (loss, gradient norm before and after clipping, KL to
        the sampler, learning rate, whether it ran on the sampling weights or was skipped, its rollout)."""
        values = readings.reduced(
            strategy.sum_over_processes(self.trainer), strategy.max_over_processes(self.trainer)
        )
        # clip_grad_norm_ scales by min(1, max_norm / (norm + 1e-6)); a skipped step applies nothing.
        scale = min(1.0, self.hparams.max_grad_norm / (float(grad_norm) + 1e-6))
        values |= {
            "update/grad_norm": grad_norm,
            "update/grad_norm_clipped": torch.zeros_like(grad_norm) if skipped else grad_norm * scale,
            "update/on_policy": float(on_policy),
            "update/skipped": float(skipped),
            "update/lr": self._optimizers()[0].param_groups[0]["lr"],
            "update/rollout_step": float(self.trainer.fit_loop.total_batch_idx),
        }
        scalars = {key: float(value) for key, value in values.items()}
        for logger in self.loggers:
            logger.log_metrics(scalars, step=self.global_step)

    def _micro_step(
        self, part: Rollout, advantages: Tensor, norm: LossNorm
    ) -> tuple[ObjectiveOutput, Tensor, Tensor]:
        """The objective on one micro-batch, its `[n, T]` log-probs and `logp_old`; `advantages`
        `[n, T]` are cut to the part's trimmed width."""
        scored = completion_logprobs(
            self.policy,
            part.input_ids,
            part.attention_mask,
            part.completion_mask,
            entropy_gradient=self.objective.entropy_in_loss,
            **self._distribution(part),
        )
        logp_old = part.logp_old if part.logp_old is not None else scored.logp.detach()
        weights = None
        if self.sampler_correction is not None and part.sampler_logp is not None:
            weights = self.sampler_correction.weights(logp_old, part.sampler_logp, part.completion_mask)
        batch = PolicyBatch(
            logp=scored.logp,
            logp_old=logp_old,
            ref_logp=part.ref_logp,
            advantages=advantages[:, : scored.logp.shape[1]],
            mask=part.completion_mask,
            entropy=scored.entropy,
            norm=norm,
            completion_ids=part.completion_ids,
            weights=weights,
        )
        return self.objective(batch), scored.logp, logp_old
