"""Run under `torch.distributed.run` by `test_fsdp2_views.py`: which FSDP2-wrapped forwards return
views, and whether our own forwards still warn. Writes a JSON report to argv[1]."""

import json
import sys
import warnings

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh

from lit_rlvr.critics import PromptValueCritic, TokenValueCritic
from lit_rlvr.logprobs import states_before_completion_tokens
from lit_rlvr.models import TINY, load_causal_lm
from lit_rlvr.strategy import shard_for_fsdp2


def view_warnings(run) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    return [str(w.message)[:60] for w in caught if "view tensor" in str(w.message)]


def main(out: str) -> None:
    dist.init_process_group("gloo")
    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    torch.manual_seed(0)
    prompt, completion = torch.randint(0, 100, (2, 5)), torch.randint(0, 100, (2, 4))
    prompt_mask, completion_mask = torch.ones_like(prompt).bool(), torch.ones_like(completion).bool()
    whole = load_causal_lm(TINY)
    states = states_before_completion_tokens(whole, prompt, prompt_mask, completion, completion_mask)
    states.square().sum().backward()
    expected = {name: p.grad.clone() for name, p in whole.named_parameters()}
    policy = load_causal_lm(TINY)
    shard_for_fsdp2(policy, mesh)
    raw = policy(
        input_ids=prompt, attention_mask=prompt_mask.long(), output_hidden_states=True, logits_to_keep=1
    )
    report = {
        "hidden_state_views": [t._base is not None for t in raw.hidden_states],
        "logits_view": raw.logits._base is not None,
    }
    sharded: list[torch.Tensor] = []
    report["policy"] = view_warnings(
        lambda: sharded.append(
            states_before_completion_tokens(policy, prompt, prompt_mask, completion, completion_mask)
        )
    )
    sharded[0].square().sum().backward()
    report["same_gradient"] = all(
        torch.allclose(p.grad.full_tensor(), expected[name], atol=1e-6, rtol=1e-5)
        for name, p in policy.named_parameters()
    )
    token_critic, prompt_critic = TokenValueCritic(TINY), PromptValueCritic(TINY)
    for critic in (token_critic, prompt_critic):
        shard_for_fsdp2(critic, mesh)
    ids = torch.cat([prompt, completion], 1)
    report["token_critic"] = view_warnings(lambda: token_critic(ids, torch.ones_like(ids), 4))
    report["prompt_critic"] = view_warnings(lambda: prompt_critic(prompt, prompt_mask))
    if dist.get_rank() == 0:
        with open(out, "w") as file:
            json.dump(report, file)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
