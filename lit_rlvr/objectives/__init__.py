"""Every objective, imported here so that YAML can name it by class: this import list is the registry."""

from lit_rlvr.aggregation import LossNorm
from lit_rlvr.objectives.base import Objective, ObjectiveOutput, PolicyBatch
from lit_rlvr.objectives.grpo import GRPO

__all__ = ["GRPO", "LossNorm", "Objective", "ObjectiveOutput", "PolicyBatch"]
