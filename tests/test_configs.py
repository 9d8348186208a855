"""Every config in configs/ parses and instantiates through the real CLI (on the tiny model)."""

from pathlib import Path

import pytest

from lit_rlvr.cli import run
from lit_rlvr.objectives import Objective

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.stem)
def test_config_instantiates(config):
    cli = run([f"--config={config}", "--model.model=tiny-random-llama"], subcommand=False)
    assert isinstance(cli.model.objective, Objective)
    assert cli.trainer.max_steps > 0
    first_line = config.read_text().splitlines()[0]
    assert first_line.startswith("#"), f"{config.name}: the header comment should describe the experiment"
    assert f"configs/{config.name}" in config.read_text(), (
        f"{config.name}: the header should give its launch command"
    )


def test_group_objective_with_one_sample_is_refused():
    with pytest.raises(ValueError, match="rollout.samples_per_prompt"):
        run(["--model.model=tiny-random-llama", "--rollout.samples_per_prompt=1"], subcommand=False)


def test_unknown_objective_is_refused(capsys):
    with pytest.raises(SystemExit):
        run(["--model.model=tiny-random-llama", "--model.objective=NoSuchObjective"], subcommand=False)
    assert "NoSuchObjective" in capsys.readouterr().err
