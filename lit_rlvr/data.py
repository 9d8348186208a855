"""The prompt data module: task rows rendered with the chat template, served in left-padded batches."""

from __future__ import annotations

import logging
from typing import Any

import datasets
import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader

from lit_rlvr.models import SMOLLM2, load_tokenizer
from lit_rlvr.tasks.arithmetic import ArithmeticTask
from lit_rlvr.tasks.base import COLUMNS, Split, Task

log = logging.getLogger(__name__)


def render_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of `messages` with the tokenizer's chat template, else a plain-text transcript."""
    if tokenizer.chat_template:
        return list(
            tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=True, return_dict=False
            )
        )
    text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"
    return tokenizer(text)["input_ids"]


def collate_prompts(rows: list[dict[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """Left-pads `input_ids` into `prompt_ids [B, P]` and `prompt_mask [B, P]`; keeps the rows."""
    width = max(len(row["input_ids"]) for row in rows)
    prompt_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    prompt_mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, row in enumerate(rows):
        ids = row["input_ids"]
        prompt_ids[i, width - len(ids) :] = torch.tensor(ids)
        prompt_mask[i, width - len(ids) :] = True
    kept = [{key: value for key, value in row.items() if key != "input_ids"} for row in rows]
    return {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "rows": kept}


class PromptDataModule(LightningDataModule):
    """Serves a task's prompts.

    Args:
        task: where the prompts come from.
        model: the policy's model name, for its tokenizer and chat template (linked from `model.model`).
        prompts_per_step: B, prompts per rollout (each sampled G times).
        val_batch_size: prompts per validation batch.
        max_prompt_tokens: longer prompts are dropped (and counted), never truncated.
        seed: the shuffling seed.
    """

    def __init__(
        self,
        task: Task | None = None,
        *,
        model: str = SMOLLM2,
        prompts_per_step: int = 4,
        val_batch_size: int = 32,
        max_prompt_tokens: int = 512,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if prompts_per_step < 1 or val_batch_size < 1:
            raise ValueError("data: prompts_per_step and val_batch_size must be >= 1")
        self.task = task or ArithmeticTask()
        self.model = model
        self.prompts_per_step = prompts_per_step
        self.val_batch_size = val_batch_size
        self.max_prompt_tokens = max_prompt_tokens
        self.seed = seed
        self.splits: dict[Split, datasets.Dataset] = {}
        self.dropped: dict[Split, int] = {}

    def setup(self, stage: str) -> None:
        tokenizer = load_tokenizer(self.model)
        self.pad_token_id = tokenizer.pad_token_id
        for split in ("train", "validation"):
            if split in self.splits:
                continue
            rows = self.task.rows(split)
            missing = set(COLUMNS) - set(rows.column_names)
            if missing:
                raise ValueError(
                    f"{type(self.task).__name__}.rows({split!r}) lacks the columns {sorted(missing)}"
                )
            rows = rows.map(lambda row: {"input_ids": render_prompt(tokenizer, row["messages"])})
            kept = rows.filter(lambda row: len(row["input_ids"]) <= self.max_prompt_tokens)
            self.dropped[split] = len(rows) - len(kept)
            if self.dropped[split]:
                log.warning(
                    "data: dropped %d of %d %s prompts longer than max_prompt_tokens=%d",
                    self.dropped[split],
                    len(rows),
                    split,
                    self.max_prompt_tokens,
                )
            if len(kept) == 0:
                raise ValueError(
                    f"data: no {split} prompt fits in max_prompt_tokens={self.max_prompt_tokens}"
                )
            self.splits[split] = kept

    def _loader(self, split: Split, batch_size: int, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.splits[split],
            batch_size=batch_size,
            shuffle=shuffle,
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
            collate_fn=lambda rows: collate_prompts(rows, self.pad_token_id),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.prompts_per_step, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", self.val_batch_size, shuffle=False)
