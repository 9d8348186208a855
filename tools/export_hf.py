"""Export the policy of a lit-rlvr checkpoint as a Hugging Face model folder.

    python tools/export_hf.py runs/grpo/checkpoints/last.ckpt exports/grpo --dtype bfloat16

The folder holds the policy's weights (safetensors), the base model's config and generation
config, and its tokenizer with the chat template, so `AutoModelForCausalLM.from_pretrained` and
vLLM load it as they load the base model. `lit_rlvr_export.json` beside them records where it came
from (checkpoint, global step, base model, the module's hyperparameters). A critic, when the run
had one, is written to `critic.safetensors` (its `backbone.*` and `head.*` weights as trained).

The base model (for the config and tokenizer) is the checkpoint's `model.model`; `--base` names
another copy of it, e.g. a local folder when the checkpoint comes from a machine with other paths.
Both a single-file checkpoint and the sharded folder FSDP2 (`ModelParallelStrategy`) writes are read.
A LoRA run's checkpoint holds its adapters only: they are merged into the base model's weights.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor
from transformers import AutoTokenizer

from lit_rlvr.lora import add_adapters, settings_from
from lit_rlvr.models import load_causal_lm, resolve

MANIFEST = "lit_rlvr_export.json"
CRITIC_FILE = "critic.safetensors"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_SHARDED_META = "meta.pt"  # Lightning's file of everything but the weights in a sharded checkpoint


class ExportError(Exception):
    """A checkpoint or output folder the export cannot use; the message says which and why."""


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The checkpoint's contents without its weights, and its `policy.*` and `critic.*` weights.

    Args:
        path: a Lightning `.ckpt` file, or the folder of a sharded (FSDP2) checkpoint.
    """
    if not path.exists():
        raise ExportError(f"{path}: no such checkpoint")
    if path.is_dir():
        return _read_sharded(path)
    try:  # `mmap`: the optimizer states, which are not exported, stay on disk
        checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as error:
        raise ExportError(f"{path} is not a lit-rlvr checkpoint: torch.load failed ({error})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ExportError(f"{path} is not a lit-rlvr checkpoint: it has no state_dict")
    state = checkpoint.pop("state_dict")
    return checkpoint, {k: v for k, v in state.items() if k.startswith(("policy.", "critic."))}


def _read_sharded(path: Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Reads a `torch.distributed.checkpoint` folder in this one process, skipping optimizer states."""
    from torch.distributed.checkpoint import FileSystemReader, load
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata

    if not (path / _SHARDED_META).is_file():
        raise ExportError(
            f"{path} is a folder without {_SHARDED_META}: not a sharded Lightning checkpoint; "
            "pass a .ckpt file or the folder FSDP2 wrote as <root>/checkpoints/last.ckpt"
        )
    checkpoint = torch.load(path / _SHARDED_META, map_location="cpu", weights_only=True)
    reader = FileSystemReader(path)
    # Lightning saves `{"state_dict": {...}, "optimizer_0": ...}`; DCP flattens it to dotted keys.
    prefix = "state_dict."
    wanted = (f"{prefix}policy.", f"{prefix}critic.")
    state = {
        key.removeprefix(prefix): torch.empty(meta.size, dtype=meta.properties.dtype)
        for key, meta in reader.read_metadata().state_dict_metadata.items()
        if isinstance(meta, TensorStorageMetadata) and key.startswith(wanted)
    }
    with warnings.catch_warnings():  # that it reads in one process, which is the intent
        warnings.filterwarnings("ignore", "torch.distributed is disabled")
        load({"state_dict": state}, storage_reader=reader, no_dist=True)
    return checkpoint, state


def _submodule(state: dict[str, Tensor], name: str) -> dict[str, Tensor]:
    prefix = f"{name}."
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file, not a folder")
    if not out.exists() or not any(out.iterdir()):
        return
    if not overwrite:
        raise ExportError(f"{out} exists and is not empty: choose another folder or pass --overwrite")
    if not (out / MANIFEST).is_file():  # never delete a folder this script did not write
        raise ExportError(f"{out} is not a previous export (no {MANIFEST}): --overwrite only replaces one")


def export(
    checkpoint_path: Path, out: Path, *, dtype: str, base: str | None, overwrite: bool
) -> dict[str, Any]:
    """Writes the policy of `checkpoint_path` as a Hugging Face folder `out`; returns its manifest.

    Args:
        checkpoint_path: a lit-rlvr Lightning checkpoint (file or sharded folder).
        out: the folder to write; it must be empty or absent unless `overwrite`.
        dtype: the weights' dtype in the folder, a key of `DTYPES`.
        base: the base model (alias, folder or hub id); None: the checkpoint's `model.model`.
        overwrite: replace `out` if it holds a previous export.
    """
    _check_out(out, overwrite)
    meta, state = read_checkpoint(checkpoint_path)
    policy, critic = _submodule(state, "policy"), _submodule(state, "critic")
    hparams = meta.get("hyper_parameters") or {}
    if not policy or ("model" not in hparams and base is None):
        raise ExportError(
            f"{checkpoint_path} is not a lit-rlvr checkpoint: "
            + ("no policy.* weights" if not policy else "no hyper_parameters.model (pass --base)")
        )
    base = base or hparams["model"]
    lora = hparams.get("lora")
    # LoRA: the adapters are merged in float32, then the merged weights are cast to `dtype`.
    model = load_causal_lm(base, dtype=torch.float32 if lora else DTYPES[dtype])
    if lora:
        model = add_adapters(model, settings_from(lora))
    try:
        missing, unexpected = model.load_state_dict(policy, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise ExportError(
            f"{checkpoint_path}: the policy's shapes differ from base model {base!r} (pass --base with the "
            f"model it was trained from): {error}"
        ) from None
    if lora:  # the checkpoint holds the adapters only; the frozen base weights come from `base`
        missing = [key for key in missing if "lora_" in key]
    if missing or unexpected:
        raise ExportError(
            f"{checkpoint_path}: the policy does not match base model {base!r} (pass --base with the model "
            f"it was trained from): missing {missing[:5]} ({len(missing)}), "
            f"unexpected {unexpected[:5]} ({len(unexpected)})"
        )
    if lora:
        model = model.merge_and_unload().to(DTYPES[dtype])
    if out.exists():  # empty, or a previous export (`_check_out`): replaced only now that all is well
        shutil.rmtree(out)
    model.save_pretrained(out)
    # The base tokenizer as published: lit-rlvr's left padding is a training-time choice.
    AutoTokenizer.from_pretrained(resolve(base)).save_pretrained(out)
    if critic:
        save_file({k: v.contiguous() for k, v in critic.items()}, out / CRITIC_FILE)
    manifest = {
        "source": str(checkpoint_path.resolve()),
        "global_step": meta.get("global_step"),
        "epoch": meta.get("epoch"),
        "base_model": base,
        "dtype": dtype,
        "critic": CRITIC_FILE if critic else None,
        "hyper_parameters": hparams,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> None:
    """Parses the command line, exports, and prints the files written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a .ckpt file (or FSDP2's sharded .ckpt folder)")
    parser.add_argument("out", type=Path, help="the Hugging Face folder to write")
    parser.add_argument("--dtype", choices=list(DTYPES), default="float32", help="dtype of the weights")
    parser.add_argument("--base", help="base model for config and tokenizer (default: the checkpoint's)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it is a previous export")
    args = parser.parse_args(argv)
    try:
        manifest = export(
            args.checkpoint, args.out, dtype=args.dtype, base=args.base, overwrite=args.overwrite
        )
    except ExportError as error:
        sys.exit(f"export_hf: error: {error}")
    for file in sorted(p for p in args.out.rglob("*") if p.is_file()):
        print(f"wrote {file}  ({file.stat().st_size / 2**20:.1f} MiB)")
    step, base = manifest["global_step"], manifest["base_model"]
    print(f"exported the policy at global step {step} (base model {base}) to {args.out}")
    if manifest["critic"]:
        print(f"the critic's weights are in {args.out / CRITIC_FILE} (not part of the Hugging Face model)")


if __name__ == "__main__":
    main()
