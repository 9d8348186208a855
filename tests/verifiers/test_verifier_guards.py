"""Adversarial inputs: each returns a verdict within the 5 s budget and never raises."""

import time

import pytest

from lit_rlvr.verifiers.math import TIMEOUT_S, verify

_BIG = "1" + "0" * 100_000
_MATRIX = " \\\\ ".join(" & ".join(["x"] * 30) for _ in range(30))
ADVERSARIAL = [
    ("\\boxed{10^{10^{10^{10}}}}", "1"),
    ("The answer is 9**9**9**9", "1"),
    ("\\boxed{5^{5^{5^{5}}}}", "5^(5^(5^5))"),
    ("\\boxed{e^{e^{e^{e^{e}}}}}", "1"),
    ("\\boxed{2^{2^{2^{2^{2}}}}}", "2^{65536}"),
    ("\\boxed{" + _BIG + "}", _BIG[:-1]),
    (_BIG, "7"),
    ("\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}", "1"),
    ("\\boxed{" + "(" * 3000 + "1" + ")" * 3000 + "}", "1"),
    ("\\frac{" * 10_000, "1"),
    ("x" * 1_000_000, "1"),
    ("\\boxed{1}" * 100_000, "2"),
    ("$" * 500_000 + "1", "2"),
    ("\\boxed{(x+1)^{10000}}", "x^{10000}"),
    ("\\boxed{100000!}", "1"),
    ("\\boxed{\\binom{100000}{50000}}", "1"),
    ("\\boxed{99999999999999999999^{99999}}", "1"),
    ("\\boxed{" + "1+\\frac{1}{" * 25 + "1" + "}" * 25 + "}", "2"),
    ("\\boxed{" + "+".join(["1"] * 900) + "}", "901"),
    (
        "\\boxed{\\begin{pmatrix}"
        + " \\\\ ".join(" & ".join(["x"] * 30) for _ in range(30))
        + "\\end{pmatrix}}",
        "1",
    ),
    ("\\boxed{\\log(\\log(\\log(\\log(10^{10^{100}}))))}", "1"),
    ("\\boxed{10^{-10^{10}}}", "0"),
    ("\\boxed{\\left(\\right)}", "1"),
    ("\\boxed{\\frac{}{}}", "1"),
    ("\\boxed{\\sqrt[}", "1"),
    ("\\boxed{[,)}", "[1,2)"),
    ("\\boxed{\\begin{pmatrix}}", "1"),
    ("\\boxed{1 = = = 2}", "2"),
    ("\\boxed{\\{\\{\\{\\}}", "1"),
    ("\\boxed{\\frac{1}{0}}", "\\infty"),
    ("\\boxed{\\tan(\\pi/2)}", "\\infty"),
    ("\\boxed{x^{x^{x^{x^{x}}}}}", "x^{x^{x^{x}}}"),
    ("\\boxed{\\sin(\\sin(\\sin(\\sin(\\sin(x)))))}", "\\sin x"),
    ("\\boxed{x}", "\\boxed{10^{10^{10^{10}}}}"),
    ("<think>" * 10_000, "1"),
    ("\\boxed{\x00\x01\ud800}", "1"),
]


@pytest.mark.parametrize(("response", "gold"), ADVERSARIAL, ids=[f"adv-{i}" for i in range(len(ADVERSARIAL))])
def test_returns_within_budget(response, gold):
    start = time.monotonic()
    verdict = verify(response, gold)
    assert time.monotonic() - start < 5
    assert verdict.correct is False


def test_huge_verbatim_answer_still_scores():
    assert verify("\\boxed{" + _BIG + "}", _BIG).correct
    assert verify("\\boxed{10^{10^{10^{10}}}}", "10^{10^{10^{10}}}").correct


def test_a_slow_check_times_out_and_is_counted(monkeypatch):
    import lit_rlvr.verifiers.math as verifier

    monkeypatch.setattr(verifier, "_judge_code", _sleepy_judge)
    start = time.monotonic()
    verdict = verifier._WORKER.run("1", "2")
    assert time.monotonic() - start < TIMEOUT_S + 1
    assert verdict == verifier.Verdict(False, "timeout")


def _sleepy_judge(answer, expected):
    time.sleep(60)
    return 1.0
