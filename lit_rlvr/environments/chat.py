"""Tools in the prompt and observations as tokens, through the tokenizer's chat template.

Tools are offered with the template's own `tools=` where it renders them; a template that ignores
them (SmolLM2's) gets them in the system message, with the call format `tool_calls.py` parses.
An observation is rendered as a `tool` message (a `user` message in `<tool_response>` tags where
the template refuses the role) followed by the assistant's generation prompt, and tokenized once:
the trajectory is the policy's sampled tokens followed by these ids, never the conversation
re-tokenized from text (which can drift from what the policy produced).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from transformers.utils import get_json_schema

from lit_rlvr.environments.tool_calls import CLOSE, OPEN

TOOL_PROMPT = """You can call these tools:
{schemas}
To call one, write {open}{{"name": <tool name>, "arguments": {{<argument>: <value>}}}}{close} and stop; \
its answer comes back in the next message. Answer without a call when you are done."""
# Two strings no template changes, to find where an observation's content and turn markers lie.
_ASSISTANT, _CONTENT = "\x01assistant\x01", "\x02content\x02"


def tool_schemas(tools: Sequence[Callable[..., Any]]) -> list[dict[str, Any]]:
    """The JSON schemas of typed functions with Google-style docstrings (the `tools=` of a template)."""
    return [get_json_schema(tool) for tool in tools]


def messages_with_tools(
    tokenizer: Any, messages: list[dict[str, str]], tools: Sequence[Callable[..., Any]], *, templated: bool
) -> tuple[list[dict[str, str]], list[dict[str, Any]] | None]:
    """`(messages, tools=)` to render: the template's own `tools=` where it renders them, else the
    tools described in the system message (and `tools=` None); `templated` False: a plain transcript."""
    schemas = tool_schemas(tools)
    render = dict(tokenize=False, add_generation_prompt=True)
    if templated and tokenizer.apply_chat_template(
        messages, tools=schemas, **render
    ) != tokenizer.apply_chat_template(messages, **render):
        return messages, schemas
    described = TOOL_PROMPT.format(
        schemas="\n".join(json.dumps(s["function"]) for s in schemas), open=OPEN, close=CLOSE
    )
    if messages and messages[0]["role"] == "system":
        return [
            {"role": "system", "content": f"{messages[0]['content']}\n\n{described}"},
            *messages[1:],
        ], None
    return [{"role": "system", "content": described}, *messages], None


class ObservationTokens:
    """Token ids of an observation, as the template frames it after the policy's turn.

    Args:
        tokenizer: the policy's tokenizer.
        chat_template: False for the plain transcript (`User: ...` / `Assistant:`) of a tokenizer
            without one.
    """

    def __init__(self, tokenizer: Any, *, chat_template: bool = True) -> None:
        self.tokenizer = tokenizer
        self.wrap = ("", "")
        if not chat_template:
            self.before, self.after = "\nTool: ", "\nAssistant:"
            return
        conversation = [{"role": "user", "content": "u"}, {"role": "assistant", "content": _ASSISTANT}]
        try:
            rendered = self._render([*conversation, {"role": "tool", "content": _CONTENT}])
        except Exception:  # noqa: BLE001 - a template may raise on a role it does not know
            self.wrap = ("<tool_response>", "</tool_response>")
            rendered = self._render([*conversation, {"role": "user", "content": _CONTENT}])
        self.before, self.after = rendered.split(_ASSISTANT, 1)[1].split(_CONTENT, 1)

    def _render(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def __call__(self, content: str, turn_end: str) -> list[int]:
        """The ids of `content` framed as the next message and the assistant's turn that follows.

        `turn_end` is the text of the token the policy ended its turn with: where the template
        closes an assistant turn with it (`<|im_end|>`), that token stays the policy's and the
        framing goes on after it; another end (a second EOS) gets the template's closing too.
        """
        before = self.before.removeprefix(turn_end) if turn_end else self.before
        text = f"{before}{self.wrap[0]}{content}{self.wrap[1]}{self.after}"
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]
