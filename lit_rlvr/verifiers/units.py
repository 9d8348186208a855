"""Units, degrees and percent: split off the end of an answer so the number can be compared alone.

A unit is kept as a canonical name, so `5 m` and `5 cm` stay different answers while `15 cm^2` and
`15 square centimeters` agree. An answer without a unit matches the same number with one.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_PERCENT = re.compile(r"\s*(?:\\percent|\bper\s?cent(?:age)?\b|\bpct\b)\s*$")
# Words are split by a space or slash: with the separator optional, a long run of letters could be
# split in exponentially many ways before a failed match gives up.
_TRAILING_WORDS = re.compile(
    r"(?:(?<=[\d}).])|\s)((?:\\degree|[a-zA-Z]+\.?)(?:[\s/]+(?:\\degree|[a-zA-Z]+\.?))*)\s*(\^\s*\{?\s*[23]\s*\}?)?\s*$"
)
_GENERIC = {"unit", "units", "square units", "sq units", "cubic units"}
_CANONICAL = {
    "centimeter": "cm", "centimetre": "cm", "meter": "m", "metre": "m", "kilometer": "km", "kilometre": "km",
    "millimeter": "mm", "millimetre": "mm", "inch": "in", "inche": "in", "foot": "ft", "feet": "ft",
    "mile": "mi", "yard": "yd", "second": "s", "sec": "s", "minute": "min", "hour": "h", "hr": "h",
    "gram": "g", "kilogram": "kg", "milligram": "mg", "liter": "l", "litre": "l", "milliliter": "ml",
    "degree": "deg", "\\degree": "deg", "radian": "rad", "dollar": "usd", "buck": "usd", "pound": "lb",
    "lbs": "lb", "ounce": "oz", "gallon": "gal", "day": "d",
}  # fmt: skip
# Single letters are units only in this list; any other trailing letter is a variable (`2 x`).
_LETTER_UNITS = {"m", "s", "g", "h", "l", "d"}
# Words that end a mathematical answer without being units.
_NOT_UNITS = {
    "pi",
    "i",
    "e",
    "infty",
    "inf",
    "infinity",
    "sqrt",
    "and",
    "or",
    "sin",
    "cos",
    "tan",
    "log",
    "ln",
}


class Split(NamedTuple):
    """An answer's mathematical part, its canonical unit (None when absent) and its percent sign."""

    core: str
    unit: str | None
    percent: bool


def _canonical_word(word: str) -> str:
    word = word.lower().rstrip(".")
    word = _CANONICAL.get(word, word)
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = _CANONICAL.get(word[:-1], word[:-1])
    return word


def canonical_unit(words: str, power: str = "") -> str | None:
    """Returns the canonical spelling of a unit phrase such as `square centimeters` or `km/h`."""
    text = re.sub(r"\s+", " ", words.strip().lower())
    if text in _GENERIC:
        return None
    text = re.sub(r"\bper\b", "/", text)
    exponent = re.sub(r"\D", "", power)
    for prefix, value in (("square ", "2"), ("sq ", "2"), ("sq. ", "2"), ("cubic ", "3"), ("cu ", "3")):
        if text.startswith(prefix):
            text, exponent = text[len(prefix) :], value
    parts = [" ".join(_canonical_word(word) for word in part.split()) for part in text.split("/")]
    unit = "/".join(part for part in parts if part)
    return f"{unit}^{exponent}" if exponent and unit else unit or None


def split_units(text: str) -> Split:
    """Splits a trailing percent sign and unit phrase off `text`."""
    percent = False
    match = _PERCENT.search(text)
    if match and match.start() > 0:
        text, percent = text[: match.start()].strip(), True
    match = _TRAILING_WORDS.search(text)
    if match is None or not text[: match.start(1)].strip() or "\\int" in text:  # `dx` ends an integral
        return Split(text, None, percent)
    words = match.group(1)
    tokens = re.findall(r"\\degree|[a-zA-Z]+", words)
    core = text[: match.start(1)].strip()
    if any(token.lower() in _NOT_UNITS for token in tokens) or core.endswith(("\\", "^", "_")):
        return Split(text, None, percent)
    if len(tokens) == 1 and len(tokens[0]) == 1 and tokens[0] not in _LETTER_UNITS:
        return Split(text, None, percent)
    if not re.search(r"(?:[\d})]|\\pi)\s*$", core):  # a unit follows a number, never a variable
        return Split(text, None, percent)
    return Split(core, canonical_unit(words, match.group(2) or ""), percent)
