"""The case table: every (gold, response, expected) judgement, plus the table-wide bar."""

import time

import cases_extraction
import cases_forms
import cases_model_written
import cases_numbers
import cases_structures
import cases_written
import pytest

from lit_rlvr.verifiers.math import score, verify

_MODULES = (
    cases_numbers,
    cases_structures,
    cases_forms,
    cases_extraction,
    cases_written,
    cases_model_written,
)
TABLE = [
    pytest.param(gold, response, expected, id=f"{module.__name__[6:]}-{index}")
    for module in _MODULES
    for index, (gold, response, expected) in enumerate(module.CASES)
]


@pytest.mark.parametrize(("gold", "response", "expected"), TABLE)
def test_case(gold, response, expected):
    start = time.monotonic()
    verdict = verify(response, gold)
    assert time.monotonic() - start < 5
    assert verdict.correct is expected, verdict
    assert score(response, gold) == float(expected)


def test_table_is_broad_and_balanced():
    expectations = [param.values[2] for param in TABLE]
    assert len(expectations) >= 300
    assert 0.3 < sum(expectations) / len(expectations) < 0.8
