"""Constraint expressions: what they may say, how they evaluate, and what they refuse."""

from __future__ import annotations

import pytest

from sqlorch.grid.constraint import Expression


@pytest.mark.parametrize(("text", "params", "kept"), [
    ("fast < slow", {"fast": 5, "slow": 30}, True),
    ("5 <= fast < slow / 2", {"fast": 5, "slow": 10}, False),
    ("slow - fast >= 10 and fast % 5 == 0", {"fast": 10, "slow": 20}, True),
    ("fast * 2 ** 2 > slow // 1 or not kind == 'fast'", {"fast": 1, "slow": 9, "kind": "slow"}, True),
    ("-fast < +slow and flag == true", {"fast": 1, "slow": 2, "kind": "x", "flag": True}, True),
    ("flag != False", {"fast": 1, "slow": 2, "kind": "x", "flag": False}, False),
])
def test_expressions_evaluate_on_the_parameters(text, params, kept):
    assert Expression(text, ["fast", "slow", "kind", "flag"])(params) is kept


@pytest.mark.parametrize(("text", "message"), [
    ("fast.real > 1", "'fast.real' is not allowed"),
    ("open('x')", "is not allowed"),
    ("fast[0] > 1", "is not allowed"),
    ("fast in (1, 2)", "is not allowed"),
    ("lambda: 1", "is not allowed"),
    ("speed < 3", "'speed' is not a parameter of the grid; parameters are fast"),
    ("fast <", "is not a valid expression"),
])
def test_anything_else_is_refused(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        Expression(text, ["fast"])


def test_no_parameters_and_repr():
    with pytest.raises(ValueError, match="parameters are none"):
        Expression("x > 1", [])
    assert repr(Expression("1 < 2", [])) == "Expression('1 < 2')"
