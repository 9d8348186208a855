"""Tool calls in a policy's turn: found, parsed and checked strictly, never guessed.

The format is the one tool-calling chat templates (Hermes, Qwen, SmolLM3) teach, and the one
`lit_rlvr.environments.chat` documents to a model whose template has no tools:

    <tool_call>{"name": "calculator", "arguments": {"expression": "1234 * 5678"}}</tool_call>

A call that is not exactly that (unclosed tag, bad JSON, unknown tool, missing, unknown or mistyped
argument) becomes a `CallError` whose message the model reads as the tool's answer.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

OPEN, CLOSE = "<tool_call>", "</tool_call>"
CALL = re.compile(re.escape(OPEN) + r"(.*?)" + re.escape(CLOSE), re.DOTALL)
#: How a call can fail; a tool's own failures are the worker pool's statuses (error, timeout, crash).
CallErrorKind = Literal["malformed", "unknown_tool", "bad_arguments"]
JSON_TYPES: dict[Any, type | tuple[type, ...]] = {str: str, int: int, float: (int, float), bool: bool}


class Call(NamedTuple):
    """A well-formed call of a known tool with arguments of the declared types."""

    name: str
    arguments: dict[str, Any]


class CallError(NamedTuple):
    """A call that cannot run, and the message the model reads instead of an answer."""

    kind: CallErrorKind
    message: str


def parse_calls(text: str, tools: dict[str, Callable[..., Any]]) -> list[Call | CallError]:
    """The calls in a policy turn, in order: each a `Call`, or a `CallError` saying what is wrong."""
    calls: list[Call | CallError] = [_parse(body.strip(), tools) for body in CALL.findall(text)]
    if text.count(OPEN) != len(calls) or text.count(CLOSE) != len(calls):
        calls.append(CallError("malformed", f"a {OPEN} must be closed by {CLOSE}, with one call inside"))
    return calls


def call_tool(tool: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    """`tool(**arguments)`: what a tool worker runs (importable without torch)."""
    return tool(**arguments)


def _parse(body: str, tools: dict[str, Callable[..., Any]]) -> Call | CallError:
    expected = f'expected {{"name": <one of {sorted(tools)}>, "arguments": {{...}}}}'
    try:
        call = json.loads(body)
    except json.JSONDecodeError as error:
        return CallError("malformed", f"the call is not JSON ({error.msg} at char {error.pos}); {expected}")
    if (
        not isinstance(call, dict)
        or set(call) != {"name", "arguments"}
        or not isinstance(call["arguments"], dict)
    ):
        return CallError(
            "malformed", f"the call must be a JSON object with name and arguments only; {expected}"
        )
    if call["name"] not in tools:
        return CallError("unknown_tool", f"no tool named {call['name']!r}; the tools are {sorted(tools)}")
    problem = _check_arguments(tools[call["name"]], call["arguments"])
    if problem:
        return CallError("bad_arguments", f"{call['name']}: {problem}")
    return Call(call["name"], call["arguments"])


def _check_arguments(tool: Callable[..., Any], arguments: dict[str, Any]) -> str | None:
    """What is wrong with `arguments` for `tool`'s signature, or None."""
    parameters = inspect.signature(tool, eval_str=True).parameters
    unknown = sorted(set(arguments) - set(parameters))
    if unknown:
        return f"unknown argument(s) {unknown}; it takes {list(parameters)}"
    for name, parameter in parameters.items():
        if name not in arguments:
            if parameter.default is inspect.Parameter.empty:
                return f"missing argument {name!r}"
            continue
        expected = JSON_TYPES.get(parameter.annotation, object)
        value = arguments[name]
        json_bool_as_number = isinstance(value, bool) and parameter.annotation in (int, float)
        if not isinstance(value, expected) or json_bool_as_number:
            return f"argument {name!r} must be {parameter.annotation.__name__}, got {json.dumps(value)}"
    return None
