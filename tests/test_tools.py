"""Tools: calls parsed strictly, the calculator exact, the sandbox closed, every failure an observation."""

import json

import pytest

from lit_rlvr.environments.calculator import calculator
from lit_rlvr.environments.sandbox import python
from lit_rlvr.environments.tool_calls import Call, CallError, parse_calls
from lit_rlvr.environments.tools import ToolEnvironment

TOOLS = {"calculator": calculator, "python": python}


def call(name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def test_calls_are_parsed_strictly():
    text = (
        "Let me compute. "
        + call("calculator", expression="2 + 3")
        + " then "
        + call("python", code="print(1)")
    )
    assert parse_calls(text, TOOLS) == [
        Call("calculator", {"expression": "2 + 3"}),
        Call("python", {"code": "print(1)"}),
    ]
    assert parse_calls("no call here, just <b>text</b>", TOOLS) == []
    kinds = {
        "<tool_call>{not json}</tool_call>": "malformed",
        '<tool_call>{"name": "calculator", "arguments": {"expression": "1"}}': "malformed",  # never closed
        '<tool_call>{"name": "calculator"}</tool_call>': "malformed",
        '<tool_call>["calculator", "1"]</tool_call>': "malformed",
        call("search", query="x"): "unknown_tool",
        call("calculator"): "bad_arguments",  # missing
        call("calculator", expression="1", digits=3): "bad_arguments",  # unknown
        call("calculator", expression=7): "bad_arguments",  # mistyped
    }
    for text, kind in kinds.items():
        (error,) = [c for c in parse_calls(text, TOOLS) if isinstance(c, CallError)]
        assert error.kind == kind, (text, error)
    assert "missing argument 'expression'" in parse_calls(call("calculator"), TOOLS)[0].message


def test_calculator_is_exact_and_refuses_what_is_not_arithmetic():
    assert calculator("12345 * 6789") == str(12345 * 6789)
    assert calculator("1/3 + 1/6") == "1/2 (about 0.5)"
    assert calculator("0.1 + 0.2") == "3/10 (about 0.3)"  # decimal literals are exact
    assert calculator("-(2 ** 10) // 3 % 7") == str(-(2**10) // 3 % 7)
    for expression, error in {
        "__import__('os').system('true')": "not allowed in an expression",
        "x + 1": "not allowed in an expression",
        "10 ** 10 ** 10": "more than 10000 digits",
        "2 ** 0.5": "whole-number powers",
        "(1 + 2": "not an arithmetic expression",
    }.items():
        with pytest.raises(ValueError, match=error):
            calculator(expression)
    with pytest.raises(ZeroDivisionError):
        calculator("1 / (2 - 2)")


def test_sandbox_runs_code_and_refuses_network_files_and_imports():
    assert python("import math\nprint(math.comb(10, 3))") == "120"
    assert (
        python("open('notes.txt', 'w').write('hi')\nprint(open('notes.txt').read())") == "hi"
    )  # its own folder
    refused = {
        "import socket": "import of 'socket' is not allowed",
        "import urllib.request": "import of 'urllib.request' is not allowed",
        "import os": "import of 'os' is not allowed",
        "import subprocess": "import of 'subprocess' is not allowed",
        "print(open('/etc/hostname').read())": "no file access outside its folder",
        "open('/tmp/escaped.txt', 'w').write('x')": "no file access outside its folder",
        "print(open('../outside.txt', 'w'))": "no file access outside its folder",
        # An allowed module's own import machinery is no way out: the audit hook still refuses.
        "import random\nrandom._os.system('true')": "os.system is not allowed",
        "import random\nprint(random._os.listdir('/'))": "no file access outside its folder",
        "x = bytearray(4 * 1024 ** 3)": "MemoryError",
        "open('big', 'wb').write(b'0' * (20 << 20))": "File too large",  # 16 MiB a file
        "raise KeyError('boom')": "KeyError: 'boom'",
    }
    for code, message in refused.items():
        assert message in python(code), code
    with pytest.raises(TimeoutError):
        python("while True:\n    pass")


def test_every_tool_failure_is_an_observation_and_a_count():
    environment = ToolEnvironment(
        tools=["lit_rlvr.environments.calculator.calculator", "tool_fns.sleep", "tool_fns.hog_memory"],
        timeout_s=2,
        memory_limit_mb=1024,
        max_calls_per_turn=2,
    )
    try:
        texts = [
            "The answer is 4.",  # no call: the episode is done
            call("calculator", expression="6 * 7"),
            "<tool_call>{oops}</tool_call>",
            call("calculator", expression="1 / 0"),  # the tool raises
            call("sleep", seconds=60.0),  # hangs past timeout_s
            call("hog_memory", gib=8),  # allocates past memory_limit_mb
            call("calculator", expression="1") * 3,  # one call more than allowed
        ]
        turns = environment.step([None] * len(texts), texts)
        assert turns[0].done and turns[0].observation is None
        assert not turns[1].done and turns[1].observation == "42" and turns[1].counts == {"tool_calls": 1}
        for turn, kind in zip(turns[2:6], ["malformed", "error", "timeout", "error"], strict=True):
            assert not turn.done and turn.observation.startswith("error: ")
            assert turn.counts == {"tool_calls": 1, f"tool_errors/{kind}": 1}, turn
        assert "ZeroDivisionError" in turns[3].observation and "MemoryError" in turns[5].observation
        assert turns[6].observation == "1\n1\nerror: at most 2 calls per turn; the rest were not run"
        # and the pool goes on answering
        assert environment.step([None], [call("calculator", expression="2 ** 10")])[0].observation == "1024"
    finally:
        environment.close()


def test_tool_environment_refuses_bad_knobs_by_name():
    with pytest.raises(ValueError, match=r"rollout.environment.tools\[0\]: cannot import function 'no.such'"):
        ToolEnvironment(tools=["no.such"])
    with pytest.raises(ValueError, match="rollout.environment.max_turns must be >= 1"):
        ToolEnvironment(max_turns=0)
