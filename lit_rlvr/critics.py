"""Critics: a second model with a scalar head, its own optimizer, and the step that trains it on a rollout.

Two kinds, chosen by the objective's `critic_kind`:

- `TokenValueCritic` (PPO): a value `V(s_t)` at every completion position, read from the hidden
  state before each token (the same positions the policy's log-probs are read from). It is
  regressed on the GAE returns with the objective's clipped value loss, over the same epochs and
  mini-batches as the policy.
- `PromptValueCritic` (SequencePPO, arXiv 2604.08865): reads only the prompt and gives one logit
  at its last position (prompts are left-padded, so position -1 is the last real token);
  `V = sigmoid(logit)` is trained with binary cross-entropy on the 0/1 reward.

Both start from a backbone (`CriticConfig.model`: the policy's by default, or a smaller model
with the same tokenizer) and a zero-initialised linear head, so the first values are 0 (token
critic) or 0.5 (prompt critic). The module reads `rollout_values` *before* the critic's update on
this rollout and gives them to `objective.advantages`; `learn` then takes one optimizer step per
mini-batch of the policy's own (the same rows, in the same order) on the targets
`objective.advantages` returned.

The critic is stepped with the raw `torch.optim` optimizer, not Lightning's wrapper: in manual
optimization every wrapped `step()` counts as a global step, and `trainer.max_steps` counts the
policy's optimizer steps only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from transformers import AutoModel

from lit_rlvr.aggregation import LossNorm
from lit_rlvr.logprobs import position_ids
from lit_rlvr.metrics import WeightedMeans
from lit_rlvr.models import resolve
from lit_rlvr.objectives import Objective
from lit_rlvr.objectives.base import ObjectiveOutput
from lit_rlvr.rollout import Rollout


@dataclass
class CriticConfig:
    """The critic's model and optimizer (`model.critic` in YAML).

    Args:
        model: its backbone: an alias, folder or hub id sharing the policy's tokenizer; None: the policy's.
        num_layers: keep only the backbone's first this many decoder layers: a smaller *pretrained*
            critic, as SPPO's 1.5B critic for a 7B policy; None keeps them all.
        lr: AdamW learning rate (constant); 0 freezes the critic, whose zero head then gives a
            constant baseline (V = 0.5 for SPPO's prompt critic: the control of a learned critic).
        weight_decay: AdamW weight decay.
        max_grad_norm: gradient clipping threshold of the critic's steps.
    """

    model: str | None = None
    num_layers: int | None = None
    lr: float = 1e-5
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        if self.num_layers is not None and self.num_layers < 1:
            raise ValueError(f"model.critic.num_layers must be >= 1 or null, got {self.num_layers}")
        if self.lr < 0 or self.max_grad_norm <= 0 or self.weight_decay < 0:
            raise ValueError(
                f"model.critic: need lr >= 0, max_grad_norm > 0 and weight_decay >= 0, got {self.lr}, "
                f"{self.max_grad_norm}, {self.weight_decay}"
            )


@dataclass
class CriticStep:
    """What a critic needs from the module to train: its optimizer and the module's backward."""

    optimizer: torch.optim.Optimizer  # the raw optimizer (see the module docstring)
    backward: Callable[[Tensor], None]  # `LightningModule.manual_backward`
    max_grad_norm: float
    micro_batch_size: int
    mean_over_processes: Callable[[Tensor], Tensor] | None = None  # for `LossNorm.of`


class _ScalarHeadModel(nn.Module):
    def __init__(self, model: str, num_layers: int | None = None, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.backbone = AutoModel.from_pretrained(resolve(model), dtype=dtype)
        if num_layers is not None:
            _keep_first_layers(self.backbone, num_layers, model)
        self.head = nn.Linear(self.backbone.config.hidden_size, 1, dtype=dtype)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # FSDP2 shards these blocks one by one (`strategy.shard_for_fsdp2`).
        self._no_split_modules = self.backbone._no_split_modules

    def _hidden(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        output = self.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids(attention_mask),
            use_cache=False,
        )
        return output.last_hidden_state  # [N, L, H]

    def _scalar(self, hidden: Tensor) -> Tensor:
        """`[...]` float32 head outputs of `[..., H]` states, as a new tensor: FSDP2 warns when a
        wrapped module returns a view (an in-place op on one would skip its pre-backward all-gather)."""
        return self.head(hidden).squeeze(-1).to(torch.float32, copy=True)

    def learn(
        self,
        objective: Objective,
        rollout: Rollout,
        returns: Tensor,
        values_old: Tensor,
        *,
        order: Sequence[Tensor],
        step: CriticStep,
    ) -> dict[str, Tensor]:
        """One optimizer step of the objective's value loss per mini-batch; returns `critic/` metrics.

        Args:
            objective: the objective whose value loss the critic learns.
            rollout: the verified rollout.
            returns: the regression targets from `objective.advantages` (`[N, T]` or `[B, G]`).
            values_old: the critic's values at rollout time (`[N, T]` or `[B]` logits).
            order: row indices of each critic optimizer step (the policy's mini-batches), in order.
            step: the critic's optimizer and the module's backward.
        """
        totals = WeightedMeans()
        for mini in order:
            norm = LossNorm.of(
                rollout.completion_mask[mini], rollout.max_new_tokens, step.mean_over_processes
            )
            for micro in mini.split(step.micro_batch_size):
                part = rollout.select(micro)
                out = self.micro_batch_loss(objective, part, micro, norm, returns, values_old)
                step.backward(out.loss)
                totals.add(out.metrics, weight=float(part.completion_mask.sum()))
            totals.add({"critic/grad_norm": _step(step, list(self.parameters()))})
        return {**self.rollout_metrics(objective, returns, values_old), **totals.means()}

    def micro_batch_loss(
        self,
        objective: Objective,
        part: Rollout,
        indices: Tensor,
        norm: LossNorm,
        returns: Tensor,
        values_old: Tensor,
    ) -> ObjectiveOutput:
        """The value loss of micro-batch `part` (the rollout's `indices`), its share of the mini-batch's."""
        raise NotImplementedError

    def rollout_metrics(self, objective: Objective, returns: Tensor, values_old: Tensor) -> dict[str, Tensor]:
        """Readings of the whole rollout's values before the update."""
        return {}


def _keep_first_layers(backbone: nn.Module, num_layers: int, model: str) -> None:
    """Cuts a decoder-only backbone to its first `num_layers` blocks, pretrained weights kept."""
    layers = getattr(backbone, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(
            f"model.critic.num_layers: the backbone of {model!r} ({type(backbone).__name__}) keeps its "
            "decoder blocks elsewhere than `.layers`; set num_layers: null or a smaller critic.model"
        )
    if num_layers > len(layers):
        raise ValueError(
            f"model.critic.num_layers={num_layers}, but {model!r} has only {len(layers)} decoder layers"
        )
    backbone.layers = layers[:num_layers]
    backbone.config.num_hidden_layers = num_layers
    if getattr(backbone.config, "layer_types", None) is not None:  # per-layer attention kinds
        backbone.config.layer_types = backbone.config.layer_types[:num_layers]


def _step(step: CriticStep, parameters: Sequence[Tensor]) -> Tensor:
    grad_norm = torch.nn.utils.clip_grad_norm_(parameters, step.max_grad_norm)
    if torch.isfinite(grad_norm):  # a non-finite gradient never reaches the weights
        step.optimizer.step()
    step.optimizer.zero_grad()
    return grad_norm.detach()


class TokenValueCritic(_ScalarHeadModel):
    """PPO's critic: `[N, T]` values, one per completion position."""

    def forward(self, input_ids: Tensor, attention_mask: Tensor, num_completion: int) -> Tensor:
        hidden = self._hidden(input_ids, attention_mask)[:, -num_completion - 1 : -1]  # [N, T, H]
        return self._scalar(hidden)

    def values(self, part: Rollout) -> Tensor:
        """`[n, T]` values of a (trimmed) rollout slice, 0 off the completion mask."""
        values = self(part.input_ids, part.attention_mask, part.completion_mask.shape[1])
        return torch.where(part.completion_mask, values, 0.0)

    @torch.no_grad()
    def rollout_values(self, rollout: Rollout, micro_batch_size: int) -> Tensor:
        """`[N, T]` values at rollout time, before this rollout's update, micro-batched."""
        mask = rollout.completion_mask
        values = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
        for index in torch.arange(len(mask), device=mask.device).split(micro_batch_size):
            part = rollout.select(index)
            values[index, : part.completion_mask.shape[1]] = self.values(part)
        return values

    def micro_batch_loss(
        self,
        objective: Objective,
        part: Rollout,
        indices: Tensor,
        norm: LossNorm,
        returns: Tensor,
        values_old: Tensor,
    ) -> ObjectiveOutput:
        """PPO's `token_value_loss` of `[n, T]` values against the `[N, T]` returns."""
        width = part.completion_mask.shape[1]
        return objective.token_value_loss(
            self.values(part),
            values_old[indices, :width],
            returns[indices, :width],
            part.completion_mask,
            norm,
        )


class PromptValueCritic(_ScalarHeadModel):
    """SequencePPO's decoupled critic: one logit per prompt, `V = sigmoid(logit)`."""

    def forward(self, prompt_ids: Tensor, prompt_mask: Tensor) -> Tensor:
        """`[n]` logits at the last prompt position of left-padded `[n, P]` prompts."""
        return self._scalar(self._hidden(prompt_ids, prompt_mask)[:, -1])

    @torch.no_grad()
    def rollout_values(self, rollout: Rollout, micro_batch_size: int) -> Tensor:
        """`[B]` logits of the rollout's prompts, before this rollout's update, micro-batched."""
        prompts = torch.arange(0, len(rollout.texts), rollout.group_size, device=rollout.prompt_ids.device)
        logits = torch.zeros(len(prompts), dtype=torch.float32, device=prompts.device)  # [B]
        for index in torch.arange(len(prompts), device=prompts.device).split(micro_batch_size):
            part = rollout.select(prompts[index])
            logits[index] = self(part.prompt_ids, part.prompt_mask)
        return logits

    def micro_batch_loss(
        self,
        objective: Objective,
        part: Rollout,
        indices: Tensor,
        norm: LossNorm,
        returns: Tensor,
        values_old: Tensor,
    ) -> ObjectiveOutput:
        """SequencePPO's BCE of each sequence's prompt logit against its `[B, G]` reward, as this
        micro-batch's share of the (global) mini-batch's mean."""
        logits = self(part.prompt_ids, part.prompt_mask)  # [n]
        share = len(indices) / norm.sequences
        return ObjectiveOutput(objective.prompt_value_loss(logits, returns.reshape(-1)[indices]) * share, {})

    def rollout_metrics(self, objective: Objective, returns: Tensor, values_old: Tensor) -> dict[str, Tensor]:
        """How the pre-update `[B]` logits predicted the `[B, G]` rewards."""
        return {
            **objective.critic_metrics(values_old, returns),
            "critic/value_loss": objective.prompt_value_loss(values_old, returns),
        }


CRITICS = {"token": TokenValueCritic, "prompt": PromptValueCritic}


def build_critic(
    kind: str, config: CriticConfig, policy_model: str, dtype: torch.dtype = torch.float32
) -> TokenValueCritic | PromptValueCritic:
    """The critic an objective with `critic_kind = kind` needs, its weights in `dtype`."""
    critic = CRITICS[kind](config.model or policy_model, config.num_layers, dtype)
    return critic.train()  # `from_pretrained` returns eval mode


def critic_for(
    objective: Objective, config: CriticConfig | None, policy_model: str, dtype: torch.dtype
) -> TokenValueCritic | PromptValueCritic | None:
    """The critic `objective` needs (None if it needs none); refuses a config given to the wrong one."""
    name, kind = type(objective).__name__, objective.critic_kind
    if (kind is None) != (config is None):
        raise ValueError(
            f"model.objective={name} needs a critic: set model.critic (e.g. `critic: {{model: null}}` "
            "for one on the policy's backbone)"
            if config is None
            else f"model.critic is set but model.objective={name} uses no critic: remove model.critic"
        )
    return None if config is None else build_critic(kind, config, policy_model, dtype)
