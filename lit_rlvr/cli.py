"""`lit-rlvr`: LightningCLI with the rollout callback, the strategy registry and validation around fit."""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import torch
from jsonargparse import Namespace
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.strategies import ModelParallelStrategy
from lightning.pytorch.utilities import rank_zero_info

from lit_rlvr import objectives, strategy
from lit_rlvr.callbacks import RolloutCollector
from lit_rlvr.callbacks.nonfinite import NonFiniteGuard
from lit_rlvr.checkpoint_io import AtomicCheckpointIO, check_checkpoint
from lit_rlvr.data import PromptDataModule
from lit_rlvr.module import RLVRModule
from lit_rlvr.objectives import GRPO
from lit_rlvr.resharding import consolidate, is_sharded, name_optimizer_states
from lit_rlvr.rollout import RolloutGenerator

#: `--ckpt_path` values Lightning resolves itself rather than reading a path.
LIGHTNING_CHECKPOINT_NAMES = ("last", "best", "hpc", "registry")


class RLVRParser(LightningArgumentParser):
    """Adds the registry's objective names to an error about `model.objective`."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if 'key "model.objective"' in message and "is not accepted" not in message:  # a name, not a knob
            names = [
                n for n in objectives.__all__ if issubclass(getattr(objectives, n), objectives.Objective)
            ]
            message += f"\nmodel.objective takes one of: {', '.join(sorted(set(names) - {'Objective'}))}"
        super().error(message, ex)


class RLVRCLI(LightningCLI):
    """The command line: `lit-rlvr fit --config configs/grpo.yaml`."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """`fit` and `validate`; evaluation outside training is `tools/evaluate.py`, not `test`."""
        return {name: LightningCLI.subcommands()[name] for name in ("fit", "validate")}

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_lightning_class_args(RolloutCollector, "rollout")
        parser.add_lightning_class_args(NonFiniteGuard, "nonfinite")
        parser.link_arguments("model.model", "data.model")
        parser.link_arguments("trainer.precision", "model.precision")  # the dtype each model loads in
        parser.add_argument(
            "--parallelism",
            type=strategy.Parallelism,
            default="auto",
            help="auto: one device -> single, several CPU processes -> ddp, several GPUs -> fsdp2",
        )
        parser.add_argument(
            "--threads",
            type=int | None,
            default=None,
            help="torch intra-op threads per process (default: torch's, one per core; 1 on a shared CPU)",
        )
        parser.add_argument(
            "--validate_before_fit", type=bool, default=True, help="measure validation at step 0"
        )
        parser.add_argument(
            "--checkpoint_every_n_steps",
            type=int,
            default=10,
            help="the default checkpointing (when trainer.callbacks has no ModelCheckpoint): "
            "<default_root_dir>/checkpoints/last.ckpt every this many optimizer steps and when fit ends; "
            "`--ckpt_path last` resumes from it",
        )
        parser.set_defaults(
            {
                "model.objective": {"class_path": f"{GRPO.__module__}.{GRPO.__name__}"},
                "rollout.engine": {
                    "class_path": f"{RolloutGenerator.__module__}.{RolloutGenerator.__name__}"
                },
            }
        )

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and os.path.isfile(ckpt_path):  # Lightning reads it next, with torch's message only
            check_checkpoint(ckpt_path)
        elif ckpt_path and ckpt_path not in LIGHTNING_CHECKPOINT_NAMES and not os.path.exists(ckpt_path):
            raise FileNotFoundError(
                f"--ckpt_path {ckpt_path}: no such checkpoint file or folder (give a checkpoint's path, "
                "or `last` to resume from <trainer.default_root_dir>/checkpoints/last.ckpt)"
            )

    def before_instantiate_classes(self) -> None:
        config = self.config.get(self.subcommand, self.config)
        if config.get("threads"):
            torch.set_num_threads(config.threads)
        objective = config.model.objective
        if objective is not None:
            _import(objective.class_path).check_samples_per_prompt(
                config.rollout.engine.init_args.samples_per_prompt
            )
        trainer = config.trainer
        self.checkpoint_dir = _add_default_checkpointing(trainer, config.checkpoint_every_n_steps)
        if trainer.strategy == "auto":
            trainer.strategy = strategy.build(
                config.parallelism,
                trainer.accelerator,
                trainer.devices,
                trainer.num_nodes,
                critic=config.model.get("critic") is not None,
            )

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # not one chosen in trainer.plugins
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        for callback in trainer.callbacks:
            if isinstance(callback, RolloutCollector) and callback.environment is not None:
                self.datamodule.tools = callback.environment.tools  # offered in the prompts it renders
        return trainer

    def before_fit(self) -> None:
        config = self.config[self.subcommand]
        self._checkpoint_for_this_world_size()
        if config.validate_before_fit and not config.get("ckpt_path"):
            self.accuracy_before = self._validate()

    def after_fit(self) -> None:
        if self.checkpoint_dir is not None and not self.trainer.interrupted:
            # ModelCheckpoint saves `last` at the end only if it never saved: the last steps would be lost.
            self.trainer.save_checkpoint(os.path.join(self.checkpoint_dir, "last.ckpt"), weights_only=False)
        if self.model.validated_at_step == self.trainer.global_step:  # fit just validated the final policy
            after = self.trainer.callback_metrics.get("val/accuracy")
            after = None if after is None else float(after)
        else:
            after = self._validate()
        before = getattr(self, "accuracy_before", None)
        if self.trainer.is_global_zero and after is not None:
            start = "n/a" if before is None else f"{before:.3f}"
            print(f"validation accuracy: before {start} -> after {after:.3f}", flush=True)

    def _checkpoint_for_this_world_size(self) -> None:
        """Resumes from a checkpoint written at another world size (`lit_rlvr.resharding`).

        An FSDP2 run's sharded folder, for a run that is not FSDP2, is consolidated into one file; a
        one-file checkpoint, for an FSDP2 run, gets its optimizer states keyed by parameter name.
        Each process writes the same file beside the original (atomically), so no process group is
        needed yet.
        """
        init = self.config_init[self.subcommand]
        path = init.get("ckpt_path")
        if path == "last" and self.checkpoint_dir is not None:
            path = os.path.join(self.checkpoint_dir, "last.ckpt")
        if not path or not os.path.exists(path):
            return
        under_fsdp2 = isinstance(self.trainer.strategy, ModelParallelStrategy)
        original = Path(path)
        if is_sharded(original) and not under_fsdp2:
            output = original.with_name(f"{original.name.removesuffix('.ckpt')}-consolidated.ckpt")
            rank_zero_info(
                f"resuming from the sharded checkpoint {original} through the single file {output}"
            )
            write = partial(consolidate, original)
        elif original.is_file() and under_fsdp2:
            output = original.with_name(f"{original.name.removesuffix('.ckpt')}-by-name.ckpt")
            names = [list(group) for group in self.model.trained_parameters()]
            write = partial(name_optimizer_states, original, names)
        else:
            return
        unfinished = output.with_name(f".{output.name}.{os.getpid()}.partial")
        write(unfinished)
        os.replace(unfinished, output)
        init.ckpt_path = str(output)

    def _validate(self) -> float | None:
        results = self.trainer.validate(self.model, datamodule=self.datamodule, verbose=False)
        return results[0].get("val/accuracy") if results else None


def _add_default_checkpointing(trainer: Namespace, every_n_steps: int) -> str | None:
    """Adds a `ModelCheckpoint` writing `last.ckpt` to a folder that stays put across runs.

    Lightning's default writes into the logger's `version_N` folder, which a resumed run does not
    look in, so `--ckpt_path last` would silently start over.
    """
    callbacks = trainer.callbacks or []
    if not isinstance(callbacks, list):
        callbacks = [callbacks]
    given = any(
        isinstance(callback, ModelCheckpoint)
        or (isinstance(callback, Namespace) and issubclass(_import(callback.class_path), ModelCheckpoint))
        for callback in callbacks
    )
    if trainer.enable_checkpointing is False or given:
        return None
    dirpath = os.path.join(trainer.default_root_dir or os.getcwd(), "checkpoints")
    checkpoint = Namespace(
        class_path=f"{ModelCheckpoint.__module__}.{ModelCheckpoint.__name__}",
        init_args=Namespace(dirpath=dirpath, save_last=True, save_top_k=0, every_n_train_steps=every_n_steps),
    )
    trainer.callbacks = [*callbacks, checkpoint]
    return dirpath


def _import(class_path: str) -> type:
    module_name, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def run(args: list[str] | None = None, *, subcommand: bool = True) -> RLVRCLI:
    """Runs the command line on `args` (default: `sys.argv`) and returns the finished CLI.

    With `subcommand=False`, `args` hold no subcommand and the CLI only parses and instantiates.
    """
    # Both describe this design, not a mistake: a checkpoint holds the state after the step's
    # updates (weights, optimizers, data position and RNGs agree, so resume is exact), and the
    # frozen reference model is in eval mode on purpose.
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
    return RLVRCLI(
        RLVRModule,
        PromptDataModule,
        args=args,
        run=subcommand,
        parser_class=RLVRParser,
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
    """Entry point of the `lit-rlvr` console script and `python -m lit_rlvr`.

    A user error (a bad option value; a missing or unreadable file, model path or checkpoint; bad
    data) ends the run with one line naming it and exit status 1; `LIT_RLVR_TRACEBACK=1` shows the
    traceback as well. Any other exception is a bug and keeps its traceback.
    """
    try:
        run()
    except (OSError, ValueError) as error:
        cause = _user_error(error)
        if os.environ.get("LIT_RLVR_TRACEBACK") == "1" or cause is None:
            raise
        sys.exit(f"lit-rlvr: error: {str(cause).replace(chr(10), ' ')}")


def _user_error(error: BaseException) -> BaseException | None:
    """The user error `error` is or was raised from (a class refusing its knobs reaches us wrapped
    in jsonargparse's own error): an `OSError`, or a `ValueError` raised by lit_rlvr's own checks
    (one from a library is a bug). None when there is none."""
    while error is not None:
        if isinstance(error, OSError) or (isinstance(error, ValueError) and _raised_in_package(error)):
            return error
        error = error.__cause__
    return None


def _raised_in_package(error: BaseException) -> bool:
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    package = os.path.dirname(os.path.abspath(__file__))
    return frame is not None and os.path.abspath(frame.tb_frame.f_code.co_filename).startswith(package)
