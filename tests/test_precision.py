"""Precision end to end: models load in the dtype `trainer.precision` implies, and bfloat16 runs train.

The objectives' side (float32 arithmetic on bfloat16 inputs) is `tests/objectives/test_dtypes.py`.
"""

import math

import pytest
import torch
from fit_helpers import fit, logged
from lightning import Trainer

from lit_rlvr.critics import CriticConfig
from lit_rlvr.data import PromptDataModule
from lit_rlvr.logprobs import completion_logprobs
from lit_rlvr.models import TINY, load_causal_lm
from lit_rlvr.module import RLVRModule
from lit_rlvr.objectives import GRPO, PPO
from lit_rlvr.precision import normalize
from lit_rlvr.tasks.arithmetic import ArithmeticTask


def test_precision_names_follow_lightning_and_refuse_float16():
    assert normalize(None) == normalize(32) == "32-true"
    assert normalize("bf16") == "bf16-mixed"
    with pytest.raises(ValueError, match=r"trainer.precision='16-mixed' is not supported"):
        normalize("16-mixed")


@pytest.mark.parametrize(
    ("precision", "policy", "reference", "critic"),
    [
        ("32-true", torch.float32, torch.float32, torch.float32),
        ("bf16-mixed", torch.float32, torch.bfloat16, torch.float32),
        ("bf16-true", torch.bfloat16, torch.bfloat16, torch.bfloat16),
    ],
)
def test_models_load_in_the_dtype_the_precision_implies(precision, policy, reference, critic):
    module = RLVRModule(model=TINY, objective=PPO(kl_coef=0.05), critic=CriticConfig(), precision=precision)
    assert next(module.policy.parameters()).dtype == policy
    assert {p.dtype for p in module.reference.parameters()} == {reference}
    assert {p.dtype for p in module.critic.parameters()} == {critic}


def test_bfloat16_log_probs_stay_close_to_float32():
    full = load_causal_lm(TINY)
    half = load_causal_lm(TINY, torch.bfloat16)
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(0, 1000, (3, 12), generator=generator)
    attention_mask = torch.ones_like(input_ids, dtype=torch.bool)
    completion_mask = torch.ones(3, 5, dtype=torch.bool)
    exact = completion_logprobs(full, input_ids, attention_mask, completion_mask)
    low = completion_logprobs(half, input_ids, attention_mask, completion_mask)
    assert low.logp.dtype == torch.float32
    torch.testing.assert_close(low.logp, exact.logp, rtol=0, atol=2e-2)


@pytest.mark.parametrize("precision", ["bf16-mixed", "bf16-true"])
def test_fit_in_bfloat16_with_a_reference_and_activation_checkpointing(tmp_path, precision):
    cli, history = fit(
        f"--trainer.precision={precision}",
        "--model.activation_checkpointing=true",
        "--model.objective.kl_coef=0.05",
        "--model.mini_batches=2",
        "--model.lr=1e-3",
        "--trainer.max_steps=2",
        "--trainer.limit_val_batches=1",
        "--rollout.engine.samples_per_prompt=4",
        "--rollout.engine.max_new_tokens=6",
        root=str(tmp_path),
    )
    module = cli.model
    assert module.precision == precision and isinstance(module.objective, GRPO)
    assert module.policy.is_activation_checkpointing
    assert next(module.reference.parameters()).dtype == torch.bfloat16
    assert cli.trainer.global_step == 2 and module.skipped_updates == 0
    assert all(math.isfinite(loss) for _, loss in logged(tmp_path, "update/loss"))


def test_a_module_built_for_one_precision_refuses_a_trainer_with_another(tmp_path):
    trainer = Trainer(max_steps=1, precision="bf16-true", logger=False, default_root_dir=tmp_path)
    data = PromptDataModule(task=ArithmeticTask(train_size=4, val_size=2), model=TINY, prompts_per_step=2)
    with pytest.raises(ValueError, match=r"trainer.precision='bf16-true' but model.precision='32-true'"):
        trainer.fit(RLVRModule(model=TINY), datamodule=data)
