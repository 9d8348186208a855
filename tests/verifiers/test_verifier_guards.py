"""Adversarial inputs: each gets a verdict within the 5 s budget, from a guard or a check, never an error."""

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
    ("\\boxed{\\sum_{k=1}^{10^{9}} k}", "1"),
    ("\\boxed{\\sum_{k=1}^{1000} 10^{10^{4} k}}", "1"),
    ("\\boxed{\\sum_{k=1}^{1000} \\frac{1}{k^{k}}}", "1"),
    ("\\boxed{" + " + ".join(["\\sum_{k=1}^{1000} \\sqrt{k}"] * 20) + "}", "1"),
    ("\\boxed{\\sum_{k=1}^{1000} \\sum_{j=1}^{k} j}", "1"),
    ("\\boxed{\\int_0^1 (x+1)^{10000} dx}", "1"),
    ("\\boxed{\\int_0^{10^{1000}} x^{100} dx}", "1"),
    ("\\boxed{\\int_0^1 \\sin^7 x \\cos^5 x\\,dx}", "1"),
    ("\\boxed{\\int_0^1 e^{10^{6} x} dx}", "1"),
    ("\\boxed{\\int_{-1}^{1} \\frac{1}{x^2} dx}", "-2"),
    ("\\boxed{\\int_0^1 \\int_0^1 x y \\, dx\\, dy}", "1"),
    ("\\boxed{" + "1+" * 100_000, "1"),
    ("\\boxed{" + "(" * 100, "1"),
    ("\\boxed{1}", "the remainder is zerothe remainder is zeroFinal Answer: x or"),
    ("\\boxed{1000}", "(the remainder is zero,k)"),
]


@pytest.mark.parametrize(("response", "gold"), ADVERSARIAL, ids=[f"adv-{i}" for i in range(len(ADVERSARIAL))])
def test_returns_within_budget(response, gold):
    start = time.monotonic()
    verdict = verify(response, gold)
    assert time.monotonic() - start < 5
    assert verdict.correct is False
    assert verdict.status not in ("error", "timeout"), verdict


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
