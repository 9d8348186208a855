import pytest
import torch

from lit_rlvr.logprobs import completion_logprobs
from lit_rlvr.rollout import RolloutGenerator, completion_mask


def naive_logprobs(model, prompt, completion, temperature):
    """Unpadded, one sequence at a time, from full logits."""
    ids = torch.cat([prompt, completion])[None]
    logits = model(ids).logits[0, len(prompt) - 1 : -1].float() / temperature
    logp = logits.log_softmax(-1)
    return logp.gather(-1, completion[:, None]).squeeze(-1), -(logp.exp() * logp).sum(-1)


@pytest.mark.parametrize("chunk_tokens", [1, 7, 4096])
def test_matches_unpadded_full_logits(tiny_model, tokenizer, prompt_batch, chunk_tokens):
    torch.manual_seed(0)
    rollout = RolloutGenerator(samples_per_prompt=2, max_new_tokens=6, temperature=0.7)(
        tiny_model, tokenizer, prompt_batch
    )
    scored = completion_logprobs(
        tiny_model,
        rollout.input_ids,
        rollout.attention_mask,
        rollout.completion_mask,
        temperature=0.7,
        chunk_tokens=chunk_tokens,
    )
    for i in range(len(rollout.texts)):
        prompt = rollout.prompt_ids[i][rollout.prompt_mask[i]]
        completion = rollout.completion_ids[i][rollout.completion_mask[i]]
        logp, entropy = naive_logprobs(tiny_model, prompt, completion, 0.7)
        n = len(completion)
        assert torch.allclose(scored.logp[i, :n], logp, atol=1e-4)
        assert torch.allclose(scored.entropy[i, :n], entropy, atol=1e-4)
        assert torch.all(scored.logp[i, n:] == 0)


def test_gradient_flows_through_chunks(tiny_model, tokenizer, prompt_batch):
    rollout = RolloutGenerator(samples_per_prompt=1, max_new_tokens=4)(tiny_model, tokenizer, prompt_batch)
    scored = completion_logprobs(
        tiny_model, rollout.input_ids, rollout.attention_mask, rollout.completion_mask, chunk_tokens=3
    )
    scored.logp.sum().backward()
    grad_chunked = tiny_model.lm_head.weight.grad.clone()
    tiny_model.zero_grad()
    total = sum(
        naive_logprobs(
            tiny_model,
            rollout.prompt_ids[i][rollout.prompt_mask[i]],
            rollout.completion_ids[i][rollout.completion_mask[i]],
            1.0,
        )[0].sum()
        for i in range(len(rollout.texts))
    )
    total.backward()
    # The tied head sums float32 gradients over every position in a different order than the
    # unpadded one-by-one reference: entries up to ~4 differ by up to ~2e-5 (5e-5 relative).
    torch.testing.assert_close(grad_chunked, tiny_model.lm_head.weight.grad, rtol=1e-4, atol=1e-4)


def test_completion_mask_stops_after_first_eos():
    ids = torch.tensor([[5, 2, 2, 2], [5, 6, 7, 8], [2, 9, 2, 9]])
    assert completion_mask(ids, torch.tensor([2])).tolist() == [
        [True, True, False, False],
        [True, True, True, True],
        [True, False, False, False],
    ]


def test_generator_shapes_and_greedy_is_deterministic(tiny_model, tokenizer, prompt_batch):
    generator = RolloutGenerator(samples_per_prompt=3, max_new_tokens=5)
    rollout = generator(tiny_model, tokenizer, prompt_batch)
    assert rollout.completion_ids.shape[0] == 9 and rollout.completion_ids.shape[1] <= 5
    assert torch.equal(rollout.prompt_ids[0], rollout.prompt_ids[2]) and rollout.group_size == 3
    assert len(rollout.texts) == 9 and rollout.truncated.shape == (9,)
    first = generator(tiny_model, tokenizer, prompt_batch, greedy=True)
    second = generator(tiny_model, tokenizer, prompt_batch, greedy=True)
    assert first.group_size == 1 and torch.equal(first.completion_ids, second.completion_ids)


def test_shared_prompt_pass_equals_one_sequence_per_row(tiny_model, tokenizer, prompt_batch):
    """Rows sharing a prompt run it once (KV cache repeated per row); the log-probs and the gradient
    equal the pass that runs each row's prompt and completion as one sequence (activation
    checkpointing takes that path)."""
    torch.manual_seed(0)
    rollout = RolloutGenerator(samples_per_prompt=3, max_new_tokens=6, temperature=0.9)(
        tiny_model, tokenizer, prompt_batch
    )
    rows = torch.tensor([4, 0, 7, 3, 1])  # prompts 1, 0, 2, 1, 0: shared and lone prompts, out of order
    part = rollout.select(rows)

    def scored_and_gradient():
        tiny_model.zero_grad()
        scored = completion_logprobs(tiny_model, part.input_ids, part.attention_mask, part.completion_mask)
        (scored.logp.sum() + scored.entropy.sum()).backward()
        return scored, torch.cat([p.grad.flatten() for p in tiny_model.parameters()])

    shared, shared_grad = scored_and_gradient()
    tiny_model.gradient_checkpointing_enable({"use_reentrant": False})
    whole, whole_grad = scored_and_gradient()
    torch.testing.assert_close(shared.logp, whole.logp, rtol=0, atol=1e-5)
    torch.testing.assert_close(shared.entropy, whole.entropy, rtol=0, atol=1e-5)
    assert shared_grad.abs().sum() > 0
    torch.testing.assert_close(shared_grad, whole_grad, rtol=1e-4, atol=1e-5)
