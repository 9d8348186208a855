"""Whether a predicted value equals the gold value, comparing like with like.

The gold's shape leads: a gold `x = 3` accepts `3`, a gold `2x + z = 1` does not accept `1`; a
gold interval accepts the equivalent inequality (mathematically the same set; we do not follow
math-verify's refusal); a set never equals a tuple; units must agree when both sides give one; a
choice letter is matched in either case.
"""

from __future__ import annotations

import sympy

from lit_rlvr.verifiers.numeric import decimal_equal, exact_equal, proportional
from lit_rlvr.verifiers.parse import open_interval, relation_region
from lit_rlvr.verifiers.values import Choice, Items, Region, Relation, Scalar, Text, Value

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


def _scalar_values_equal(gold: Scalar, pred: Scalar) -> bool:
    if isinstance(gold.value, sympy.MatrixBase) or isinstance(pred.value, sympy.MatrixBase):
        return (
            isinstance(gold.value, sympy.MatrixBase)
            and isinstance(pred.value, sympy.MatrixBase)
            and gold.value.shape == pred.value.shape
            and all(exact_equal(g, p) for g, p in zip(gold.value, pred.value, strict=True))
        )
    if gold.decimals is None and pred.decimals is None:
        return exact_equal(gold.value, pred.value)
    return decimal_equal(gold.value, gold.decimals, pred.value, pred.decimals)


def scalars_equal(gold: Scalar, pred: Scalar) -> bool:
    """Numbers and expressions; a percent sign or unit on one side only is a marker, not a factor."""
    if gold.unit and pred.unit and gold.unit != pred.unit:
        return False
    candidates = [pred]
    if pred.percent and not gold.percent:
        candidates.append(Scalar(pred.value / 100, None if pred.decimals is None else pred.decimals + 2))
    if gold.percent and not pred.percent:  # a gold of 20% accepts 0.2; a gold of 20 never does
        candidates.append(
            Scalar(pred.value * 100, None if pred.decimals is None else max(0, pred.decimals - 2))
        )
    return any(_scalar_values_equal(gold, candidate) for candidate in candidates)


def _relations_equal(gold: Relation, pred: Relation) -> bool:
    if pred.operator != gold.operator:
        pred = Relation(_FLIP[pred.operator], pred.rhs, pred.lhs)
    if pred.operator != gold.operator:
        return False
    gold_side, pred_side = gold.lhs - gold.rhs, pred.lhs - pred.rhs
    if gold.operator in ("=", "!="):
        return exact_equal(gold_side, pred_side) or proportional(gold_side, pred_side, positive=False)
    return exact_equal(gold_side, pred_side) or proportional(gold_side, pred_side, positive=True)


def _assigned(relation: Relation) -> sympy.Expr | None:
    """The value of an assignment `x = 3` (a bare variable on the left), else None."""
    if relation.operator == "=" and isinstance(relation.lhs, sympy.Symbol):
        return relation.rhs
    return None


def _items_equal(gold: Items, pred: Items) -> bool:
    if (
        len(gold.items) != len(pred.items)
        or "set" in (gold.kind, pred.kind)
        and "tuple" in (gold.kind, pred.kind)
    ):
        return False
    if "tuple" in (gold.kind, pred.kind):
        return all(equivalent(g, p) for g, p in zip(gold.items, pred.items, strict=True))
    unused = list(pred.items)
    for item in gold.items:
        match = next((index for index, candidate in enumerate(unused) if equivalent(item, candidate)), None)
        if match is None:
            return False
        unused.pop(match)
    return True


def _as_region(value: Value) -> Region | None:
    if isinstance(value, Region):
        return value
    if isinstance(value, Relation):
        return relation_region(value)
    if isinstance(value, Items) and value.open_pair:
        return open_interval(value)
    return None


def _letter(value: Value) -> Choice | None:
    """A bare letter `b` (a Symbol, or `e` and `i` as SymPy reads them) as a choice, else None."""
    if isinstance(value, Scalar) and not value.unit and not value.percent:
        name = value.value.name if isinstance(value.value, sympy.Symbol) else ""
        name = "e" if value.value == sympy.E else "i" if value.value == sympy.I else name
        if len(name) == 1 and name.upper() in "ABCDEFGHIJ":
            return Choice(name.upper())
    return None


def equivalent(gold: Value, pred: Value) -> bool:
    """True when `pred` states the same answer as `gold`."""
    if isinstance(gold, Choice) or isinstance(pred, Choice):  # `b` answers the choice (B), either case
        return (_letter(gold) or gold) == (_letter(pred) or pred)
    if isinstance(gold, Text) or isinstance(pred, Text):
        return gold == pred
    if isinstance(gold, Scalar) and isinstance(pred, Scalar):
        return scalars_equal(gold, pred)
    if isinstance(gold, Relation) and isinstance(pred, Relation):
        if (gold.lhs - gold.rhs).free_symbols != (pred.lhs - pred.rhs).free_symbols:
            return False  # `y = 2` is not `x = 2`
        return _relations_equal(gold, pred) or _regions_equal(gold, pred)
    if isinstance(gold, Relation) and isinstance(pred, Scalar):
        value = _assigned(gold)
        return value is not None and scalars_equal(Scalar(value), pred)
    if isinstance(gold, Scalar) and isinstance(pred, Relation):
        value = _assigned(pred)
        return value is not None and scalars_equal(gold, Scalar(value))
    if isinstance(gold, Items) and isinstance(pred, Items):
        return _items_equal(gold, pred)
    if isinstance(gold, Items) and len(gold.items) == 1 and not isinstance(pred, Items):
        return equivalent(gold.items[0], pred)
    if isinstance(pred, Items) and len(pred.items) == 1 and not isinstance(gold, Items):
        return equivalent(gold, pred.items[0])
    return _regions_equal(gold, pred)


def _regions_equal(gold: Value, pred: Value) -> bool:
    gold_region, pred_region = _as_region(gold), _as_region(pred)
    return gold_region is not None and pred_region is not None and gold_region.value == pred_region.value
