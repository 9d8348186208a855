"""`tools/export_hf.py`: a policy trained 2 steps, exported, loads with transformers and keeps its logits."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fit_helpers import fit
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from lit_rlvr.models import TINY, load_causal_lm, load_tokenizer, resolve

TESTS = Path(__file__).parent
TOOL = TESTS.parent / "tools" / "export_hf.py"
TOKEN_IDS = torch.tensor([[1, 17, 300, 4242, 9, 28]])


def _load_tool():
    spec = importlib.util.spec_from_file_location("export_hf", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


export_hf = _load_tool()


def run_tool(*args: object) -> subprocess.CompletedProcess:
    command = [sys.executable, str(TOOL), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def tool_error(*args: object) -> str:
    """The message the tool exits with (in-process: quicker than a subprocess per error)."""
    with pytest.raises(SystemExit) as exit_info:
        export_hf.main([str(a) for a in args])
    return str(exit_info.value.code)


def logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(TOKEN_IDS).logits


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A PPO run with a critic on the tiny model, so one fit gives both a policy and a critic."""
    root = tmp_path_factory.mktemp("ppo")
    fit(
        "--trainer.max_steps=2",
        "--model.lr=1e-2",
        "--model.objective=PPO",
        "--model.critic={model: null}",
        "--rollout.engine.max_new_tokens=4",
        "--validate_before_fit=false",
        "--trainer.limit_val_batches=0",
        root=str(root),
    )
    return root / "checkpoints" / "last.ckpt"


def policy_in_base_model(checkpoint_path: Path) -> torch.nn.Module:
    """The base model with the checkpoint's policy weights, loaded here without the tool."""
    state = torch.load(checkpoint_path, weights_only=True)["state_dict"]
    model = load_causal_lm(TINY)
    model.load_state_dict({k.removeprefix("policy."): v for k, v in state.items() if k.startswith("policy.")})
    return model.eval()


def test_export_loads_with_transformers_and_gives_the_trained_logits(checkpoint, tmp_path):
    out = tmp_path / "hf"
    result = run_tool(checkpoint, out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"wrote {out / 'model.safetensors'}" in result.stdout
    assert "critic.safetensors" in result.stdout

    exported = AutoModelForCausalLM.from_pretrained(out).eval()
    assert torch.equal(logits(exported), logits(policy_in_base_model(checkpoint)))
    assert not torch.allclose(logits(exported), logits(load_causal_lm(TINY).eval()))  # training changed it

    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template and tokenizer.chat_template == load_tokenizer(TINY).chat_template

    manifest = json.loads((out / "lit_rlvr_export.json").read_text())
    assert manifest["global_step"] == 2 and manifest["base_model"] == TINY
    assert manifest["source"] == str(checkpoint.resolve()) and manifest["critic"] == "critic.safetensors"

    critic = load_file(out / "critic.safetensors")
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert {"head.weight", "head.bias"} <= set(critic)
    assert all(torch.equal(v, state[f"critic.{k}"]) for k, v in critic.items())


def test_dtype_and_overwrite_of_a_previous_export(checkpoint, tmp_path):
    out = tmp_path / "hf"
    export_hf.main([str(checkpoint), str(out)])
    assert "exists and is not empty" in tool_error(checkpoint, out, "--dtype=bfloat16")
    export_hf.main([str(checkpoint), str(out), "--dtype=bfloat16", "--overwrite"])
    exported = AutoModelForCausalLM.from_pretrained(out)
    assert exported.config.dtype == torch.bfloat16 and exported.lm_head.weight.dtype == torch.bfloat16


def test_clear_errors(checkpoint, tmp_path):
    missing = tmp_path / "missing.ckpt"
    assert tool_error(missing, tmp_path / "a") == f"export_hf: error: {missing}: no such checkpoint"

    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"model.weight": torch.zeros(2)}, "hyper_parameters": {}}, foreign)
    assert f"{foreign} is not a lit-rlvr checkpoint: no policy.* weights" in tool_error(
        foreign, tmp_path / "b"
    )
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    assert f"{text} is not a lit-rlvr checkpoint: torch.load failed" in tool_error(text, tmp_path / "c")

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    assert f"{occupied} exists and is not empty" in tool_error(checkpoint, occupied)
    assert "is not a previous export" in tool_error(checkpoint, occupied, "--overwrite")
    assert (occupied / "notes.txt").read_text() == "keep me"

    config = AutoConfig.from_pretrained(resolve(TINY), num_hidden_layers=1)
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "one_layer")
    message = tool_error(checkpoint, tmp_path / "d", f"--base={tmp_path / 'one_layer'}")
    assert "the policy does not match base model" in message and "unexpected ['model.layers.1." in message


@pytest.mark.slow
def test_export_of_a_sharded_fsdp2_checkpoint(tmp_path):
    """Two CPU processes under FSDP2 write a checkpoint folder; its export equals torch's own conversion."""
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    command = [
        sys.executable, "-m", "lit_rlvr", "fit",
        "--model.model=tiny-random-llama", "--threads=1", "--parallelism=fsdp2",
        "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.max_steps=1", "--model.lr=1e-2",
        "--validate_before_fit=false", "--trainer.limit_val_batches=0", "--data.prompts_per_step=2",
        "--rollout.engine.samples_per_prompt=2", "--rollout.engine.max_new_tokens=4",
        "--rollout.reward_workers=1",
        "--rollout.rewards=[{name: vowels, fn: reward_fns.vowel_share}]",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={tmp_path}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    fitted = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert fitted.returncode == 0, fitted.stderr[-3000:]
    sharded = tmp_path / "checkpoints" / "last.ckpt"
    assert sharded.is_dir()

    result = run_tool(sharded, tmp_path / "hf")
    assert result.returncode == 0, result.stderr[-3000:]
    dcp_to_torch_save(sharded, tmp_path / "full.ckpt")
    exported = AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    assert torch.equal(logits(exported), logits(policy_in_base_model(tmp_path / "full.ckpt")))
    assert not torch.allclose(logits(exported), logits(load_causal_lm(TINY).eval()))
