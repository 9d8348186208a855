"""`lit-rlvr`: LightningCLI with the rollout callback, the strategy registry and validation around fit."""

from __future__ import annotations

import importlib
from typing import Any

import torch
from lightning.pytorch.cli import LightningCLI

from lit_rlvr import strategy
from lit_rlvr.callbacks import RolloutCollector
from lit_rlvr.data import PromptDataModule
from lit_rlvr.module import RLVRModule
from lit_rlvr.objectives import GRPO


class RLVRCLI(LightningCLI):
    """The command line: `lit-rlvr fit --config configs/grpo.yaml`."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_lightning_class_args(RolloutCollector, "rollout")
        parser.link_arguments("model.model", "data.model")
        parser.add_argument(
            "--parallelism",
            type=strategy.Parallelism,
            default="auto",
            help="auto: one device -> single, several CPU processes -> ddp, several GPUs -> fsdp2",
        )
        parser.add_argument(
            "--threads", type=int | None, default=None, help="torch intra-op threads per process"
        )
        parser.add_argument(
            "--validate_before_fit", type=bool, default=True, help="measure validation at step 0"
        )
        parser.set_defaults({"model.objective": {"class_path": f"{GRPO.__module__}.{GRPO.__name__}"}})

    def before_instantiate_classes(self) -> None:
        config = self.config.get(self.subcommand, self.config)
        if config.get("threads"):
            torch.set_num_threads(config.threads)
        objective = config.model.objective
        if objective is not None:
            module_name, _, name = objective.class_path.rpartition(".")
            needed = getattr(importlib.import_module(module_name), name).min_samples_per_prompt
            given = config.rollout.samples_per_prompt
            if given < needed:
                raise ValueError(
                    f"model.objective={name} needs rollout.samples_per_prompt >= {needed} "
                    f"(its advantage compares samples of one prompt), got {given}"
                )
        trainer = config.trainer
        if trainer.strategy == "auto":
            trainer.strategy = strategy.build(
                config.parallelism, trainer.accelerator, trainer.devices, trainer.num_nodes
            )

    def before_fit(self) -> None:
        config = self.config[self.subcommand]
        if config.validate_before_fit and not config.get("ckpt_path"):
            self.accuracy_before = self._validate()

    def after_fit(self) -> None:
        after = self._validate()
        before = getattr(self, "accuracy_before", None)
        if self.trainer.is_global_zero and after is not None:
            start = "n/a" if before is None else f"{before:.3f}"
            print(f"validation accuracy: before {start} -> after {after:.3f}", flush=True)

    def _validate(self) -> float | None:
        results = self.trainer.validate(self.model, datamodule=self.datamodule, verbose=False)
        return results[0].get("val/accuracy") if results else None


def run(args: list[str] | None = None, *, subcommand: bool = True) -> RLVRCLI:
    """Runs the command line on `args` (default: `sys.argv`) and returns the finished CLI.

    With `subcommand=False`, `args` hold no subcommand and the CLI only parses and instantiates.
    """
    return RLVRCLI(
        RLVRModule,
        PromptDataModule,
        args=args,
        run=subcommand,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={
            "max_steps": 30,
            "val_check_interval": 10,
            "check_val_every_n_epoch": None,
            "log_every_n_steps": 1,
            "num_sanity_val_steps": 0,
        },  # fmt: skip
    )


def main() -> None:
    """Entry point of the `lit-rlvr` console script and `python -m lit_rlvr`."""
    run()
