"""Symbolic parameters: arithmetic, functions, binding, printing and parsing."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qvalley import Parameter, ParameterError, ParameterExpression
from qvalley.circuit import cos, exp, ln, sin, sqrt, tan

a, b = Parameter("a"), Parameter("b")

FUNCS = [(sin, math.sin), (cos, math.cos), (tan, math.tan), (exp, math.exp),
         (lambda x: ln(exp(x)), lambda x: x), (lambda x: sqrt(x * x + 1), lambda x: math.sqrt(x * x + 1))]


@st.composite
def exprs(draw: st.DrawFn, depth: int = 3) -> tuple[object, object]:
    """Pairs (expression over a, b; the same computed on floats as a function)."""
    if depth == 0 or draw(st.booleans()):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            return a, lambda va, vb: va
        if choice == 1:
            return b, lambda va, vb: vb
        v = draw(st.floats(-3, 3, allow_nan=False))
        return v, lambda va, vb, v=v: v
    (e1, f1), (e2, f2) = draw(exprs(depth - 1)), draw(exprs(depth - 1))
    op = draw(st.sampled_from("+-*f"))
    if op == "+":
        return e1 + e2, lambda va, vb: f1(va, vb) + f2(va, vb)
    if op == "-":
        return e1 - e2, lambda va, vb: f1(va, vb) - f2(va, vb)
    if op == "*":
        return e1 * e2, lambda va, vb: f1(va, vb) * f2(va, vb)
    fn, ref = draw(st.sampled_from(FUNCS[:3]))
    return fn(e1), lambda va, vb: ref(f1(va, vb))


@settings(max_examples=200, deadline=None)
@given(exprs(), st.floats(-2, 2), st.floats(-2, 2))
def test_binding_matches_float_arithmetic(pair: tuple, va: float, vb: float) -> None:
    expr, ref = pair
    want = ref(va, vb)
    got = expr.bind({"a": va, "b": vb}) if isinstance(expr, ParameterExpression) else expr
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(exprs(), st.floats(-2, 2), st.floats(-2, 2))
def test_text_form_parses_back_to_the_same_value(pair: tuple, va: float, vb: float) -> None:
    expr, _ = pair
    if not isinstance(expr, ParameterExpression):
        return
    back = ParameterExpression.parse(str(expr))
    got = back.bind({"a": va, "b": vb}) if isinstance(back, ParameterExpression) else back
    assert got == pytest.approx(expr.bind({"a": va, "b": vb}), rel=1e-9, abs=1e-9)


def test_printing_uses_minimal_parentheses() -> None:
    assert str(a - (b - 1)) == "a - (b - 1.0)"
    assert str((a + b) * 2) == "(a + b)*2.0"
    assert str(-a ** 2) == "-a**2.0"
    assert str(a / (b * 2)) == "a/(b*2.0)"
    assert str(a + (b - 1)) == "a + (b - 1.0)"
    assert str((a + b) - 1) == "a + b - 1.0"


@settings(max_examples=200, deadline=None)
@given(exprs())
def test_text_form_round_trips_to_an_equal_tree(pair: tuple) -> None:
    expr, _ = pair
    if isinstance(expr, ParameterExpression) and expr.parameters:
        assert ParameterExpression.parse(str(expr)) == expr


def test_unbound_and_bad_expressions_are_errors() -> None:
    with pytest.raises(ParameterError, match="unbound parameters: a"):
        float(2 * a)
    with pytest.raises(ParameterError, match="malformed expression"):
        ParameterExpression.parse("a +")
    with pytest.raises(ParameterError, match="unsupported"):
        ParameterExpression.parse("__import__('os')")
    with pytest.raises(ParameterError):
        (ln(a)).bind({"a": -1.0})
    with pytest.raises(ParameterError, match="finite"):
        a + float("inf")
    with pytest.raises(ParameterError, match="finite"):
        (2 * a).bind({"a": float("nan")})


def test_parse_knows_constants_and_power_caret() -> None:
    assert ParameterExpression.parse("pi/2") == pytest.approx(math.pi / 2)
    assert ParameterExpression.parse("2^3") == 8.0
    e = ParameterExpression.parse("sin(theta)*2")
    assert isinstance(e, ParameterExpression) and e.parameters == {Parameter("theta")}
