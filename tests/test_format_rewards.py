"""Format rewards score the shape of a completion, never its value."""

import pytest

from lit_rlvr.rewards.format import boxed, think_tags


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("so \\boxed{7}.", 1.0),
        ("\\boxed{\\frac{1}{2}}", 1.0),  # nested braces
        ("\\boxed{\\frac{1}{2}", 0.0),  # cut off before the box closed
        ("\\boxed{wrong but boxed}", 1.0),
        ("\\boxed{}", 0.0),
        ("\\boxed{ }", 0.0),
        ("the answer is 7", 0.0),
    ],
)
def test_boxed(completion, expected):
    assert boxed(completion, "7", {}) == expected


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>3 + 4 = 7</think> \\boxed{7}", 1.0),
        ("3 + 4 = 7</think>\n\\boxed{7}", 1.0),  # `<think>` prefilled by the chat template
        ("  <think>a</think>b", 1.0),
        ("<think>a</think>   ", 0.0),  # no answer after the thought
        ("<think>a \\boxed{7}", 0.0),  # never closed
        ("\\boxed{7}", 0.0),
        ("<think>a</think>b<think>c</think>d", 0.0),
        ("<think>a<think>b</think>c", 0.0),  # nested
        ("x <think>a</think>b", 0.0),  # text before the block
        ("a</think>b</think>c", 0.0),
    ],
)
def test_think_tags(completion, expected):
    assert think_tags(completion, "7", {}) == expected
