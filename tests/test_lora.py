"""LoRA on the policy: adapters train, the frozen base is the reference, and resume and export work."""

import sys
from pathlib import Path

import pytest
import torch
from fit_helpers import fit, logged

from lit_rlvr.logprobs import completion_logprobs
from lit_rlvr.lora import LoraSettings
from lit_rlvr.models import TINY, load_causal_lm
from lit_rlvr.module import RLVRModule
from lit_rlvr.objectives import GRPO

sys.path.insert(0, str(Path(__file__).parent.parent / "tools"))
import export_hf  # noqa: E402

TOKEN_IDS = torch.tensor([[1, 17, 300, 4242, 9, 28], [5, 6, 7, 8, 9, 10]])
ATTENTION = torch.ones_like(TOKEN_IDS, dtype=torch.bool)
COMPLETION = torch.ones(2, 3, dtype=torch.bool)
LORA_ARGS = ["--model.lora={rank: 4, alpha: 8}", "--model.objective.kl_coef=0.05", "--model.lr=5e-3"]


def logp(model):
    with torch.no_grad():
        return completion_logprobs(model, TOKEN_IDS, ATTENTION, COMPLETION).logp


def test_only_the_adapters_train_and_the_reference_is_the_base_with_adapters_disabled():
    module = RLVRModule(model=TINY, objective=GRPO(kl_coef=0.05), lora=LoraSettings(rank=4))
    trained = [name for name, p in module.policy.named_parameters() if p.requires_grad]
    assert trained and all("lora_" in name for name in trained)
    assert module.reference is None and module.reference_is_base
    base = load_causal_lm(TINY)
    assert torch.equal(logp(module.policy), logp(base))  # B = 0: the adapters start as a no-op
    with torch.no_grad():
        for name, p in module.policy.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.5)
    assert not torch.allclose(logp(module.policy), logp(base))
    with module.policy.disable_adapter():
        assert torch.equal(logp(module.policy), logp(base))


@pytest.mark.slow  # a minute; the adapters-only training and the base-as-reference stay in the default run
def test_lora_fit_resumes_from_a_checkpoint_without_the_base_weights_and_exports_merged(tmp_path):
    root = tmp_path / "run"
    quick = ["--trainer.limit_val_batches=1", "--validate_before_fit=false"]
    cli, history = fit(*LORA_ARGS, *quick, "--trainer.max_steps=1", root=str(root))
    assert all(kl >= 0 for _, kl in logged(root, "objective/kl_ref"))
    last = root / "checkpoints" / "last.ckpt"
    state = torch.load(last, weights_only=False)["state_dict"]
    assert state and all("lora_" in key for key in state)  # no base weights, no reference
    assert not torch.allclose(logp(cli.model.policy), logp(load_causal_lm(TINY)))

    resumed, _ = fit(*LORA_ARGS, *quick, "--trainer.max_steps=2", f"--ckpt_path={last}", root=str(root))
    assert resumed.trainer.global_step == 2

    out = tmp_path / "export"
    export_hf.export(last, out, dtype="float32", base=None, overwrite=False)  # last.ckpt: step 2 now
    merged = load_causal_lm(str(out))
    torch.testing.assert_close(logp(merged), logp(resumed.model.policy), rtol=0, atol=1e-5)


def test_the_adapters_train_at_ten_times_the_configured_rate_unless_told_otherwise():
    def rate(**lora) -> float:
        module = RLVRModule(model=TINY, lr=1e-5, lora=LoraSettings(rank=4, **lora))
        return module.configure_optimizers()["optimizer"].param_groups[0]["lr"]

    assert rate() == pytest.approx(1e-4)
    assert rate(lr_multiplier=1.0) == pytest.approx(1e-5)
    assert RLVRModule(model=TINY, lr=1e-5).configure_optimizers()["optimizer"].param_groups[0]["lr"] == 1e-5
    with pytest.raises(ValueError, match="lr_multiplier > 0"):
        LoraSettings(lr_multiplier=0.0)
