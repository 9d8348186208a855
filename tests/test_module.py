import pytest
import torch
from lightning import Trainer

from lit_rlvr.aggregation import LossNorm
from lit_rlvr.callbacks import RolloutCollector
from lit_rlvr.data import PromptDataModule
from lit_rlvr.models import TINY
from lit_rlvr.module import RLVRModule
from lit_rlvr.objectives import GRPO
from lit_rlvr.rollout import RolloutGenerator
from lit_rlvr.tasks.arithmetic import ArithmeticTask


@pytest.mark.parametrize("aggregation", ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"])
def test_gradient_does_not_depend_on_the_micro_batch_split(tokenizer, prompt_batch, aggregation):
    module = RLVRModule(model=TINY, objective=GRPO(aggregation=aggregation, kl_coef=0.1))
    torch.manual_seed(0)
    rollout = RolloutGenerator(samples_per_prompt=4, max_new_tokens=6)(module.policy, tokenizer, prompt_batch)
    rewards = torch.rand(len(rollout.texts))
    rollout = rollout._replace(
        rewards=rewards,
        # an off-policy rollout, so that ratios differ from 1 and clipping is in play
        logp_old=module.sequence_logprobs(module.policy, rollout)
        + 0.3 * torch.randn(rollout.completion_mask.shape),
        ref_logp=module.sequence_logprobs(module.reference, rollout) - 0.1,
    )
    mask = rollout.completion_mask
    advantages = module.objective.advantages(rewards.view(-1, 4), mask).advantages
    norm = LossNorm(tokens=float(mask.sum()), sequences=float(len(mask)), max_len=6.0)

    def gradient(micro_batch_size):
        module.policy.zero_grad()
        for micro in torch.arange(len(mask)).split(micro_batch_size):
            module._micro_step(rollout.select(micro), advantages[micro], norm)[0].loss.backward()
        return torch.cat([p.grad.flatten() for p in module.policy.parameters()])

    whole = gradient(len(mask))
    assert whole.abs().sum() > 0
    for size in (1, 5):
        assert torch.allclose(gradient(size), whole, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("micro_batch_tokens", [1, 40, 90])
def test_gradient_does_not_depend_on_the_token_budget(tokenizer, prompt_batch, micro_batch_tokens):
    module = RLVRModule(model=TINY, objective=GRPO(aggregation="token_mean"), micro_batch_size=64)
    torch.manual_seed(0)
    rollout = RolloutGenerator(samples_per_prompt=4, max_new_tokens=6)(module.policy, tokenizer, prompt_batch)
    rewards = torch.rand(len(rollout.texts))
    mask = rollout.completion_mask
    advantages = module.objective.advantages(rewards.view(-1, 4), mask).advantages
    norm = LossNorm(tokens=float(mask.sum()), sequences=float(len(mask)), max_len=6.0)
    rows = torch.randperm(len(mask))

    def gradient(micro_batches):
        module.policy.zero_grad()
        for micro in micro_batches:
            module._micro_step(rollout.select(micro), advantages[micro], norm)[0].loss.backward()
        return torch.cat([p.grad.flatten() for p in module.policy.parameters()])

    whole = gradient([rows])
    module.micro_batch_tokens = micro_batch_tokens
    cut = module.cut_micro_batches(rollout, rows)
    assert len(cut) > 1
    torch.testing.assert_close(gradient(cut), whole, atol=1e-6, rtol=1e-4)


def test_first_mini_batch_scores_its_own_old_logprobs(tokenizer, prompt_batch):
    """With one epoch of several mini-batches, the old-policy pass skips the first mini-batch (its
    update runs on the sampling weights and uses its own log-probs); the other rows are scored."""
    module = RLVRModule(model=TINY, objective=GRPO(), mini_batches=3)
    assert module.needs_logp_old and module.first_update_scores_itself
    torch.manual_seed(0)
    rollout = RolloutGenerator(samples_per_prompt=4, max_new_tokens=6)(module.policy, tokenizer, prompt_batch)
    order = module._mini_batch_order(len(rollout.texts))
    logp_old = module._score(rollout, order).logp_old
    full = module.sequence_logprobs(module.policy, rollout)
    rest = torch.ones(len(full), dtype=torch.bool)
    rest[order[0]] = False
    torch.testing.assert_close(logp_old[rest], full[rest], rtol=0, atol=1e-6)
    assert (logp_old[order[0]] == 0).all()  # not scored: the first update fills its own
    assert not RLVRModule(
        model=TINY, objective=GRPO(), mini_batches=3, ppo_epochs=2
    ).first_update_scores_itself


def test_module_without_the_rollout_callback_says_which_is_missing():
    module = RLVRModule(model=TINY)
    trainer = Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    with pytest.raises(RuntimeError, match="RolloutCollector"):
        trainer.fit(module, PromptDataModule(model=TINY, prompts_per_step=2))


@pytest.mark.parametrize("bad", [{"lr": -1.0}, {"micro_batch_size": 0}, {"ppo_epochs": 0}])
def test_invalid_module_knobs_are_refused(bad):
    with pytest.raises(ValueError, match=f"model.{next(iter(bad))}"):
        RLVRModule(model=TINY, **bad)


def test_a_group_objective_refuses_one_sample_per_prompt_without_the_cli(tmp_path):
    # The check sits where G and the objective meet (the callback's setup), so a plain Trainer gets it
    # before any generation instead of dividing by the std of one sample.
    collector = RolloutCollector(engine=RolloutGenerator(samples_per_prompt=1), reward_workers=1)
    trainer = Trainer(max_steps=1, callbacks=[collector], logger=False, default_root_dir=tmp_path)
    data = PromptDataModule(task=ArithmeticTask(train_size=4, val_size=2), model=TINY, prompts_per_step=2)
    with pytest.raises(ValueError, match=r"GRPO needs rollout.engine.samples_per_prompt >= 2 .* got 1"):
        trainer.fit(RLVRModule(model=TINY, objective=GRPO()), datamodule=data)
    collector.scorer.close()
