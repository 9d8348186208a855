"""Bad input is refused when the config is parsed or the data loaded, with a message naming what and where."""

import json
from pathlib import Path

import pytest
from fit_helpers import TINY_ARGS

from lit_rlvr import data
from lit_rlvr.cli import run
from lit_rlvr.data import PromptDataModule
from lit_rlvr.models import TINY, load_tokenizer
from lit_rlvr.tasks.files import RowError

ASSETS = Path(__file__).parent / "assets"


def parse(*args: str) -> None:
    """Parses and instantiates the CLI (no subcommand: nothing runs)."""
    run([*TINY_ARGS, *args], subcommand=False)


def fit_on(tmp_path: Path, *args: str) -> None:
    run(["fit", *TINY_ARGS, f"--trainer.default_root_dir={tmp_path}", "--trainer.max_steps=1", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model.lr=-0.001"], r"model.lr must be > 0, got -0.001"),
        (["--model.objective.clip_low=1.5"], r"GRPO: clip_low must be in \(0, 1\), got 1.5"),
        (["--model.objective.clip_high=0"], r"GRPO: clip_high must be in \(0, 1\), got 0"),
        (
            ["--rollout.samples_per_prompt=1"],
            r"model.objective=GRPO needs rollout.samples_per_prompt >= 2 .*got 1",
        ),
        (["--model.objective=PPO"], r"model.objective=PPO needs a critic: set model.critic"),
        (["--nonfinite.max_consecutive_skips=-1"], r"nonfinite.max_consecutive_skips must be >= 0, got -1"),
    ],
)
def test_invalid_values_are_refused_at_parse_time(args, message):
    with pytest.raises(ValueError, match=message):
        parse(*args)


def test_unknown_objective_name_lists_the_problem(capsys):
    with pytest.raises(SystemExit):
        parse("--model.objective=NoSuchObjective")
    error = capsys.readouterr().err
    assert "NoSuchObjective" in error
    assert "model.objective takes one of: CISPO, DAPO, DrGRPO, GMPO, GRPO," in error


def test_only_fit_and_validate_are_subcommands(capsys):
    with pytest.raises(SystemExit):
        run(["test"])
    assert "invalid choice: 'test' (choose from 'fit', 'validate')" in capsys.readouterr().err


def test_unknown_objective_knob_names_it(capsys):
    with pytest.raises(SystemExit):
        parse("--model.objective=GSPO", "--model.objective.clip_ratio=0.2")
    error = capsys.readouterr().err
    assert "Option 'clip_ratio' is not accepted" in error and "takes one of" not in error


def test_unknown_chat_template_mode_names_the_choices(capsys):
    with pytest.raises(SystemExit):
        parse("--data.chat_template=always")
    error = capsys.readouterr().err
    assert "data.chat_template" in error and "required" in error


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"question": "   ", "answer": "3"}], r"rows.jsonl: row 1: field 'question' must be a non-empty"),
        ([{"question": "1+2?"}], r"rows.jsonl: row 1: field 'answer' must be a non-empty gold answer"),
        ([{"question": "1+2?", "answer": "3"}, {"question": "2+2?", "answer": ""}], r"row 2: field 'answer'"),
    ],
)
def test_bad_rows_stop_fit_before_training(tmp_path, rows, message):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(RowError, match=message):
        fit_on(tmp_path, "--data.task=lit_rlvr.tasks.files.FileTask", f"--data.task.train={path}")


def test_malformed_gsm8k_file_stops_fit_naming_file_row_and_field(tmp_path):
    with pytest.raises(
        RowError, match=r"malformed_gsm8k.jsonl: row 2: field 'answer' must end with '#### <answer>'"
    ):
        fit_on(
            tmp_path,
            "--data.task=lit_rlvr.tasks.readers.GSM8KTask",
            f"--data.task.train={ASSETS / 'malformed_gsm8k.jsonl'}",
        )


def test_required_chat_template_refuses_a_tokenizer_without_one(monkeypatch):
    tokenizer = load_tokenizer(TINY)
    tokenizer.chat_template = None
    monkeypatch.setattr(data, "load_tokenizer", lambda model: tokenizer)
    with pytest.raises(
        ValueError, match=r"data.chat_template=required, but the tokenizer of 'tiny-random-llama'"
    ):
        PromptDataModule(model=TINY, chat_template="required").setup("fit")
    module = PromptDataModule(model=TINY, chat_template="auto")
    module.setup("fit")  # `auto` falls back to a plain transcript
    assert tokenizer.decode(module.splits["train"][0]["input_ids"]).rstrip().endswith("Assistant:")
