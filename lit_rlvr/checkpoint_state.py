"""What an `RLVRModule` checkpoint holds beyond Lightning's own, and what it leaves out.

Left out: the frozen weights (the reference, LoRA's base weights). They are the starting point and
are rebuilt from `model`; saving them would double the checkpoint (or, under LoRA, multiply it)
for nothing. FSDP2's sharded checkpoint keeps them: torch's distributed loader refuses a
checkpoint missing a key. Added: the mini-batch shuffle's RNG, the count of skipped updates and
the objective's state (e.g. PPO's adaptive KL coefficient).
"""

from __future__ import annotations

from typing import Any

from lit_rlvr.rng import capture_rng, restore_rng


class CheckpointState:
    """`RLVRModule`'s checkpoint hooks (a mixin: they read its `policy`, `reference`, `objective`,
    `hparams.lora`, `_shuffle` and `skipped_updates`)."""

    def _frozen_keys(self) -> set[str]:
        """State keys rebuilt from `model` on load, so never saved: the reference, LoRA's base weights."""
        keys = set()
        if self.reference is not None:
            keys |= {f"reference.{k}" for k in self.reference.state_dict()}
        if self.hparams.lora is not None:
            trained = {name for name, p in self.policy.named_parameters() if p.requires_grad}
            keys |= {f"policy.{k}" for k in self.policy.state_dict() if k not in trained}
        return keys

    @property
    def strict_loading(self) -> bool:
        """Strict, except under FSDP2 for a model with frozen weights: a one-process checkpoint leaves
        them out, and the strategy loads the weights before `on_load_checkpoint` could put them back
        (they are in place already, loaded from `model`)."""
        return self.device_mesh is None or not self._frozen_keys()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint["state_dict"]
        for key in self._frozen_keys() & set(state) if self.device_mesh is None else ():
            del state[key]
        checkpoint["rng"] = capture_rng(self._shuffle)
        checkpoint["skipped_updates"] = self.skipped_updates
        checkpoint["objective"] = self.objective.state_dict()  # e.g. PPO's adaptive KL coefficient

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "state_dict" in checkpoint:  # under FSDP2 the strategy has loaded the weights already
            current = self.state_dict()
            checkpoint["state_dict"].update({key: current[key] for key in self._frozen_keys()})
        if checkpoint.get("rng") is not None:
            restore_rng(checkpoint["rng"], self._shuffle)
        self.skipped_updates = checkpoint.get("skipped_updates", 0)
        if checkpoint.get("objective"):
            self.objective.load_state_dict(checkpoint["objective"])
