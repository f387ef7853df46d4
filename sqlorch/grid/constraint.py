"""Constraints on a grid's parameter combinations, written as expressions: "fast < slow".

An expression may use the grid's parameter names, numbers, strings, true/false, arithmetic
(+ - * / // % **), comparisons (chains like "5 <= fast < slow" too) and and/or/not. It is
parsed once and checked without `eval`: nothing else (calls, attributes, subscripts) is
allowed, so a configuration file can never run code through it.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlorch.errors import did_you_mean

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_NAMED_CONSTANTS = {"true": True, "false": False, "True": True, "False": False}

Evaluate = Callable[[Mapping[str, Any]], Any]


class Expression:
    """A parsed constraint: call it with a combination's parameters to decide if it is kept.

    Raises ValueError at construction for a syntax error, a construct that is not allowed or
    a name that is not one of `names` (with a "did you mean" hint).
    """

    def __init__(self, text: str, names: Sequence[str]):
        self.text = text
        self.names = tuple(names)
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"{text!r} is not a valid expression ({exc.msg}); write it like \"fast < slow\"") from None
        self._evaluate = self._compile(tree.body)

    def __call__(self, params: Mapping[str, Any]) -> bool:
        return bool(self._evaluate(params))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def _compile(self, node: ast.AST) -> Evaluate:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            value = node.value
            return lambda params: value
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            apply, left, right = _BINARY[type(node.op)], self._compile(node.left), self._compile(node.right)
            return lambda params: apply(left(params), right(params))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            apply_one, operand = _UNARY[type(node.op)], self._compile(node.operand)
            return lambda params: apply_one(operand(params))
        if isinstance(node, ast.BoolOp):
            parts = [self._compile(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda params: all(part(params) for part in parts)
            return lambda params: any(part(params) for part in parts)
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            terms = [self._compile(node.left)] + [self._compile(c) for c in node.comparators]
            tests = [_COMPARE[type(op)] for op in node.ops]

            def compare(params: Mapping[str, Any]) -> bool:
                values = [term(params) for term in terms]
                return all(test(a, b) for test, a, b in zip(tests, values, values[1:]))
            return compare
        shown = ast.get_source_segment(self.text.strip(), node) or type(node).__name__
        raise ValueError(f"{self.text!r}: {shown!r} is not allowed; use parameter names, numbers, "
                         "comparisons, and/or/not and + - * /")

    def _name(self, name: str) -> Evaluate:
        if name in self.names:
            return lambda params: params[name]
        if name in _NAMED_CONSTANTS:
            value = _NAMED_CONSTANTS[name]
            return lambda params: value
        raise ValueError(f"{self.text!r}: {name!r} is not a parameter of the grid{did_you_mean(name, self.names)}; "
                         f"parameters are {', '.join(self.names) or 'none'}")
