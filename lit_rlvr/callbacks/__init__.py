"""Callbacks: rollout collection and reward verification."""

from lit_rlvr.callbacks.rollout import RolloutCollector

__all__ = ["RolloutCollector"]
