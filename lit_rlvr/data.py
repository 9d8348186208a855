"""The prompt data module: task rows rendered with the chat template, served in left-padded batches."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import datasets
import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, DistributedSampler

from lit_rlvr.environments.chat import messages_with_tools
from lit_rlvr.models import SMOLLM2, load_tokenizer
from lit_rlvr.tasks.arithmetic import ArithmeticTask
from lit_rlvr.tasks.base import COLUMNS, Split, Task

log = logging.getLogger(__name__)


ChatTemplate = Literal["auto", "required", "none"]


def render_prompt(
    tokenizer: Any,
    messages: list[dict[str, str]],
    chat_template: ChatTemplate = "auto",
    tools: Sequence[Callable[..., Any]] = (),
) -> list[int]:
    """Token ids of `messages` with the tokenizer's chat template (if it has one), else a transcript;
    `tools` offered as `lit_rlvr.environments.chat.messages_with_tools` says."""
    templated = chat_template != "none" and bool(tokenizer.chat_template)
    schemas = None
    if tools:
        messages, schemas = messages_with_tools(tokenizer, messages, tools, templated=templated)
    if templated:
        return list(
            tokenizer.apply_chat_template(
                messages, tools=schemas, add_generation_prompt=True, tokenize=True, return_dict=False
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


class ResumableSampler(DistributedSampler):
    """A `DistributedSampler` that is one endless stream of passes over the prompts (pass `e`
    shuffled by `seed + e`, one shard per rank), its position checkpointed.

    Lightning's epochs are only windows of `len(self)` indices of that stream: each new iterator
    continues where the last one stopped. So a run resumed mid-pass continues the pass (Lightning
    does not fast-forward a plain sampler), and a finished run extended with a larger `max_steps`
    takes what a longer run would have (Lightning counts a run stopped by `max_steps` as a finished
    epoch, which would otherwise start a new shuffle at once). The position counts indices handed to
    the loader; with `num_workers=0` and a sized loader (Lightning fetches no batch ahead), that is
    exactly the batches trained on.
    """

    def __init__(self, dataset: Any, *, num_replicas: int, rank: int, seed: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.served = 0  # indices of pass `self.epoch` handed out

    def set_epoch(self, epoch: int) -> None:
        """Ignored: the stream counts its own passes (see the class)."""

    def __iter__(self) -> Iterator[int]:
        while True:
            order = list(super().__iter__())  # this rank's share of pass `self.epoch`
            while self.served < len(order):
                self.served += 1
                yield order[self.served - 1]
            self.epoch, self.served = self.epoch + 1, 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "served": self.served, "replicas": self.num_replicas}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continues after the indices already trained on, by every process.

        Each process serves every `num_replicas`-th index of one shuffled order, so after `served`
        each on `replicas` processes the first `served * replicas` indices of that order are used,
        whatever the world size that resumes (rounded down to whole indices per process).
        """
        trained = state["served"] * state.get("replicas", self.num_replicas)
        self.epoch, self.served = state["epoch"], trained // self.num_replicas


class ResumableLoader(DataLoader):
    """The training loader: its state is its sampler's position, offered the way Lightning looks for
    a resumable loader (`state_dict` / `load_state_dict` on the loader itself)."""

    def state_dict(self) -> dict[str, int]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.load_state_dict(state)


class PromptDataModule(LightningDataModule):
    """Serves a task's prompts.

    Args:
        task: where the prompts come from.
        model: the policy's model name, for its tokenizer and chat template (linked from `model.model`).
        prompts_per_step: B, prompts per rollout (each sampled G times).
        val_batch_size: prompts per validation batch.
        max_prompt_tokens: longer prompts are dropped (and counted), never truncated.
        chat_template: `auto` renders with the tokenizer's chat template when it has one, else as a
            plain transcript; `required` refuses a tokenizer without one; `none` always uses the transcript.
        seed: the shuffling seed (epoch `e` is shuffled with `seed + e`).
    """

    def __init__(
        self,
        task: Task | None = None,
        *,
        model: str = SMOLLM2,
        prompts_per_step: int = 4,
        val_batch_size: int = 32,
        max_prompt_tokens: int = 512,
        chat_template: ChatTemplate = "auto",
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
        self.chat_template = chat_template
        self.seed = seed
        #: Offered in every prompt: the rollout environment's tools (the CLI hands them over).
        self.tools: Sequence[Callable[..., Any]] = ()
        self.splits: dict[Split, datasets.Dataset] = {}
        self.dropped: dict[Split, int] = {}
        self.sampler: ResumableSampler | None = None
        self._sampler_state: dict[str, int] | None = None
        self._more: Iterator[dict[str, Any]] | None = None
        self._more_seed: int | None = None
        self._more_drawn = 0

    def setup(self, stage: str) -> None:
        tokenizer = load_tokenizer(self.model)
        if self.chat_template == "required" and not tokenizer.chat_template:
            raise ValueError(
                f"data.chat_template=required, but the tokenizer of {self.model!r} has no chat template: "
                "use an instruct model, or set data.chat_template=auto to fall back to a plain transcript"
            )
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
            rows = rows.map(
                lambda row: {
                    "input_ids": render_prompt(tokenizer, row["messages"], self.chat_template, self.tools)
                }
            )
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

    def _loader(self, split: Split, batch_size: int, sampler: ResumableSampler | None = None) -> DataLoader:
        return (DataLoader if sampler is None else ResumableLoader)(
            self.splits[split],
            batch_size=batch_size,
            sampler=sampler,
            # Its own generator: creating an iterator must not draw from the global torch RNG, which
            # drives sampling and is checkpointed, or a resumed run would draw differently.
            generator=torch.Generator().manual_seed(self.seed),
            collate_fn=lambda rows: collate_prompts(rows, self.pad_token_id),
        )

    def train_dataloader(self) -> DataLoader:
        if self.sampler is None:  # one per run, so its position survives a rebuilt loader
            trainer = self.trainer
            self.sampler = ResumableSampler(
                self.splits["train"],
                num_replicas=trainer.world_size if trainer else 1,
                rank=trainer.global_rank if trainer else 0,
                seed=self.seed,
            )
        if self._sampler_state is not None:
            self.sampler.load_state_dict(self._sampler_state)
            self._sampler_state = None
        return self._loader("train", self.prompts_per_step, self.sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", self.val_batch_size)

    def more_train_batches(self) -> Iterator[dict[str, Any]]:
        """Endless training prompt batches beyond each step's own, for dynamic sampling (DAPO).

        A second shuffle of the training prompts with its own seed, so the Trainer's prompt order is
        untouched; its seed and position are checkpointed with the training position.
        """
        if self._more is None:
            if self._more_seed is None:
                self._more_seed = (self.trainer.global_step if self.trainer else 0) + 1
            shuffled = DataLoader(
                self.splits["train"],
                batch_size=self.prompts_per_step,
                shuffle=True,
                collate_fn=lambda rows: collate_prompts(rows, self.pad_token_id),
                generator=torch.Generator().manual_seed(self._more_seed),
            )
            stream = itertools.chain.from_iterable(itertools.repeat(shuffled))
            for _ in range(self._more_drawn):  # resumed: skip what the checkpointed run drew
                next(stream)
            self._more = self._count_drawn(stream)
        return self._more

    def _count_drawn(self, stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for batch in stream:
            self._more_drawn += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        """The training position and the dynamic-sampling stream's, saved in every checkpoint."""
        state: dict[str, Any] = {"more": {"seed": self._more_seed, "drawn": self._more_drawn}}
        if self.sampler is not None:
            state["sampler"] = self.sampler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the training position before the training loader is built."""
        self._sampler_state = state.get("sampler")
        more = state.get("more", {"seed": None, "drawn": 0})
        self._more_seed, self._more_drawn, self._more = more["seed"], more["drawn"], None
