"""Every objective, imported here so that YAML can name it by class: this import list is the registry."""

from lit_rlvr.aggregation import LossNorm
from lit_rlvr.objectives.base import Objective, ObjectiveOutput, PolicyBatch
from lit_rlvr.objectives.cispo import CISPO
from lit_rlvr.objectives.dapo import DAPO
from lit_rlvr.objectives.dr_grpo import DrGRPO
from lit_rlvr.objectives.gmpo import GMPO
from lit_rlvr.objectives.grpo import GRPO
from lit_rlvr.objectives.gspo import GSPO, GSPOToken
from lit_rlvr.objectives.ppo import PPO
from lit_rlvr.objectives.reinforce_pp import REINFORCEPP, REINFORCEPPBaseline
from lit_rlvr.objectives.rloo import RLOO
from lit_rlvr.objectives.sapo import SAPO
from lit_rlvr.objectives.sequence_ppo import SequencePPO
from lit_rlvr.objectives.sspo import SSPO

__all__ = [
    "CISPO",
    "DAPO",
    "GMPO",
    "GRPO",
    "GSPO",
    "PPO",
    "REINFORCEPP",
    "RLOO",
    "SAPO",
    "SSPO",
    "DrGRPO",
    "GSPOToken",
    "LossNorm",
    "Objective",
    "ObjectiveOutput",
    "PolicyBatch",
    "REINFORCEPPBaseline",
    "SequencePPO",
]
