"""String clean-up of a LaTeX or plain-text answer before it is parsed.

Only presentation is removed here (math delimiters, spacing, sizing, `\\dfrac`); anything that
carries meaning (brackets, units, percent, relations) is kept or turned into a canonical spelling
for the parser.
"""

from __future__ import annotations

import re
from fractions import Fraction

_DROP = re.compile(
    r"\\(?:displaystyle|textstyle|scriptstyle|left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg"
    r"|middle|limits|nolimits|mathstrut|hfill|noindent)(?![a-zA-Z])"
)
_SPACES = re.compile(r"(?<!\\)\\[,;:! ]|\\q?quad(?![a-zA-Z])|~|\\hspace\*?\{[^{}]*\}|\\(?:thinspace|enspace)")
_TEXT = re.compile(
    r"\\(?:text|textbf|textit|textrm|textsf|textnormal|mbox|mathrm|mathbf|mathit|mathsf|rm|bf|it)\s*\{([^{}]*)\}"
)
_RENAME = [
    (re.compile(r"\\[dtc]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\[dt]binom(?![a-zA-Z])"), r"\\binom"),
    (re.compile(r"\\(?:leq?|leqslant)(?![a-zA-Z])|≤"), "<="),
    (re.compile(r"\\(?:geq?|geqslant)(?![a-zA-Z])|≥"), ">="),
    (re.compile(r"\\(?:neq?)(?![a-zA-Z])|≠|=/="), "!="),
    (re.compile(r"\\lt(?![a-zA-Z])"), "<"),
    (re.compile(r"\\gt(?![a-zA-Z])"), ">"),
    (re.compile(r"\\(?:cdot|times|ast)(?![a-zA-Z])|×|·"), "*"),
    (re.compile(r"\\div(?![a-zA-Z])|÷"), "/"),
    (re.compile(r"\\(?:approx|simeq|sim)(?![a-zA-Z])|≈"), r" \\approx "),
    (re.compile(r"−|–"), "-"),
    (re.compile(r"π"), r"\\pi "),
    (re.compile(r"∞"), r"\\infty "),
    (re.compile(r"√"), r"\\sqrt"),
    (re.compile(r"\\(?:varnothing|emptyset)(?![a-zA-Z])|∅"), r"\\emptyset "),
    (re.compile(r"\\(?:mathbb|mathbf)\s*\{?R\}?|ℝ"), r"\\reals "),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![a-zA-Z])|\\circ(?![a-zA-Z])"), r" \\degree "),
    (re.compile(r"\\%|%"), r" \\percent "),
    (re.compile(r"\\\$|\$|€|£|\\euro(?![a-zA-Z])|\\pounds(?![a-zA-Z])"), " "),
    (re.compile(r"\\(?:vert|mid)(?![a-zA-Z])"), "|"),
    (re.compile(r"\\[lr]vert(?![a-zA-Z])"), "|"),
]
# Thousands separators: `1,234`, MATH's `1{,}234` and `1,\!234`, LaTeX spaces (a thin space may be
# followed by a real one, `1\,\ 234`), plain and thin spaces.
_SEPARATOR = r"(?:,(?:\\!)?|\s?\{,\s?\}(?:\\!)?|\\[,;!](?:\\ | )?|\\ |[ \u00a0\u2009\u202f])"
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3})((?:" + _SEPARATOR + r"\d{3})+)(?![\d])")
_GROUP_SEPARATOR = re.compile(_SEPARATOR)
# Repeating decimals: `0.1\overline{6}`, `0.\dot{3}`, and `0.333\ldots` when the digits do repeat.
# Digit runs are capped so that a pathological literal costs nothing here (guards.py refuses it later).
_REPEATING = re.compile(r"(?<![\d.])(\d{0,40})\.(\d{0,40})\\(?:overline|bar|dot)\s*(?:\{(\d{1,40})\}|(\d))")
_ELLIPSIS = re.compile(r"(?<![\d.])(\d{0,40})\.(\d{1,40})\s*(?:\\[lc]?dots(?![a-zA-Z])|\.\.\.|…)")
# "3.5 billion" after a numeral is an exact factor, not a unit.
_MAGNITUDE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(thousand|million|billion|trillion)\b")
_POWERS = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12}
_SCIENTIFIC = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([-+]?\d+)(?![\w.])")
# `7\frac{3}{4}` in an answer is the mixed number 7 + 3/4, never 7 times 3/4.
_MIXED = re.compile(r"(?<![\w.}^_])(\d+)\s*\\frac\s*\{(\d+)\}\s*\{(\d+)\}")


def _join_thousands(match: re.Match[str]) -> str:
    return match.group(1) + _GROUP_SEPARATOR.sub("", match.group(2))


def _magnitude(match: re.Match[str]) -> str:
    return f"{match.group(1)} \\times 10^{{{_POWERS[match.group(2)]}}}"


def _repeating_fraction(whole: str, fixed: str, period: str) -> str:
    """`whole.fixed(period)(period)...` as an exact `\\frac{p}{q}`."""
    value = Fraction(int(whole or 0)) + Fraction(
        int(fixed + period) - int(fixed or 0), 10 ** len(fixed) * (10 ** len(period) - 1)
    )
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _overline(match: re.Match[str]) -> str:
    return _repeating_fraction(match.group(1), match.group(2), match.group(3) or match.group(4))


def _ellipsis(match: re.Match[str]) -> str:
    """The repeating decimal `0.333...` stands for; kept as written when its digits do not repeat."""
    digits = match.group(2)
    for start in range(len(digits)):
        for width in range(1, (len(digits) - start) // 2 + 1):
            period, tail = digits[start : start + width], digits[start:]
            repeats = len(tail) // width
            if repeats >= (3 if width == 1 else 2) and (period * (repeats + 1)).startswith(tail):
                return _repeating_fraction(match.group(1), digits[:start], period)
    return match.group()


def balanced(text: str) -> bool:
    """Whether every bracket closes, in any type (`[2, 5)` is an interval); `\\{` counts as one."""
    depth = 0
    for char in text.replace("\\{", "(").replace("\\}", ")"):
        depth += char in "([{"
        depth -= char in ")]}"
        if depth < 0:
            return False
    return depth == 0


def strip_delimiters(text: str) -> str:
    """Removes math-mode delimiters `$`, `\\(`, `\\)`, `\\[`, `\\]` around an answer."""
    text = text.strip()
    for opening, closing in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(opening) and text.endswith(closing) and len(text) >= len(opening) + len(closing):
            text = text[len(opening) : len(text) - len(closing)].strip()
    return text


def clean(text: str) -> str:
    """Returns `text` with presentation removed and operators spelled canonically."""
    text = strip_delimiters(text)
    text = text.replace("\\{", "\\lbrace ").replace("\\}", " \\rbrace ")
    text = _THOUSANDS.sub(_join_thousands, text)
    text = _REPEATING.sub(_overline, text)
    text = _ELLIPSIS.sub(_ellipsis, text)
    text = _SCIENTIFIC.sub(r"\1 \\times 10^{\2}", text)
    text = _DROP.sub("", text)
    text = _SPACES.sub(" ", text)
    for _ in range(3):  # nested \text{\textbf{...}}
        text = _TEXT.sub(r" \1 ", text)
    text = _MAGNITUDE.sub(_magnitude, text)
    for pattern, replacement in _RENAME:
        text = pattern.sub(replacement, text)
    text = _MIXED.sub(r"(\1+\\frac{\2}{\3})", text)
    text = text.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}")
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip(".;").strip()
