"""Typed answer values: what a final answer means, independent of how it was written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

import sympy

RelationOperator = Literal["=", "<", "<=", ">", ">=", "!="]
ItemsKind = Literal["tuple", "set", "list"]


@dataclass(frozen=True)
class Scalar:
    """A number, expression or matrix, with what was written around it.

    Attributes:
        value: the exact SymPy value; decimals are stored as exact rationals.
        decimals: digits after the decimal point when written as a plain decimal, else None.
        unit: canonical unit name, None when absent.
        percent: whether a percent sign followed it.
    """

    value: sympy.Basic
    decimals: int | None = None
    unit: str | None = None
    percent: bool = False


@dataclass(frozen=True)
class Relation:
    """An equation or inequality `lhs operator rhs`."""

    operator: RelationOperator
    lhs: sympy.Expr
    rhs: sympy.Expr


@dataclass(frozen=True)
class Region:
    """A subset of the real line: an interval, a union of intervals or the empty set."""

    value: sympy.Set


@dataclass(frozen=True)
class Items:
    """Several answers: an ordered tuple, a set, or a bare comma-separated list (unordered).

    `open_pair` marks `(a, b)`, which reads as an open interval when compared with a region.
    """

    kind: ItemsKind
    items: tuple[Value, ...]
    open_pair: bool = False


@dataclass(frozen=True)
class Choice:
    """A multiple-choice letter."""

    letter: str


@dataclass(frozen=True)
class Text:
    """A short textual answer, lower-cased with spacing and punctuation removed."""

    text: str


Value = Union[Scalar, Relation, Region, Items, Choice, Text]  # noqa: UP007 - used at runtime
