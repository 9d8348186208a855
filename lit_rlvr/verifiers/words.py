"""Answers written in words: numbers ("twenty-four", "three quarters"), sets of reals, yes and no.

Each function reads a whole answer (or one sentence) and returns None unless the words form exactly
one such answer, so "three cases" is 3 but "three or four" and "one of the two" are not numbers.
"""

from __future__ import annotations

import re
from fractions import Fraction

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}  # fmt: skip
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_DENOMINATORS = {
    "half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fourth": 4, "fourths": 4,
    "fifth": 5, "fifths": 5, "sixth": 6, "sixths": 6, "seventh": 7, "sevenths": 7, "eighth": 8,
    "eighths": 8, "ninth": 9, "ninths": 9, "tenth": 10, "tenths": 10,
}  # fmt: skip
_NUMBER_WORDS = {*_UNITS, *_TEENS, *_TENS, *_SCALES, "hundred"}
_SIGNS = {"negative", "minus"}
_TOKEN = re.compile(r"[a-z]+")
_MAX_NOUN_WORDS = 2  # "three boxes", "twelve square units"; longer tails are sentences, not answers

REALS = "all real numbers"
EMPTY = "no solution"
_REAL_SETS = {
    REALS: re.compile(
        r"(?:the\s+set\s+of\s+)?(?:all|any|every)\s+real\s+(?:numbers?|values?(?:\s+of\s+[a-z])?)(?:\s+[a-z])?"
        r"|all\s+reals|\\reals",
    ),
    EMPTY: re.compile(
        r"(?:there\s+(?:is|are)\s+)?no\s+(?:real\s+)?(?:solutions?|roots?|real\s+numbers?|values?)"
        r"|none|(?:the\s+)?empty\s+set",
    ),
}
_YES_NO = re.compile(r"[\s*_]*(yes|no)[\s*_]*(?:[,.;:!]|—|$)", re.IGNORECASE)
_NOT_A_VERDICT = re.compile(r"\s*(?:wait|hold|hmm|let|actually)\b", re.IGNORECASE)


def _integer(words: list[str]) -> int | None:
    """The integer spelled by `words` ("one hundred and five", "fifteen hundred"), None if malformed."""
    total, current, last = 0, 0, None
    for word in words:
        if word == "and":
            if last not in ("hundred", "scale"):
                return None
            last = "and"
        elif word in _UNITS or word in _TEENS:
            if last in ("unit", "teen"):
                return None
            current += _UNITS.get(word, _TEENS.get(word))
            last = "unit" if word in _UNITS else "teen"
        elif word in _TENS:
            if last in ("unit", "teen", "tens"):
                return None
            current += _TENS[word]
            last = "tens"
        elif word == "hundred":
            if last not in ("unit", "teen", "tens") or not 0 < current < 100:
                return None
            current *= 100
            last = "hundred"
        elif word in _SCALES:
            if last in (None, "and", "scale"):
                return None
            total += current * _SCALES[word]
            current, last = 0, "scale"
        else:
            return None
    return None if last in (None, "and") else total + current


def spelled_number(text: str) -> str | None:
    """The number that `text` spells, as digits, with any trailing noun kept (`12 boxes`); else None."""
    words = _TOKEN.findall(text.lower())
    if not words or " ".join(words) != re.sub(r"[\s\-]+", " ", text.lower()).strip(" ."):
        return None
    sign = ""
    if words[0] in _SIGNS:
        sign, words = "-", words[1:]
    if words[:1] == ["a"] and words[1:2] and words[1] in ("half", "quarter", "third"):
        words = ["one", *words[1:]]
    end = 0
    while end < len(words) and (words[end] in _NUMBER_WORDS or words[end] == "and" and end > 0):
        end += 1
    while end > 0 and words[end - 1] == "and":
        end -= 1
    value = _integer(words[:end])
    if value is None:
        return None
    rest = words[end:]
    if rest and rest[0] in _DENOMINATORS:
        denominator = _DENOMINATORS[rest[0]]
        plural = rest[0].endswith("s")
        if plural == (value == 1) or value == 0:  # "one halves", "three half"
            return None
        fraction = Fraction(value, denominator)
        number, rest = f"\\frac{{{fraction.numerator}}}{{{fraction.denominator}}}", rest[1:]
    else:
        number = str(value)
    if len(rest) > _MAX_NOUN_WORDS or any(word in _NUMBER_WORDS or word in _DENOMINATORS for word in rest):
        return None
    return " ".join([sign + number, *rest])


def number_phrases(sentence: str) -> list[str]:
    """The runs of number words in a sentence, e.g. ["twenty-four"] in "So there are twenty-four."."""
    runs, current = [], []
    for word in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*|\S", sentence):
        parts = word.lower().split("-")
        if all(part in _NUMBER_WORDS for part in parts) or current and word.lower() == "and":
            current.append(word)
            continue
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    phrases = []
    for run in runs:
        while run and run[-1].lower() == "and":
            run.pop()
        if run:
            phrases.append(" ".join(run))
    return phrases


def real_set(text: str) -> str | None:
    """`REALS` or `EMPTY` when the whole of `text` names all real numbers or no solution, else None."""
    phrase = re.sub(r"\s+", " ", text.strip().lower()).strip(" .")
    for name, pattern in _REAL_SETS.items():
        if pattern.fullmatch(phrase):
            return name
    return None


def yes_no(text: str) -> str | None:
    """The verdict "yes" or "no" when `text` opens with it ("Yes, because ..."), else None."""
    match = _YES_NO.match(text)
    if match is None or _NOT_A_VERDICT.match(text, match.end()):
        return None
    return match.group(1).lower()
