"""The module's critic knob, the critics' shapes and SSPO's delimiter lookup on the real tokenizer."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fit_helpers import TINY_ARGS, History

from lit_rlvr.cli import run
from lit_rlvr.critics import CriticConfig, PromptValueCritic, TokenValueCritic, build_critic
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
    with pytest.raises(ValueError, match="model.critic: need lr >= 0"):
        CriticConfig(lr=-1e-5)
    CriticConfig(lr=0.0)  # a frozen critic: the constant-baseline control


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
    lookup = module.objective.delimiter_mask
    assert lookup.shape == (module.policy.get_input_embeddings().num_embeddings,)
    for text, is_delimiter in ((".", True), ("\n", True), (",", True), ("hello", False)):
        (token,) = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert bool(lookup[token]) is is_delimiter, text
    assert not hasattr(RLVRModule(model=TINY).objective, "delimiter_mask")


def test_ppo_critic_warmup_and_adaptive_kl_state_in_the_checkpoint(tmp_path):
    config = Path(__file__).parents[1] / "configs" / "ppo.yaml"
    cli = run(
        ["fit", f"--config={config}", *TINY_ARGS, f"--trainer.default_root_dir={tmp_path}",
         "--trainer.max_steps=1", "--validate_before_fit=false", "--trainer.limit_val_batches=0",
         "--rollout.engine.max_new_tokens=6", "--rollout.engine.samples_per_prompt=2",
         "--data.prompts_per_step=2",
         "--model.objective.critic_warmup_steps=1", "--model.objective.kl_target=0.1",
         "--model.ppo_epochs=1", "--model.mini_batches=1", "--trainer.callbacks+=fit_helpers.History"]
    )  # fmt: skip
    (history,) = [c for c in cli.trainer.callbacks if isinstance(c, History)]
    assert cli.trainer.global_step == 1 and len(history.steps) == 2  # one warm-up rollout, then one step
    assert "critic/value_loss" in history.steps[0]
    beta = cli.model.objective.kl_controller.value
    assert beta != 0.001  # adapted after each of the two rollouts
    (path,) = Path(tmp_path).rglob("*.ckpt")
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["objective"] == {"kl_controller": {"value": beta}}
    assert any(key.startswith("critic.head.") for key in checkpoint["state_dict"])
    assert len(checkpoint["optimizer_states"]) == 2


def test_two_process_ddp_fit_with_a_critic(tmp_path):
    # Each backward reaches only the policy or only the critic: DDP must tolerate unused parameters.
    config = Path(__file__).parents[1] / "configs" / "ppo.yaml"
    command = [
        sys.executable, "-m", "lit_rlvr", "fit", f"--config={config}", *TINY_ARGS, "--parallelism=ddp",
        "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.max_steps=2",
        "--trainer.limit_val_batches=1", "--data.val_batch_size=4", "--data.prompts_per_step=2",
        "--rollout.engine.samples_per_prompt=2", "--rollout.engine.max_new_tokens=4",
        f"--trainer.default_root_dir={tmp_path}",
    ]  # fmt: skip
    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": f"{tests}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("kind", ["token", "prompt"])
def test_critic_is_built_in_train_mode(kind):
    # `from_pretrained` returns a model in eval mode; a critic left there would train without dropout.
    critic = build_critic(kind, CriticConfig(), TINY)
    assert all(module.training for module in critic.modules())


@pytest.mark.parametrize("config", ["sppo", "ppo"])
def test_the_critic_takes_one_step_per_mini_batch(config, tmp_path):
    # As the SPPO reference (an optimizer step inside dp_critic's mini-batch loop) and verl's PPO:
    # 2 epochs x 2 mini-batches of one rollout are 4 critic steps, not 1.
    path = Path(__file__).parents[1] / "configs" / f"{config}.yaml"
    cli = run(
        ["fit", f"--config={path}", *TINY_ARGS, f"--trainer.default_root_dir={tmp_path}",
         "--model.ppo_epochs=2", "--model.mini_batches=2", "--trainer.max_steps=4",
         "--data.prompts_per_step=4", "--rollout.engine.max_new_tokens=4", "--validate_before_fit=false",
         "--trainer.limit_val_batches=0", "--trainer.logger=false", "--trainer.enable_checkpointing=false"]
    )  # fmt: skip
    policy_optimizer, critic_optimizer = (
        o.optimizer if hasattr(o, "optimizer") else o for o in cli.trainer.optimizers
    )
    steps = {float(state["step"]) for state in critic_optimizer.state.values()}
    assert steps == {4.0}, steps
    assert {float(state["step"]) for state in policy_optimizer.state.values()} == {4.0}
    # ... on the policy's own mini-batches: the one rollout's order is the only shuffle drawn
    module = cli.model
    rows = 4 * (cli.config["fit"]["rollout"]["engine"]["init_args"]["samples_per_prompt"])
    expected = torch.Generator().manual_seed(module.hparams.seed)
    for _ in range(module.ppo_epochs):
        torch.randperm(rows, generator=expected)
    assert torch.equal(module._shuffle.get_state(), expected.get_state())


def test_a_small_critic_is_the_first_layers_of_a_pretrained_model():
    critic = build_critic("prompt", CriticConfig(num_layers=1), TINY)
    policy = RLVRModule(model=TINY).policy
    assert len(critic.backbone.layers) == 1 and critic.backbone.config.num_hidden_layers == 1
    for name, weight in critic.backbone.layers[0].state_dict().items():
        torch.testing.assert_close(weight, policy.model.layers[0].state_dict()[name], rtol=0, atol=0)
    torch.testing.assert_close(critic.backbone.embed_tokens.weight, policy.model.embed_tokens.weight)
    with pytest.raises(ValueError, match="model.critic.num_layers=3, but .* has only 2 decoder layers"):
        build_critic("prompt", CriticConfig(num_layers=3), TINY)
    with pytest.raises(ValueError, match="model.critic.num_layers must be >= 1"):
        CriticConfig(num_layers=0)
