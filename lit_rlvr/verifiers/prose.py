"""Final answers stated in prose rather than a box: the last sentence, a choice letter, a verdict.

Used by `extract.py` after boxes and answer phrases. Each reader is strict on purpose: it returns
None unless one answer is stated in a conclusion ("So there are twelve."), so a word or letter
that merely occurs in the text ("There are three cases.", "A good way to see it") never counts.
"""

from __future__ import annotations

import bisect
import re

from lit_rlvr.verifiers.words import number_phrases, real_set, spelled_number, yes_no

_MATH = re.compile(r"\$\$.+?\$\$|\$.+?\$|\\\[.+?\\\]|\\\(.+?\\\)", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# An aside in parentheses that contains a word ("(which is $5 more than $40)", "(mod 7)", "(about
# 0.33)"): it comments on the answer before it, so its numbers are not the answer.
_ASIDE = re.compile(r"\s\(((?:[^()$]|\$[^$()]*\$)*)\)")
# "5 (or 7 if the ends count)" offers a second answer: it stays, unbracketed, to read as a hedge.
_ALTERNATIVE = re.compile(r"\s*or\s+(?!about|approximately|approx|roughly|nearly|≈|\\approx)", re.IGNORECASE)
_ESCAPED_DOLLAR = "\\$"
_MASK = "\x00"  # stands for `\$` (a dollar sign, not math) while math spans are found
_PROSE_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_CONCLUSION = re.compile(
    r"^[\s*]*(?:and\s+)?(?:so|thus|therefore|hence|consequently|finally|overall|altogether|in\s+total"
    r"|in\s+conclusion|in\s+summary|this\s+means|we\s+conclude|the\s+(?:final\s+|correct\s+)?answer)\b",
    re.IGNORECASE,
)
# A clause that states a value of something named: "the remainder is zero".
_DEFINITE = re.compile(r"^the\s+[a-z]+(?:\s+[a-z]+){0,3}\s+(?:is|was|equals)\s", re.IGNORECASE)
_NOT_WORDS = re.compile(r"\d|\$|\\[(\[]")
_COPULA = re.compile(r"\b(?:is|are|was|were|equals|be|has|have)\s+|:\s*", re.IGNORECASE)
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_PREDICATE = re.compile(r"[A-Za-z][A-Za-z' \-]*")
_MAX_PREDICATE_WORDS = 6
# "one" is a pronoun after a determiner or before "of": "the one on the left", "one of them".
_PRONOUN_ONE = re.compile(
    r"\b(?:the|this|that|each|every|any|no|which|another)\s+one\b|\bone\s+(?:of|another|by)\b"
)
# Choice letters: `(b)` in either case, a capital `B` as a word, a small `b` only before punctuation
# (a lone "a" is an article). Keywords match in either case, letters never fold.
_LETTER = r"(?:\(([A-Ja-j])\)|\b([A-J])\b(?![.,]\w)|\b([a-j])(?=\s*(?:[.,;:!?]|$)))"
_STRONG_CHOICE = re.compile(
    r"(?i:answer|option|choice)\s*(?i:is|would\s+be|:|=)\s*(?:\*\*)?\s*(?i:option\s*|choice\s*)?" + _LETTER
    + r"|(?i:option\s*|choice\s*)?" + _LETTER + r"\s+(?i:is\s+(?:the\s+)?(?:correct|right))\b"
)  # fmt: skip
_LEADING_CHOICE = re.compile(
    r"^[\s*]*(?i:(?:option|choice)\s*)?(?:\(([A-Ja-j])\)|([A-J])[*\s]*(?:[.:)](?:\s|$)|$))"
)
_CHOICE_HEDGE = re.compile(r"[)*]*\s*(?:,?\s*or|and)\s+(?:option\s*)?\(?[A-Ja-j]\b", re.IGNORECASE)
_CONNECTIVE = re.compile(r"^[\s*]*(?:(?:so|thus|therefore|hence|and|then|well)\s*,?\s*)?", re.IGNORECASE)


def drop_asides(text: str) -> str:
    """`text` without parenthesised asides that contain words, outside math spans."""
    text = text.replace(_ESCAPED_DOLLAR, _MASK)
    spans = [match.span() for match in _MATH.finditer(text)]
    starts = [start for start, _ in spans]

    def keep_math(match: re.Match[str]) -> str:
        index = bisect.bisect_right(starts, match.start()) - 1
        inside = index >= 0 and match.start() < spans[index][1]
        words = _PROSE_WORD.search(_MATH.sub(" ", match.group(1)))
        if inside or not words:
            return match.group()
        return " " + match.group(1) if _ALTERNATIVE.match(match.group(1)) else ""

    return _ASIDE.sub(keep_math, text).replace(_MASK, _ESCAPED_DOLLAR)


def concludes(sentence: str) -> bool:
    """Whether a sentence opens as a conclusion ("So", "Therefore", "In total", "The answer")."""
    return _CONCLUSION.match(sentence) is not None


def sentences(text: str) -> list[str]:
    """Non-empty sentences of `text`, in order."""
    return [sentence.strip() for sentence in _SENTENCE_END.split(text) if sentence.strip()]


def stated_in_words(text: str, *, text_answer: bool) -> str | None:
    """The answer a concluding last sentence states in words: a spelled number, a set of reals, or
    (when `text_answer`) the short phrase after its last verb ("So the winner is Devon.")."""
    parts = sentences(text)
    if not parts:
        return None
    last = parts[-1]
    if _NOT_WORDS.search(last) or not concludes(last):
        last = _final_clause(last)
        if last is None:
            return None
    numbers = number_phrases(_PRONOUN_ONE.sub(" ", last.lower()))
    if len(numbers) > 1:
        return None
    if numbers:
        return numbers[0]
    copulas = list(_COPULA.finditer(last))
    if not copulas:
        return None
    predicate = _ARTICLE.sub("", last[copulas[-1].end() :].strip(" *.!"))
    if not _PREDICATE.fullmatch(predicate) or len(predicate.split()) > _MAX_PREDICATE_WORDS:
        return None
    if real_set(predicate) is not None or text_answer:
        return predicate
    return None


def _final_clause(sentence: str) -> str | None:
    """The clause that ends a sentence when it states the answer in words and the rest does the work.

    "Since 84 = 7 \\times 12, the remainder is zero." gives "the remainder is zero", and "..., so
    there are seven left." gives "so there are seven left"; else None.
    """
    clause = re.split(r"[,;]\s+", sentence)[-1].strip()
    clause = re.sub(r"^and\s+", "", clause, flags=re.IGNORECASE)
    if _NOT_WORDS.search(clause):
        return None
    if concludes(clause):
        return clause
    definite = _DEFINITE.match(clause)
    if definite and spelled_number(_ARTICLE.sub("", clause[definite.end() :].strip(" *.!"))) is not None:
        return clause
    return None


def choice_letter(text: str) -> str | None:
    """The letter a response picks ("the answer is option B", "D is correct", "(c) because ...")."""
    strong = list(_STRONG_CHOICE.finditer(text))
    if strong:
        match = strong[-1]
        if _CHOICE_HEDGE.match(text, match.end()):
            return None
        return next(letter for letter in match.groups() if letter).upper()
    # A sentence led by a letter ("(c) because ...", "C. The function ..."), when all such sentences
    # name one letter: several ("Option A: ... Option B: ...") are a list of the options.
    letters = set()
    for sentence in sentences(text):
        match = _LEADING_CHOICE.match(sentence)
        if match is not None:
            hedged = _CHOICE_HEDGE.match(sentence, match.end())
            letters.add("" if hedged else next(letter for letter in match.groups() if letter).upper())
    return letters.pop() or None if len(letters) == 1 else None


def verdict(text: str) -> str | None:
    """The "yes" or "no" that opens the last sentence ("So, no, it is not possible."), else the first."""
    parts = sentences(text)
    for sentence in (parts[-1], parts[0]) if parts else ():
        answer = yes_no(sentence[_CONNECTIVE.match(sentence).end() :])
        if answer is not None:
            return answer
    return None
