"""lit-rlvr: reinforcement learning from verifiable rewards on language models, with PyTorch Lightning.

Kept import-free on purpose: reward workers and `lit_rlvr.verifiers` must load without torch.
"""
