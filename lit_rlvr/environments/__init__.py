"""Environments for multi-turn rollouts: the seam (`base`), tools and how they are offered and called."""

from lit_rlvr.environments.base import Environment, Turn
from lit_rlvr.environments.tools import ToolEnvironment

__all__ = ["Environment", "ToolEnvironment", "Turn"]
