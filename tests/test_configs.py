"""Every config in configs/ parses and instantiates through the real CLI (on the tiny model)."""

from pathlib import Path

import pytest
from conftest import needs_vllm

from lit_rlvr.cli import run
from lit_rlvr.objectives import Objective

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
# The tiny model has 2 decoder layers; the small-critic config keeps 6 of SmolLM2's 30.
ON_THE_TINY_MODEL = {"sppo_small_critic": ["--model.critic.num_layers=1"]}


@pytest.mark.parametrize(
    "config",
    [pytest.param(c, marks=needs_vllm) if "vllm" in c.stem else c for c in CONFIGS],
    ids=lambda p: p.stem,
)
def test_config_instantiates(config):
    cli = run(
        [f"--config={config}", "--model.model=tiny-random-llama", *ON_THE_TINY_MODEL.get(config.stem, [])],
        subcommand=False,
    )
    assert isinstance(cli.model.objective, Objective)
    assert cli.trainer.max_steps > 0
    first_line = config.read_text().splitlines()[0]
    assert first_line.startswith("#"), f"{config.name}: the header comment should describe the experiment"
    assert f"configs/{config.name}" in config.read_text(), (
        f"{config.name}: the header should give its launch command"
    )
    header = "\n".join(line for line in config.read_text().splitlines() if line.startswith("#"))
    assert "Update structure" in header and "step" in header, (
        f"{config.name}: the header should say how many optimizer steps a rollout feeds, and why"
    )
    assert "arXiv" in header, f"{config.name}: the header should name its source"
    steps_per_rollout = cli.model.updates_per_rollout
    assert cli.trainer.max_steps % steps_per_rollout == 0, "max_steps should be whole rollouts"


def test_group_objective_with_one_sample_is_refused():
    with pytest.raises(ValueError, match="rollout.engine.samples_per_prompt"):
        run(["--model.model=tiny-random-llama", "--rollout.engine.samples_per_prompt=1"], subcommand=False)


def test_unknown_objective_is_refused(capsys):
    with pytest.raises(SystemExit):
        run(["--model.model=tiny-random-llama", "--model.objective=NoSuchObjective"], subcommand=False)
    assert "NoSuchObjective" in capsys.readouterr().err
