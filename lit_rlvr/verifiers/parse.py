"""From an extracted answer string to a typed value (`values.py`).

The shape is decided on the string first (choice letter, set braces, interval brackets, commas,
relation signs), then each piece goes through the expression parser. Brackets are never stripped:
`[2,5)` is an interval, `(2,5)` a pair that may read as an open interval, `\\{2,5\\}` a set.
"""

from __future__ import annotations

import re

import sympy

from lit_rlvr.verifiers.guards import check_text
from lit_rlvr.verifiers.latex import ParseError, parse_expression
from lit_rlvr.verifiers.normalize import balanced, clean
from lit_rlvr.verifiers.units import split_units
from lit_rlvr.verifiers.values import Choice, Items, Region, Relation, Scalar, Text, Value
from lit_rlvr.verifiers.words import REALS, real_set, spelled_number, yes_no

# A choice letter: `(B)`, `B.`, `b)`, `option B`, optionally followed by the option's text.
# A bare small letter stays a symbol (`e`, `b`); `equivalence.py` matches it against a choice gold.
_CHOICE = re.compile(
    r"^(?:(?i:option|choice)\s*)?(?:\(([A-Ja-j])\)|([A-J])(?:[.:)]|$)|([a-j])[:)])(?:\s.*)?$", re.DOTALL
)
_OPTION = re.compile(r"^(?i:option|choice)\s*([A-Ja-j])$")
# A name written before an answer's value: `AB`, `|AB|`, `\angle ABC`, `\overline{BC}`, `f(2)`, `P(A)`,
# `f^{-1}(x)`; a single letter (`x`, `a_{10}`) is already a symbol.
_LABEL = (
    r"(?:m\s*)?\\angle\s*[A-Z]{1,3}|\\overline\s*\{[A-Z]{2}\}|[A-Z]{2,3}(?![\w(])|\|[A-Z]{2}\|"
    r"|[A-Za-z](?:_\{?\w+\}?)?(?:\^\{?-1\}?|')?\s*\(\s*[\w.-]+(?:\s*,\s*[\w.-]+)*\s*\)"
)
_NAMED = re.compile(r"^(" + _LABEL + r")\s*=\s*(?!=)")
_VARIABLE = r"(?:[A-Za-z]|\\[a-z]+)(?:_\{?\w+\}?)?"
_MEMBER = re.compile(r"^" + _VARIABLE + r"\s*\\in(?![a-zA-Z])\s*")
_TUPLE_NAME = re.compile(r"^\(\s*" + _VARIABLE + r"(?:\s*,\s*" + _VARIABLE + r")+\s*\)\s*=\s*(?=[(\[])")
_OPEN = {"(": ")", "[": "]", "{": "}"}
_RELATIONS = ("<=", ">=", "!=", "\\approx", "=", "<", ">")
_WORDS = re.compile(r"[A-Za-z][A-Za-z' .\-]*")
_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = {
    "sin",
    "cos",
    "tan",
    "sec",
    "csc",
    "cot",
    "log",
    "exp",
    "sqrt",
    "infty",
    "inf",
    "infinity",
    "pi",
}


class Hedge(ParseError):
    """Two alternatives offered as one answer (`42 or 24`): not an answer."""


def _top_level(text: str, separators: tuple[str, ...]) -> list[tuple[int, str]]:
    """Positions of `separators` outside any bracket, as (index, separator)."""
    found, depth, index = [], 0, 0
    while index < len(text):
        if text.startswith(("\\{", "\\}"), index):
            depth += 1 if text[index + 1] == "{" else -1
            index += 2
            continue
        char = text[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            for separator in separators:
                if text.startswith(separator, index) and not (
                    separator == "=" and text[index - 1 : index] in "<>!"
                ):
                    found.append((index, separator))
                    index += len(separator) - 1
                    break
        index += 1
    return found


def _split(text: str, separator: str) -> list[str]:
    parts, start = [], 0
    for index, _ in _top_level(text, (separator,)):
        parts.append(text[start:index])
        start = index + len(separator)
    return [*parts, text[start:]]


def _wrapped(text: str) -> tuple[str, str] | None:
    """Returns the outer bracket pair when one pair encloses all of `text`."""
    if text.startswith("\\{") and text.endswith("\\}"):
        inner = text[2:-2]
        return ("\\{", "\\}") if not _top_level(inner, ("\\}",)) and balanced(inner) else None
    if len(text) < 2 or text[0] not in "([" or text[-1] not in ")]":
        return None
    depth = 0
    for index, char in enumerate(text):
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0 and index < len(text) - 1:
            return None
    return text[0], text[-1]


def _scalar(text: str) -> Scalar:
    core, unit, percent = split_units(text)
    decimals = None
    match = re.fullmatch(r"[-+]?\s*\d*\.(\d+)", core)
    if match:
        decimals = len(match.group(1))
    try:
        value = parse_expression(core)
    except (TypeError, AttributeError, ZeroDivisionError, RecursionError) as error:
        raise ParseError(str(error)) from error
    return Scalar(value, decimals, unit, percent)


def _interval(left: str, low: str, high: str, right: str) -> Region:
    start, end = _scalar(low).value, _scalar(high).value
    if not (start.is_extended_real and end.is_extended_real):
        raise ParseError("interval endpoints must be real numbers")
    return Region(sympy.Interval(start, end, left_open=left == "(", right_open=right == ")"))


def _region(text: str) -> Region:
    """An interval, a set of numbers, the empty set or the reals, as a subset of the real line."""
    if text in ("\\emptyset", "\\{\\}"):
        return Region(sympy.EmptySet)
    if text == "\\reals":
        return Region(sympy.Reals)
    return _as_region(parse(text))


def _as_region(value: Value) -> Region:
    if isinstance(value, Region):
        return value
    if isinstance(value, Items) and value.kind == "set":
        numbers = [item.value for item in value.items if isinstance(item, Scalar)]
        if len(numbers) == len(value.items) and all(number.is_real for number in numbers):
            return Region(sympy.FiniteSet(*numbers))
    interval = open_interval(value) if isinstance(value, Items) and value.open_pair else None
    if interval is None:
        raise ParseError(f"not a region: {value}")
    return interval


def open_interval(pair: Items) -> Region | None:
    """The open interval that a pair `(a, b)` of real numbers `a < b` also reads as, else None."""
    low, high = (item.value if isinstance(item, Scalar) else None for item in pair.items)
    if low is None or high is None or not (low.is_extended_real and high.is_extended_real):
        return None
    return Region(sympy.Interval.open(low, high)) if bool(low < high) else None


def _approximated(text: str, found: list[tuple[int, str]]) -> Value:
    """`1/3 \\approx 0.333` or `x = 1/3 \\approx 0.33` is the exact part, when the decimal agrees with it.

    `x \\approx 11` states x = 11; an approximation that disagrees (`1/3 \\approx 0.5`) is two answers.
    """
    cut = next(index for index, separator in found if separator == "\\approx")
    last = max(index for index, separator in found if separator == "\\approx")
    exact_text, approximation = text[:cut].strip(), _scalar(text[last + len("\\approx") :])
    if not exact_text:
        raise ParseError("only an approximation")
    exact = parse(exact_text)
    if isinstance(exact, Scalar) and isinstance(exact.value, sympy.Symbol):
        return Relation("=", exact.value, approximation.value)
    value = exact.rhs if isinstance(exact, Relation) and exact.operator == "=" else exact
    if isinstance(value, Scalar):
        value = value.value
    if not isinstance(value, sympy.Expr) or value.free_symbols or isinstance(value, sympy.MatrixBase):
        raise ParseError("approximation of an expression")
    unit = sympy.Rational(1, 10 ** (approximation.decimals or 0))
    difference = sympy.N(value - approximation.value, 30)  # rounded (within half a unit) or truncated
    if not difference.is_real or not (
        abs(difference) <= unit / 2 or 0 <= difference * sympy.sign(approximation.value) < unit
    ):
        raise Hedge(text)
    return exact


def _relation(text: str, found: list[tuple[int, str]]) -> Value:
    if any(separator == "\\approx" for _, separator in found):
        return _approximated(text, found)
    bounds = [0, *(index for index, _ in found), len(text)]
    widths = [0, *(len(separator) for _, separator in found)]
    sides = [text[bounds[i] + widths[i] : bounds[i + 1]] for i in range(len(found) + 1)]
    operators = [separator for _, separator in found]
    if all(operator == "=" for operator in operators):  # a chain `x = 2+3 = 5` states x = 5
        label = _NAMED.match(text)
        lhs = sympy.Symbol(re.sub(r"\s+", "", label.group(1))) if label else _scalar(sides[0]).value
        return Relation("=", lhs, _scalar(sides[-1]).value)
    if len(operators) == 1:
        return Relation(operators[0], _scalar(sides[0]).value, _scalar(sides[1]).value)
    if len(operators) == 2 and all(operator in ("<", "<=") for operator in operators):
        low, middle, high = (_scalar(side).value for side in sides)
        if not isinstance(middle, sympy.Symbol):
            raise ParseError("chained inequality without a variable in the middle")
        return Region(sympy.Interval(low, high, operators[0] == "<", operators[1] == "<"))
    if len(operators) == 2 and all(operator in (">", ">=") for operator in operators):
        high, middle, low = (_scalar(side).value for side in sides)
        if not isinstance(middle, sympy.Symbol):
            raise ParseError("chained inequality without a variable in the middle")
        return Region(sympy.Interval(low, high, operators[1] == ">", operators[0] == ">"))
    raise ParseError("mixed relation chain")


def _items(text: str) -> list[Value]:
    values: list[Value] = []
    for part in _split(text, ","):
        part = part.strip()
        if not part:
            raise ParseError("empty item")
        values.extend(_plus_minus(part))
    return values


def _plus_minus(text: str) -> list[Value]:
    """Expands `a \\pm b` into its two values."""
    if "\\pm" not in text and "\\mp" not in text:
        return [parse(text)]
    plus = text.replace("\\pm", "+", 1).replace("\\mp", "-", 1)
    minus = text.replace("\\pm", "-", 1).replace("\\mp", "+", 1)
    return [*_plus_minus(plus), *_plus_minus(minus)]


def parse(text: str) -> Value:
    """Parses a cleaned answer string; raises `ParseError` (or `TooLarge`) when it cannot."""
    text = text.strip().rstrip(".").strip()
    if not text:
        raise ParseError("empty answer")
    choice = _CHOICE.match(text) or _OPTION.match(text)
    if choice:
        return Choice(next(letter for letter in choice.groups() if letter).upper())
    verdict = yes_no(text)
    if verdict is not None:
        return Text(verdict)
    number = spelled_number(text) if _WORDS.fullmatch(text) else None
    if number is not None:  # before " and " splits "one hundred and five"
        return parse(number)
    alternatives = _split(text, " or ")
    if len(alternatives) > 1:
        roots = _roots(alternatives)
        if roots is not None:  # `x = 2 or x = 3` states the solution set {2, 3}
            return Items("list", roots)
        regions = [_region_or_none(part.strip()) for part in alternatives]
        if any(region is None for region in regions):
            raise Hedge(text)
        return Region(sympy.Union(*(region.value for region in regions)))
    if len(_split(text, " and ")) > 1:
        text = ",".join(_split(text, " and "))
    label = _MEMBER.match(text) or _TUPLE_NAME.match(text)  # `x \in [2, 5)`, `(a, b) = (1, 2)`
    if label:
        text = text[label.end() :].strip()
    unions = _split(text, "\\cup")
    if len(unions) > 1:
        return Region(sympy.Union(*(_region(part.strip()).value for part in unions)))
    if text in ("\\emptyset", "\\reals"):
        return _region(text)
    wrapper = _wrapped(text)
    if wrapper is not None:
        inner = text[len(wrapper[0]) : len(text) - len(wrapper[1])].strip()
        if wrapper[0] == "\\{":
            return Items("set", tuple(_items(inner))) if inner else Region(sympy.EmptySet)
        parts = _split(inner, ",")
        if len(parts) == 2 and wrapper != ("(", ")"):
            return _interval(wrapper[0], parts[0], parts[1], wrapper[1])
        if len(parts) >= 2:
            return Items("tuple", tuple(_items(inner)), open_pair=len(parts) == 2 and wrapper == ("(", ")"))
    if len(_split(text, ",")) > 1:
        return Items("list", tuple(_items(text)))
    if "\\pm" in text or "\\mp" in text:
        return Items("list", tuple(_plus_minus(text)))
    found = _top_level(text, _RELATIONS)
    if found:
        return _relation(text, found)
    if _WORDS.fullmatch(text) and any(word not in _MATH_WORDS for word in _WORD.findall(text)):
        return _worded(text)
    try:
        return _scalar(text)
    except ParseError:
        if _WORDS.fullmatch(text):
            return _worded(text)
        raise


def _worded(text: str) -> Value:
    """An answer in words: all reals or no solution, else short text (numbers are read in `parse`)."""
    named = real_set(text)
    if named is not None:
        return Region(sympy.Reals if named == REALS else sympy.EmptySet)
    return Text(re.sub(r"[^a-z0-9]", "", text.lower()))


def _roots(alternatives: list[str]) -> tuple[Scalar, ...] | None:
    """The values of `x = a or x = b` (one variable assigned in every part), else None."""
    try:
        values = [parse(part.strip()) for part in alternatives]
    except ParseError:
        return None
    if not all(isinstance(value, Relation) and value.operator == "=" for value in values):
        return None
    if len({value.lhs for value in values}) != 1 or not isinstance(values[0].lhs, sympy.Symbol):
        return None
    return tuple(Scalar(value.rhs) for value in values)


def _region_or_none(text: str) -> Region | None:
    """`text` as a region: an interval, a set, `x \\in (2, 5)` or an inequality; else None."""
    try:
        value = parse(text)
        return relation_region(value) if isinstance(value, Relation) else _as_region(value)
    except ParseError:
        return None


def relation_region(relation: Relation) -> Region | None:
    """The solution set of a one-variable inequality such as `x > 5` or `5 <= x`, else None."""
    if relation.operator == "=":
        return None
    symbols = (relation.lhs - relation.rhs).free_symbols
    if len(symbols) != 1:
        return None
    variable = next(iter(symbols))
    condition = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge, "!=": sympy.Ne}[
        relation.operator
    ]
    try:
        solution = sympy.solveset(condition(relation.lhs, relation.rhs), variable, sympy.Reals)
    except (NotImplementedError, ValueError, TypeError):
        return None
    return Region(solution) if isinstance(solution, (sympy.Interval, sympy.Union, sympy.FiniteSet)) else None


def parse_answer(text: str) -> Value:
    """Cleans and parses an answer; raises `ParseError` or `TooLarge` when it cannot."""
    check_text(text)
    return parse(clean(text))
