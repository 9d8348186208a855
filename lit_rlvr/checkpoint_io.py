"""Atomic checkpoint writes: a crash or a kill mid-save leaves the previous checkpoint intact.

Reads name the file when it is not a checkpoint (truncated, corrupt, or something else).
"""

from __future__ import annotations

import os
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import IO, Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


def check_checkpoint(path: str) -> None:
    """Refuses a checkpoint file that is not a whole `torch.save` archive, naming it.

    `torch.save` writes a zip archive whose directory sits at the end, so a truncated file has none.
    """
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"checkpoint {path}: cannot be read: truncated or corrupt (not a complete torch.save archive); "
            "expected a complete .ckpt file written by lit-rlvr"
        )


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes `path` through a temporary file beside it, fsynced, then renamed over `path`.

    `os.replace` is atomic on POSIX filesystems, so `path` holds either the old checkpoint or the
    new one, never a truncated file. Lightning's own writer opens `path` for writing and streams
    into it, so a kill there loses the last checkpoint. The `lit-rlvr` CLI installs this one.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")  # not `*.ckpt`: never found as a checkpoint
        with open(partial, "wb") as file:
            self.write(checkpoint, file)
            file.flush()
            os.fsync(file.fileno())
        if (
            path.is_dir() and (path / ".metadata").is_file()
        ):  # an FSDP2 run's sharded checkpoint of the same name
            shutil.rmtree(path)
        os.replace(partial, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:  # makes the rename itself durable
            os.fsync(directory)
        finally:
            os.close(directory)

    def load_checkpoint(self, path: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Loads `path` as Lightning does; a file torch cannot read is reported with its name."""
        if os.path.isdir(path):
            raise IsADirectoryError(f"checkpoint {path}: is a folder; expected a .ckpt file")
        try:
            checkpoint = super().load_checkpoint(path, *args, **kwargs)
        except (RuntimeError, EOFError, pickle.UnpicklingError) as error:
            reason = str(error).split(". ")[0] or type(error).__name__  # torch appends a long hint
            raise ValueError(
                f"checkpoint {path}: cannot be read: truncated or corrupt ({reason}); expected a complete "
                ".ckpt file written by lit-rlvr"
            ) from error
        if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
            raise ValueError(f"checkpoint {path}: not a Lightning checkpoint (it has no state_dict)")
        return checkpoint

    def write(self, checkpoint: dict[str, Any], file: IO[bytes]) -> None:
        """Serializes `checkpoint` into the open temporary file."""
        torch.save(checkpoint, file)
