"""Learning tests: RL raises the reward of a tiny random model on a trivially learnable task."""

from fit_helpers import fit

BUDGET = [
    "--trainer.max_steps=60",
    "--model.lr=2e-2",
    "--rollout.samples_per_prompt=8",
    "--rollout.max_new_tokens=8",
    "--data.prompts_per_step=4",
    "--validate_before_fit=false",
    "--trainer.limit_val_batches=0",
    "--trainer.logger=false",
    "--trainer.enable_checkpointing=false",
    "--trainer.callbacks+=fit_helpers.History",
]


def test_grpo_learns_a_trivial_task(tmp_path):
    # The share of vowels among the letters of 8 sampled tokens: about 0.37 for the random model; a
    # policy that settles on vowel-only tokens scores 1.
    _, history = fit(*BUDGET, root=str(tmp_path))
    rewards = [step["reward/mean"] for step in history.steps]
    assert sum(rewards[:5]) / 5 < 0.5
    assert max(rewards) >= 0.9, rewards
    assert sum(rewards[-5:]) / 5 >= 0.9, rewards
