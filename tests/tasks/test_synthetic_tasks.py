"""Countdown and multi-step word problems: deterministic, solvable, disjoint splits, exact golds."""

import json
import re
from fractions import Fraction

import pytest

from lit_rlvr.rewards.countdown import evaluate, reach_target
from lit_rlvr.tasks.arithmetic import ArithmeticTask
from lit_rlvr.tasks.countdown import CountdownTask
from lit_rlvr.tasks.word_problems import WordProblemTask
from lit_rlvr.verifiers.math import score

GOLD = json.dumps({"target": 24, "numbers": [1, 3, 4, 6]})


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("\\boxed{(1 + 3) * 6}", 1.0),
        ("<think>try 6*4</think> \\boxed{6 * 4}", 1.0),
        ("<answer>6 \\times (3 + 1) = 24</answer>", 1.0),
        ("\\boxed{6 / (1 - 3 / 4)}", 1.0),
        ("\\boxed{6 * 4 * 1}", 1.0),
        ("\\boxed{6 * 4 + 0}", 0.0),  # 0 is not one of the numbers
        ("\\boxed{6 * 6 - 12}", 0.0),  # 6 used twice, 12 not given
        ("\\boxed{4 * 6 + 1}", 0.0),  # wrong value
        ("\\boxed{24}", 0.0),
        ("\\boxed{6 ** 2 - 12}", 0.0),
        ("\\boxed{-(1 - 3) * 6 * 4 / 4}", 0.0),  # unary minus is not an operation of the game
        ("\\boxed{__import__('os').system('true')}", 0.0),
        ("\\boxed{6 / (3 - 3)}", 0.0),
        ("\\boxed{" + "(" * 150 + "6" + ")" * 150 + "}", 0.0),
        ("no answer", 0.0),
    ],
)
def test_countdown_reward(completion, expected):
    assert reach_target(completion, GOLD, {}) == expected


def test_evaluate_is_exact():
    assert evaluate("1 / 3 + 1 / 3 + 1 / 3") == (Fraction(1), [1, 3, 1, 3, 1, 3])
    assert evaluate("1.5 * 2") is None


def test_countdown_puzzles_are_solvable_deterministic_and_disjoint():
    task = CountdownTask(numbers_count=3, max_number=10, train_size=50, val_size=10, seed=7)
    train, validation = task.rows("train"), task.rows("validation")
    assert train["gold"] == task.rows("train")["gold"] and len(validation) == 10
    assert not set(train["gold"]) & set(validation["gold"])
    for gold in train["gold"]:
        target, numbers = json.loads(gold)["target"], json.loads(gold)["numbers"]
        assert 1 <= target <= 200 and len(numbers) == 3 and all(1 <= n <= 10 for n in numbers)
        assert _solvable(target, [Fraction(n) for n in numbers])


def _solvable(target, values):
    if any(value == target for value in values):
        return True
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            if i != j:
                rest = [v for k, v in enumerate(values) if k not in (i, j)]
                options = [a + b, a - b, a * b] + ([a / b] if b else [])
                if any(_solvable(target, [*rest, option]) for option in options):
                    return True
    return False


def test_word_problems_have_exact_golds_and_difficulty():
    task = WordProblemTask(steps=5, max_number=9, train_size=40, val_size=8, seed=1)
    train, validation = task.rows("train"), task.rows("validation")
    assert train["gold"] == task.rows("train")["gold"]
    assert not {m[-1]["content"] for m in train["messages"]} & {
        m[-1]["content"] for m in validation["messages"]
    }
    for row in train:
        question = row["messages"][-1]["content"]
        assert question.count("Then ") == 5
        assert _replay(question) == int(row["gold"])
        assert score(f"\\boxed{{{row['gold']}}}", row["gold"]) == 1.0


def _replay(question):
    amount = int(re.search(r"has (\d+)", question).group(1))
    for sentence in question.split("Then ")[1:]:
        if match := re.search(r"buys (\d+) more", sentence):
            amount += int(match.group(1))
        elif match := re.search(r"receives (\d+) packs of \w+ with (\d+)", sentence):
            amount += int(match.group(1)) * int(match.group(2))
        elif match := re.search(r"gives (\d+)", sentence):
            amount -= int(match.group(1))
        elif match := re.search(r"multiplied by (\d+)", sentence):
            amount *= int(match.group(1))
        elif match := re.search(r"among (\d+) boxes", sentence):
            assert amount % int(match.group(1)) == 0
            amount //= int(match.group(1))
        assert amount >= 0
    return amount


def test_knob_checks():
    with pytest.raises(ValueError, match="min_used"):
        CountdownTask(numbers_count=3, min_used=4)
    with pytest.raises(ValueError, match="steps"):
        WordProblemTask(steps=0)


@pytest.mark.parametrize(
    "task",
    [
        ArithmeticTask(operations=["+", "-", "*"], max_operand=20, val_size=512, train_size=16),
        CountdownTask(val_size=512, train_size=16),
        WordProblemTask(val_size=512, train_size=16),
    ],
    ids=type,
)
def test_built_in_tasks_offer_512_distinct_validation_problems(task):
    rows = task.rows("validation")
    questions = [row["messages"][-1]["content"] for row in rows]
    assert len(questions) == len(set(questions)) == 512


def test_a_validation_split_larger_than_the_knobs_allow_is_refused_with_the_count():
    task = ArithmeticTask(operations=["+", "-"], max_operand=3, val_size=25)
    assert task.distinct_problems == 16 + 10  # (3 + 1)^2 sums, 4 * 5 / 2 differences with a >= b
    assert len(set(r["messages"][-1]["content"] for r in task.rows("validation"))) == 25
    with pytest.raises(ValueError, match="give 26 distinct problems"):
        ArithmeticTask(operations=["+", "-"], max_operand=3, val_size=26)
    with pytest.raises(ValueError, match="WordProblemTask: val_size 1000 asks for more distinct"):
        WordProblemTask(steps=1, max_number=2, val_size=1000).rows("validation")
