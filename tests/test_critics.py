"""The module's critic knob, the critics' shapes and SSPO's delimiter lookup on the real tokenizer."""

import pytest
import torch

from lit_rlvr.critics import CriticConfig, PromptValueCritic, TokenValueCritic
from lit_rlvr.models import TINY
from lit_rlvr.module import RLVRModule
from lit_rlvr.objectives import GRPO, PPO, SSPO, SequencePPO
from lit_rlvr.rollout import RolloutGenerator


@pytest.mark.parametrize("objective", [PPO(), SequencePPO()], ids=["PPO", "SequencePPO"])
def test_an_objective_with_a_critic_needs_the_knob(objective):
    with pytest.raises(ValueError, match="model.critic"):
        RLVRModule(model=TINY, objective=objective)


def test_a_critic_without_use_is_refused():
    with pytest.raises(ValueError, match="model.critic is set but model.objective=GRPO"):
        RLVRModule(model=TINY, objective=GRPO(), critic=CriticConfig())


def test_bad_critic_optimizer_is_refused():
    with pytest.raises(ValueError, match="model.critic"):
        CriticConfig(lr=0.0)


def test_critic_kinds_and_shapes(tokenizer, prompt_batch):
    module = RLVRModule(model=TINY, objective=PPO(kl_coef=0.0), critic=CriticConfig())
    assert isinstance(module.critic, TokenValueCritic) and module.reference is None
    rollout = RolloutGenerator(samples_per_prompt=2, max_new_tokens=5)(module.policy, tokenizer, prompt_batch)
    values = module.critic.values(rollout)
    assert values.shape == rollout.completion_mask.shape
    assert torch.all(values == 0)  # zero-initialised head
    prompt_critic = PromptValueCritic(TINY)
    logits = prompt_critic(prompt_batch["prompt_ids"], prompt_batch["prompt_mask"])
    assert logits.shape == (3,)


def test_prompt_critic_reads_only_the_last_prompt_token_of_left_padded_prompts(prompt_batch):
    critic = PromptValueCritic(TINY)
    torch.nn.init.normal_(critic.head.weight)
    ids, mask = prompt_batch["prompt_ids"], prompt_batch["prompt_mask"]
    batched = critic(ids, mask)
    alone = torch.stack([critic(ids[i : i + 1, mask[i]], mask[i : i + 1, mask[i]]) for i in range(3)])
    torch.testing.assert_close(batched, alone.flatten(), atol=1e-4, rtol=1e-4)


def test_sspo_gets_a_delimiter_lookup_of_the_embedding_size(tokenizer):
    module = RLVRModule(model=TINY, objective=SSPO())
    lookup = module.delimiter_mask
    assert lookup.shape == (module.policy.get_input_embeddings().num_embeddings,)
    for text, is_delimiter in ((".", True), ("\n", True), (",", True), ("hello", False)):
        (token,) = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert bool(lookup[token]) is is_delimiter, text
    assert RLVRModule(model=TINY).delimiter_mask is None
