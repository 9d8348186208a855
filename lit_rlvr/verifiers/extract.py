"""Pulls the final answer out of a model response, and the answer out of a dataset's gold field.

Order, from most to least explicit: the last `\\boxed{}`/`\\fbox{}` after any `</think>` (with
the boxes right before it when they form one list), then an answer phrase ("the final answer
is", "answer:"), then `####`, then a concluding sentence in words ("So there are twelve."), then
the last number. Parenthesised asides ("(which is $5 more than $40)") and justifications after the
value ("12, since ...") are cut first. A hedge ("42 or 24") yields no answer.

The gold's kind only picks the reader, never the value: a choice-letter gold reads the letter a
response picks in prose ("the answer is option B"), a text gold reads a verdict ("Yes, because
...") or the phrase a concluding sentence ends with ("So the winner is Devon.").
Everything here is linear-time string scanning, safe on megabyte inputs.
"""

from __future__ import annotations

import re
from typing import Literal

from lit_rlvr.verifiers.normalize import balanced
from lit_rlvr.verifiers.prose import choice_letter, concludes, drop_asides, stated_in_words, verdict
from lit_rlvr.verifiers.words import real_set, spelled_number, yes_no

Kind = Literal["value", "choice", "verdict", "text"]
_BOX = re.compile(r"\\(?:boxed|fbox)\s*")
_PHRASE = re.compile(r"(?:answer\s*(?:\*\*)?\s*(?:is|would be|:|：)|答案是)\s*(?:\*\*)?\s*", re.IGNORECASE)
# Digits grouped by three: separated by commas, LaTeX or thin spaces, or plain spaces (only outside
# a run of numbers, so "5 12 345" and "3 4" stay separate numbers).
_GROUPED = r"\d{1,3}(?:(?:,(?:\\!)?|\{,\}|\\,(?:\\ | )?|[\u00a0\u2009\u202f])\d{3})+(?!\d)"
_SPACED = r"(?<!\d )\d{1,3}(?: \d{3})+(?! ?\d|-)"
_NUMBER = re.compile(
    r"(?<![A-Za-z_])-?(?:" + _SPACED + "|" + _GROUPED + r"|\d+)(?:\.\d+)?"
    r"(?:\s+(?:thousand|million|billion|trillion)\b)?"
    r"(?:[eE][-+]?\d+)?(?:\s*/\s*\d+)?(?:\s*(?:\\?%|percent))?"
)
# What ends a stated answer: a sentence end, or a justification ("12, since ...", "12 as each ...").
_AFTER_VALUE = re.compile(
    r"(?<!\.)\.\s|(?<!\.)\.$|,?\s(?:I hope|because|since|which|as|given|where|due to)\b"
    r"|,\s(?!and\b|or\b)(?=[a-z]{2,}\b)"
)
# Justifications that end the answer part of a sentence found by its last number.
_JUSTIFICATION = re.compile(r",?\s(?:because|since|given that|due to)\b|,\s(?:which|as)\b")
_APPROXIMATELY = re.compile(
    r"[\d}$)\]]\s*,?\s*\(?\s*(?:or\s+)?(?:≈|\\approx|~|approximately|approx\.|about|roughly|nearly)\s*\$?\s*$",
    re.IGNORECASE,
)
_SENTENCE_START = re.compile(r"[.!?]\s|\n")
# Math spans; an escaped `\$` is a dollar sign, never a delimiter.
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$((?:\\.|[^$\\])+?)\$|\\\[(.+?)\\\]|\\\((.+?)\\\)", re.DOTALL)
_HEDGE = re.compile(r"\d\s*\$?\s*(?:,?\s*or|\\text\{\s*or\s*\})\s*\$?\s*-?\$?\s*$")
_JOIN = re.compile(r"^[\s$.,;]*(?:,|and|\\text\{\s*and\s*\}|&|;|\\quad|\\qquad)?[\s$.,;]*$")
_SEARCH_CHARS = 20_000  # the fallbacks look only this far back from the end
# A relation written before the box is part of the answer: `x \in \boxed{[2, 5)}`, `x > \boxed{3}`.
_RELATION_BEFORE = re.compile(
    r"(?<![\w\\])[A-Za-z](?:_\{?\w+\}?)?\s*(?:\\(?:in|notin|not\s*\\in|neq?|[lg]eq?|[lg]t)|[<>]=?|[≤≥≠])\s*$"
)
# A box left open by a truncated response: what its content may end with, and how long it may be.
_COMPLETE_END = re.compile(r"[\w)\]}!%'|]\s*$")
_MAX_CUT_BOX = 200
_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}")
_TEXT_GROUP = re.compile(r"\\(?:text|textbf|mathrm)\s*\{[^{}]*\}")
# A text answer left in math at the very end: `\[\text{Tuesday}\]`, `$\text{(C)}$.`
_FINAL_TEXT = re.compile(
    r"(?:\$\$?|\\\[|\\\()\s*(\\(?:text|textbf|mathrm)\s*\{[^{}$]*\})\s*[.!]?\s*(?:\$\$?|\\\]|\\\))[\s.!*]*$"
)
# The verb of a labelled final sentence ("Final Answer: the largest n is 34").
_STATES = re.compile(r"\s(?:is|are|was|were|equals|be)\s+", re.IGNORECASE)


class _Unclosed(Exception):
    """A box never closed; `args[0]` is where its content starts."""


def final_segment(response: str) -> str | None:
    """The text after the last `</think>`; None when a `<think>` block was never closed."""
    if "</think>" in response:
        return response.rsplit("</think>", 1)[1]
    if "<think>" in response:
        return None
    return response


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the brace group opening at `start`, and the index after it."""
    depth = 0
    for index in range(start, len(text)):
        char = text[index]
        if char == "{" and text[index - 1 : index] != "\\":
            depth += 1
        elif char == "}" and text[index - 1 : index] != "\\":
            depth -= 1
            if depth == 0:
                return text[start + 1 : index], index + 1
    return None


def boxes(text: str) -> list[tuple[str, int, int]]:
    """Every `\\boxed{...}` or `\\fbox{...}` as (content, start, end), nested braces matched."""
    found = []
    position = 0
    while True:
        match = _BOX.search(text, position)
        if match is None:
            return found
        if text.startswith("{", match.end()):
            group = _braced(text, match.end())
            if group is None:  # an unclosed box: the response was cut off mid-answer
                raise _Unclosed(match.end() + 1)
            found.append((group[0], match.start(), group[1]))
            position = group[1]
        else:  # `\boxed 5`
            word = re.match(r"[^\s$.,]+", text[match.end() :])
            if word:
                found.append((word.group(), match.start(), match.end() + word.end()))
            position = match.end()


def last_boxed(text: str) -> str | None:
    """The last box, joined with the boxes just before it when they form a list (`\\boxed{2}, \\boxed{3}`).

    Raises `ValueError` when a box is never closed.
    """
    try:
        box = _final_box(text)
    except _Unclosed:
        raise ValueError("unclosed \\boxed") from None
    return None if box is None else box[0]


def _final_box(text: str) -> tuple[str, int] | None:
    """`last_boxed`'s answer and where the last box starts; raises `_Unclosed`."""
    found = boxes(text)
    if not found:
        return None
    start = found[-1][1]
    while found[-1][0].lstrip().startswith(("\\boxed", "\\fbox")) and boxes(found[-1][0]):
        found[-1] = boxes(found[-1][0])[-1]
    parts = [found[-1][0]]
    for (content, _, end), (_, next_start, _) in zip(found[-2::-1], found[:0:-1], strict=False):
        gap = text[end:next_start]
        if len(gap) > 20:
            break
        if re.search(r"\bor\b", gap):
            return f"{content} or {parts[0]}", start
        if not _JOIN.match(gap):
            break
        if content != parts[0]:  # "\boxed{840}, \boxed{840}" repeats one answer
            parts.insert(0, content)
    return ", ".join(parts), start


def _cut_box(text: str, start: int) -> str | None:
    """The content of a box that the end of a truncated response left open, when it looks complete.

    `\\boxed{42` and `\\boxed{\\frac{1}{2}` count; `\\boxed{\\frac{1}{`, `\\boxed{12 +` and a box
    running into prose do not.
    """
    content = text[start:].strip()
    if not content or len(content) > _MAX_CUT_BOX or re.search(r"[\n$]|\\boxed|\\fbox", content):
        return None
    if not balanced(content) or _WORD.search(_TEXT_GROUP.sub(" ", content)):
        return None
    if content.count("\\left") != content.count("\\right"):  # a delimiter pair cut in half
        return None
    command = re.search(r"\\[a-zA-Z]+$", content)
    if command and command.group() not in ("\\pi", "\\infty", "\\circ") or not _COMPLETE_END.search(content):
        return None
    return content


def _after_phrase(text: str) -> str | None:
    matches = list(_PHRASE.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :].lstrip("*: ")
    math = _MATH.match(rest)
    if math:
        return next(group for group in math.groups() if group is not None)
    line = rest.split("\n", 1)[0]
    line = _AFTER_VALUE.split(line, maxsplit=1)[0]
    verbs = list(_STATES.finditer(line)) if re.match(r"[A-Za-z]{2,}\b", line) else []
    if verbs:  # "Final Answer: the largest n is 34" states its value after the verb
        line = line[verbs[-1].end() :]
        math = _MATH.match(line)
        if math:
            return next(group for group in math.groups() if group is not None)
    ellipsis = "..." if line.rstrip(" *").endswith("...") else ""  # `0.666...` repeats
    return line.strip(" *.,;:") + ellipsis or None


def _last_number(text: str, *, join_approximation: bool = True) -> str | None:
    """The last number, or the right-hand side of the last math span it sits in.

    In a concluding sentence, a justification after an earlier number ends the answer ("So there
    are 12 ways, since we pick 2 of the 4"), and an approximation after a value joins it
    ("1/3, or about 0.333" reads as `1/3 \\approx 0.333`, which `parse.py` checks).
    """
    numbers = list(_NUMBER.finditer(text))
    if not numbers:
        return None
    number = numbers[-1]
    starts = list(_SENTENCE_START.finditer(text, max(0, number.start() - 2000), number.start()))
    sentence_start = starts[-1].end() if starts else max(0, number.start() - 2000)
    concluding = concludes(text[sentence_start : number.start()])
    in_sentence = [n for n in numbers[-200:] if n.start() >= sentence_start]
    for justification in _JUSTIFICATION.finditer(text, sentence_start, number.start() if concluding else 0):
        earlier = [n for n in in_sentence if n.start() < justification.start()]
        if earlier:
            text, number = text[: justification.start()], earlier[-1]
            break
    if _HEDGE.search(text[max(0, number.start() - 40) : number.start()]):
        return None
    for math in _MATH.finditer(text[max(0, number.start() - 2000) :]):
        start = math.start() + max(0, number.start() - 2000)
        if start <= number.start() < start + len(math.group()):
            content = next(group for group in math.groups() if group is not None)
            return content.rsplit("=", 1)[-1].strip() if "\\approx" not in content else content.strip()
    approximately = _APPROXIMATELY.search(text, max(0, number.start() - 40), number.start())
    if approximately and join_approximation:
        exact = _last_number(text[: approximately.start() + 1], join_approximation=False)
        if exact is not None:
            return f"{exact} \\approx {number.group()}"
    return number.group()


def answer_kind(gold: str) -> Kind:
    """Whether a gold answer is a choice letter, a yes or no, other short text, or a value."""
    text = re.sub(r"\\(?:text|textbf|mathrm)\s*\{([^{}]*)\}", r"\1", gold.strip().strip("$")).strip(" .")
    if re.fullmatch(r"\(?[A-J]\)?|\([a-j]\)", text):
        return "choice"
    if yes_no(text):
        return "verdict"
    if re.fullmatch(r"[A-Za-z][A-Za-z' \-]*", text) and re.search(r"[A-Za-z]{3,}", text):
        if spelled_number(text) is None and real_set(text) is None:
            return "text"
    return "value"


def extract_answer(response: str, kind: Kind = "value") -> str | None:
    """The final answer of a model response as a string, or None when it gives none."""
    final = final_segment(response)
    if final is None:
        return None
    try:
        box = _final_box(final)
    except _Unclosed as unclosed:
        return _cut_box(final, unclosed.args[0])
    if box is not None:
        answer, start = box
        relation = _RELATION_BEFORE.search(final, max(0, start - 40), start)
        return relation.group() + answer if relation else answer
    tail = drop_asides(final[-_SEARCH_CHARS:])
    if kind == "choice":
        letter = choice_letter(tail)
        if letter is not None:
            return letter
    phrase = _after_phrase(tail)
    if phrase is not None:
        return phrase
    text_math = _FINAL_TEXT.search(tail) if kind != "value" else None
    if text_math is not None:
        return text_math.group(1)
    if kind == "verdict":
        said = verdict(tail)
        if said is not None:
            return said
    if "####" in tail:
        return tail.rsplit("####", 1)[1].strip().split("\n", 1)[0].strip() or None
    stated = stated_in_words(tail, text_answer=kind != "value")
    if stated is not None:
        return stated
    return _last_number(tail)


def gold_answer(gold: str) -> str:
    """The answer in a dataset's gold field: its last box or its `####` part, else the whole field."""
    try:
        boxed = last_boxed(gold)
    except ValueError:
        boxed = None
    if boxed is not None:
        return boxed
    if "####" in gold:
        return gold.rsplit("####", 1)[1].strip()
    return gold.strip()
