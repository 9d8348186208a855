"""Environments for multi-turn rollouts: the seam (`base`), the tool environment (`tools`), how tools
are offered (`chat`) and called (`tool_calls`), and the built-in tools (`calculator`, `sandbox`).

Kept import-free, like the package: tool workers import `calculator` and `sandbox` without torch.
"""
