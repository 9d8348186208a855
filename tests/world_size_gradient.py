"""One optimizer step on a fixed global batch, in one process or several; writes each parameter's change.

    python tests/world_size_gradient.py OUT.pt --objective token_mean --parallelism ddp --devices 2

The global batch is 4 prompts x 2 samples with ragged prompt and completion lengths, so the
processes hold different numbers of tokens; process r of W takes prompts r, r + W, ... (whole
groups). Policy and critic are stepped with SGD at learning rate 1 and no clipping, so a
parameter's change is minus its gradient; `tests/test_world_size.py` compares the files.
"""

from __future__ import annotations

import argparse

import torch
from lightning import Callback, Trainer
from torch.utils.data import DataLoader

from lit_rlvr import strategy
from lit_rlvr.critics import CriticConfig
from lit_rlvr.models import TINY
from lit_rlvr.module import RLVRModule
from lit_rlvr.objectives import GRPO, PPO, DrGRPO
from lit_rlvr.rollout import Rollout

PROMPT_LENGTHS = [3, 7, 5, 2]  # B = 4 prompts
COMPLETION_LENGTHS = [6, 1, 4, 4, 2, 6, 3, 5]  # N = 8: rank 0 of 2 holds 15 tokens, rank 1 holds 16
GROUP = 2
SGD_CRITIC = CriticConfig(lr=1.0, weight_decay=0.0, max_grad_norm=1e9)
OBJECTIVES = {
    "token_mean": lambda: (GRPO(aggregation="token_mean"), None),
    "seq_mean_token_mean": lambda: (GRPO(aggregation="seq_mean_token_mean"), None),
    "dr_grpo": lambda: (DrGRPO(), None),
    "ppo": lambda: (PPO(kl_coef=0.05), SGD_CRITIC),  # a token critic, whitened GAE advantages, KL in reward
}


def global_rollout(pad_token_id: int) -> Rollout:
    """The fixed global batch, rows prompt-major (`N = B * G`)."""
    generator = torch.Generator().manual_seed(0)
    prompt_width, completion_width = max(PROMPT_LENGTHS), max(COMPLETION_LENGTHS)
    prompts = torch.randint(3, 1000, (len(PROMPT_LENGTHS), prompt_width), generator=generator)
    prompt_mask = torch.arange(prompt_width)[None] >= prompt_width - torch.tensor(PROMPT_LENGTHS)[:, None]
    prompts = prompts.masked_fill(~prompt_mask, pad_token_id)
    completion_ids = torch.randint(3, 1000, (len(COMPLETION_LENGTHS), completion_width), generator=generator)
    completion_mask = torch.arange(completion_width)[None] < torch.tensor(COMPLETION_LENGTHS)[:, None]
    rewards = torch.rand(len(COMPLETION_LENGTHS), generator=generator)
    return Rollout(
        prompt_ids=prompts.repeat_interleave(GROUP, 0),
        prompt_mask=prompt_mask.repeat_interleave(GROUP, 0),
        completion_ids=completion_ids.masked_fill(~completion_mask, pad_token_id),
        completion_mask=completion_mask,
        truncated=completion_mask.all(-1),
        texts=[""] * len(COMPLETION_LENGTHS),
        rows=[{"gold": "0"} for _ in PROMPT_LENGTHS],
        group_size=GROUP,
        max_new_tokens=completion_width,
        temperature=1.0,
        rewards=rewards,
        correct=rewards > 0.5,
    )


def process_share(rollout: Rollout, rank: int, world_size: int) -> Rollout:
    """The whole groups of prompts `rank, rank + world_size, ...`."""
    prompts = list(range(rank, len(rollout.rows), world_size))
    index = torch.tensor([p * GROUP + g for p in prompts for g in range(GROUP)])
    per_row = ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "truncated")
    per_row += ("rewards", "correct")
    return rollout._replace(
        **{name: getattr(rollout, name)[index] for name in per_row},
        texts=[rollout.texts[i] for i in index],
        rows=[rollout.rows[p] for p in prompts],
    )


class AttachShare(Callback):
    """Puts this process's share of the global batch into the batch in place of a sampled rollout."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        rollout = global_rollout(pl_module.tokenizer.pad_token_id)
        batch["rollout"] = process_share(rollout, trainer.global_rank, trainer.world_size)


class SGDModule(RLVRModule):
    """Plain SGD for policy and critic: one step's parameter change is minus the gradient."""

    def configure_optimizers(self):
        policy = torch.optim.SGD(self.policy.parameters(), lr=1.0)
        constant = torch.optim.lr_scheduler.LambdaLR(policy, lambda step: 1.0)
        first = {"optimizer": policy, "lr_scheduler": {"scheduler": constant, "interval": "step"}}
        if self.critic is None:
            return first
        return [first, {"optimizer": torch.optim.SGD(self.critic.parameters(), lr=1.0)}]


def full(parameter: torch.Tensor) -> torch.Tensor:
    """The whole tensor of a parameter, gathered when FSDP2 shards it (a collective: every rank calls it)."""
    return parameter.full_tensor() if hasattr(parameter, "full_tensor") else parameter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--objective", choices=OBJECTIVES, required=True)
    parser.add_argument("--parallelism", choices=["single", "ddp", "fsdp2"], default="single")
    parser.add_argument("--devices", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    objective, critic = OBJECTIVES[args.objective]()
    module = SGDModule(
        model=TINY, objective=objective, critic=critic, max_grad_norm=1e9, log_completions_every=0
    )
    before = {name: p.detach().clone() for name, p in module.named_parameters() if p.requires_grad}
    trainer = Trainer(
        accelerator="cpu",
        devices=args.devices,
        strategy=strategy.build(args.parallelism, "cpu", args.devices, 1, critic=critic is not None),
        max_steps=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[AttachShare()],
    )
    trainer.fit(module, DataLoader([{"process": i} for i in range(args.devices)], batch_size=1))
    after = {name: full(p).detach() for name, p in module.named_parameters() if name in before}
    change = {name: after[name] - before[name] for name in after}
    if trainer.is_global_zero:
        torch.save(change, args.out)


if __name__ == "__main__":
    main()
