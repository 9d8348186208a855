"""Callbacks: rollout collection and reward verification, and validation on a samples or time schedule."""

from lit_rlvr.callbacks.rollout import RolloutCollector
from lit_rlvr.callbacks.validation_schedule import ValidationSchedule

__all__ = ["RolloutCollector", "ValidationSchedule"]
