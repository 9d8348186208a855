"""LoRA for the policy through `peft`: low-rank adapters trained, the base weights frozen.

With LoRA the reference model is the policy with its adapters disabled, so the frozen weights
exist once (verl's `ref_in_actor`, TRL's `disable_adapter` reference). Checkpoints hold the
adapters and leave the frozen base out (it is rebuilt from `model.model`, as the reference is);
`tools/export_hf.py` merges the adapters into the base weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn


@dataclass
class LoraSettings:
    """LoRA adapters on the policy (`model.lora` in YAML).

    Args:
        rank: the adapters' rank r.
        alpha: scaling numerator: each adapter's output is scaled by alpha / r.
        dropout: dropout on the adapters' input (0 keeps the log-probs deterministic).
        target_modules: the linear layers that get adapters: module-name suffixes, or
            `all-linear` for every linear layer but the output head.
        lr_multiplier: the adapters train at `model.lr` times this. LoRA needs about ten times the
            learning rate of full training ("LoRA Without Regret", Schulman et al., Thinking
            Machines 2025: ~10x, in RL as in supervised fine-tuning), so a config sized for full
            training learns with LoRA switched on as it is; 1 takes `model.lr` as given.
    """

    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.0
    target_modules: list[str] | str = "all-linear"
    lr_multiplier: float = 10.0

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha <= 0 or not 0 <= self.dropout < 1 or self.lr_multiplier <= 0:
            raise ValueError(
                f"model.lora: need rank >= 1, alpha > 0, 0 <= dropout < 1 and lr_multiplier > 0, got "
                f"rank={self.rank}, alpha={self.alpha}, dropout={self.dropout}, "
                f"lr_multiplier={self.lr_multiplier}"
            )


def settings_from(value: LoraSettings | dict[str, Any]) -> LoraSettings:
    """`LoraSettings` from itself or its fields (as a checkpoint's hyper-parameters may hold them)."""
    return value if isinstance(value, LoraSettings) else LoraSettings(**value)


def add_adapters(model: nn.Module, settings: LoraSettings) -> nn.Module:
    """The `peft` model wrapping `model` with fresh adapters (B = 0: it starts as `model`)."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ImportError("model.lora needs peft: pip install 'lit-rlvr[lora]'") from None
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)
