"""Math answer verification: `score(response, gold)` is 1.0 when the final answer equals the gold.

`verify` gives the same judgement with a status, so callers can count parse failures, timeouts
and errors. Extraction and the common all-numeric case run in the calling process; anything that
needs SymPy runs in a killable worker process (`lit_rlvr.workers`) under a hard deadline, so a
call returns within about `TIMEOUT_S` seconds whatever the input. Called from inside a daemonic
worker (such as the reward pool's), the check runs in place: that worker is already killable, and
daemonic processes may not start children.
"""

from __future__ import annotations

import atexit
import multiprocessing
import re
import threading
from fractions import Fraction
from typing import Literal, NamedTuple

from lit_rlvr.verifiers.extract import answer_kind, extract_answer, gold_answer
from lit_rlvr.verifiers.normalize import clean
from lit_rlvr.workers import WorkerPool

TIMEOUT_S = 4.0  # leaves a second of the 5 s budget for starting a fresh worker after a kill

Status = Literal["ok", "no_answer", "parse_failure", "timeout", "error"]
STATUSES: tuple[Status, ...] = ("ok", "no_answer", "parse_failure", "timeout", "error")
_PLAIN_NUMBER = re.compile(r"-?\d{1,300}(?:\.\d{1,300})?")
# Plain numbers joined by + - x: the operands of an arithmetic question, not its value.
_OPERAND = r"(?:\d{1,3}(?:,\d{3}){1,100}|\d{1,300})(?:\.\d{1,300})?"
_UNEVALUATED = re.compile(rf"[-+]?{_OPERAND}(?:[-+*]{_OPERAND})+")
_PRODUCT_SIGNS = re.compile(r"\\times|\\cdot|[×·∙⋅]")


class Verdict(NamedTuple):
    """A judgement: whether the response is correct, and how the check went.

    `status` is "ok" for a normal judgement, "no_answer" when the response states no final answer
    (or hedges), "parse_failure" when an answer could only be compared as text, and "timeout" or
    "error" when the check itself failed (scored as incorrect).
    """

    correct: bool
    status: Status


def _encode(verdict: Verdict) -> float:
    return float(2 * STATUSES.index(verdict.status) + verdict.correct)


def _decode(code: float) -> Verdict:
    index, correct = divmod(int(code), 2)
    return Verdict(bool(correct), STATUSES[index])


def _squash(text: str) -> str:
    # `clean` has joined every real thousands group, so digits still apart are separate numbers.
    text = re.sub(r"\\[,;:! ]|\{,\}", " ", clean(text))
    return re.sub(r"(?<=\d)\s+(?=\d)", " ", re.sub(r"(?<!\d)\s+|\s+(?!\d)", "", text))


def judge(answer: str, expected: str) -> Verdict:
    """Compares an extracted answer with the gold answer (both strings); may be slow, see `score`."""
    from lit_rlvr.verifiers.equivalence import equivalent
    from lit_rlvr.verifiers.guards import TooLarge
    from lit_rlvr.verifiers.latex import ParseError
    from lit_rlvr.verifiers.parse import Hedge, parse_answer

    same_text = _squash(answer) == _squash(expected)
    try:
        gold = parse_answer(expected)
        pred = parse_answer(answer)
    except Hedge:
        return Verdict(False, "no_answer")
    except (ParseError, TooLarge, RecursionError):
        return Verdict(same_text, "parse_failure")
    try:
        return Verdict(same_text or equivalent(gold, pred), "ok")
    except (TypeError, ValueError, AttributeError, RecursionError):
        return Verdict(same_text, "error")


def _judge_code(answer: str, expected: str) -> float:
    return _encode(judge(answer, expected))


class _Worker:
    """One lazily started worker process, shared by every `verify` call in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: WorkerPool | None = None

    def run(self, answer: str, expected: str) -> Verdict:
        with self._lock:
            if self._pool is None:
                self._pool = WorkerPool(workers=1, timeout_s=TIMEOUT_S, memory_limit_mb=2048)
                atexit.register(self._pool.close)
            outcome = self._pool.map(_judge_code, [(answer, expected)])[0]
        if outcome.status == "ok":
            return _decode(outcome.value)
        return Verdict(False, "timeout" if outcome.status == "timeout" else "error")


_WORKER = _Worker()


def verify(response: str, gold: str) -> Verdict:
    """Judges `response` against `gold`, returning within about `TIMEOUT_S` seconds on any input."""
    expected = gold_answer(gold)
    answer = extract_answer(response, answer_kind(expected))
    if answer is None:
        return Verdict(False, "no_answer")
    plain_answer, plain_expected = answer.strip().replace(",", ""), expected.strip().replace(",", "")
    if re.fullmatch(rf"-?{_OPERAND}", expected.strip()) and _is_unevaluated(answer):
        return Verdict(False, "ok")
    if _PLAIN_NUMBER.fullmatch(plain_answer) and _PLAIN_NUMBER.fullmatch(plain_expected):
        if "." not in plain_expected or "." not in plain_answer:  # else precision rules apply
            return Verdict(Fraction(plain_answer) == Fraction(plain_expected), "ok")
    if multiprocessing.current_process().daemon:
        return judge(answer, expected)
    return _WORKER.run(answer, expected)


def _is_unevaluated(answer: str) -> bool:
    """Whether `answer` is plain numbers joined by +, - or a product sign (`1747 * 6935`): a question
    restated, which a number gold never accepts; powers, fractions and scientific notation are not."""
    squashed = _PRODUCT_SIGNS.sub("*", answer).replace("−", "-")
    squashed = re.sub(r"[\s$]|\\[,;:! ]", "", squashed)
    return _UNEVALUATED.fullmatch(squashed) is not None


def score(response: str, gold: str) -> float:
    """1.0 if the final answer of `response` equals `gold`, else 0.0 (also on timeouts and errors)."""
    return float(verify(response, gold).correct)
