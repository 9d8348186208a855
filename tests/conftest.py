import pytest
import torch

from lit_rlvr.models import TINY, load_causal_lm, load_tokenizer


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
