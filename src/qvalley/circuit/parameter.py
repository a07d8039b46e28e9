"""Symbolic parameters: :class:`Parameter` and expressions built from them.

An expression is an immutable tree. Arithmetic (``+ - * / **`` and unary ``-``) and the functions
:func:`sin`, :func:`cos`, :func:`tan`, :func:`exp`, :func:`ln`, :func:`sqrt` (plus ``asin``,
``acos``, ``atan``) build new trees; :meth:`ParameterExpression.bind` substitutes numbers.

Examples:
    >>> theta = Parameter("theta")
    >>> e = 2 * theta + sin(theta)
    >>> str(e)
    '2.0*theta + sin(theta)'
    >>> round(e.bind({"theta": 0.5}), 6)
    1.479426
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from typing import Union

from .._errors import ParameterError

ParamValue = Union[float, "ParameterExpression"]

_FUNCS = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "exp": math.exp,
    "ln": math.log,
    "sqrt": math.sqrt,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
}
_BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}
# Binding power of each operator, for printing with the fewest parentheses.
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "**": 4}


def _num(x: object) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ParameterError(f"expected a number or a parameter expression, got {x!r}")
    v = float(x)
    if not math.isfinite(v):
        raise ParameterError(f"expected a finite number, got {v}")
    return v


class ParameterExpression:
    """An expression over :class:`Parameter` leaves. Immutable; compare with ``==`` structurally."""

    __slots__ = ("_args", "_op")

    def __init__(self, op: str, args: tuple[object, ...]) -> None:
        self._op = op
        self._args = args

    # ---- construction -------------------------------------------------------------------------
    @staticmethod
    def _wrap(x: object) -> ParameterExpression:
        if isinstance(x, ParameterExpression):
            return x
        return ParameterExpression("const", (_num(x),))

    def _binary(self, op: str, other: object, swap: bool = False) -> ParameterExpression:
        if not isinstance(other, ParameterExpression):
            if isinstance(other, bool) or not isinstance(other, (int, float)):
                return NotImplemented  # type: ignore[return-value]
            other = _num(other)  # a non-finite number is a ParameterError
        a, b = (other, self) if swap else (self, other)
        return ParameterExpression(op, (self._wrap(a), self._wrap(b)))

    def __add__(self, o: object) -> ParameterExpression:
        return self._binary("+", o)

    def __radd__(self, o: object) -> ParameterExpression:
        return self._binary("+", o, True)

    def __sub__(self, o: object) -> ParameterExpression:
        return self._binary("-", o)

    def __rsub__(self, o: object) -> ParameterExpression:
        return self._binary("-", o, True)

    def __mul__(self, o: object) -> ParameterExpression:
        return self._binary("*", o)

    def __rmul__(self, o: object) -> ParameterExpression:
        return self._binary("*", o, True)

    def __truediv__(self, o: object) -> ParameterExpression:
        return self._binary("/", o)

    def __rtruediv__(self, o: object) -> ParameterExpression:
        return self._binary("/", o, True)

    def __pow__(self, o: object) -> ParameterExpression:
        return self._binary("**", o)

    def __rpow__(self, o: object) -> ParameterExpression:
        return self._binary("**", o, True)

    def __neg__(self) -> ParameterExpression:
        return ParameterExpression("neg", (self,))

    def __pos__(self) -> ParameterExpression:
        return self

    # ---- inspection ---------------------------------------------------------------------------
    @property
    def parameters(self) -> frozenset[Parameter]:
        """The free :class:`Parameter` s of this expression."""
        if isinstance(self, Parameter):
            return frozenset((self,))
        if self._op == "const":
            return frozenset()
        out: frozenset[Parameter] = frozenset()
        for a in self._args:
            out |= _node(a).parameters
        return out

    def bind(self, values: Mapping[Parameter | str, float]) -> ParamValue:
        """Substitute numbers for parameters (keyed by :class:`Parameter` or by name).

        Returns a float when no free parameter is left, else a smaller expression.
        """
        by_name = {(k.name if isinstance(k, Parameter) else str(k)): v for k, v in values.items()}
        result = self._subst(by_name)
        if not result.parameters:
            return result._eval()
        return result

    def _subst(self, by_name: Mapping[str, object]) -> ParameterExpression:
        if isinstance(self, Parameter):
            if self.name in by_name:
                return self._wrap(by_name[self.name])
            return self
        if self._op == "const":
            return self
        args = tuple(_node(a)._subst(by_name) for a in self._args)
        return ParameterExpression(self._op, args)

    def _eval(self) -> float:
        op = self._op
        if op == "const":
            return float(self._args[0])  # type: ignore[arg-type]
        if isinstance(self, Parameter):
            raise ParameterError(f"parameter '{self.name}' is not bound to a value")
        vals = [_node(a)._eval() for a in self._args]
        try:
            if op == "neg":
                return -vals[0]
            if op in _BINARY:
                return float(_BINARY[op](vals[0], vals[1]))
            return float(_FUNCS[op](vals[0]))
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            raise ParameterError(f"cannot evaluate {self}: {exc}") from None

    def __float__(self) -> float:
        free = self.parameters
        if free:
            names = ", ".join(sorted(p.name for p in free))
            raise ParameterError(f"expression '{self}' has unbound parameters: {names}")
        return self._eval()

    # ---- value semantics ----------------------------------------------------------------------
    def _key(self) -> tuple[object, ...]:
        if isinstance(self, Parameter):
            return ("param", self.name)
        if self._op == "const":
            return ("const", self._args[0])
        return (self._op, *(_node(a)._key() for a in self._args))

    def __eq__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, ParameterExpression):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _text(self, functions: Mapping[str, str]) -> tuple[str, int]:
        op = self._op
        if isinstance(self, Parameter):
            return self.name, 9
        if op == "const":
            v = float(self._args[0])  # type: ignore[arg-type]
            return (repr(v), 9) if v >= 0 else (f"({v!r})", 9)
        if op in _FUNCS:
            return f"{functions.get(op, op)}({_node(self._args[0])._text(functions)[0]})", 9
        if op == "neg":
            inner, p = _node(self._args[0])._text(functions)
            return ("-" + (inner if p >= _PREC["neg"] else f"({inner})")), _PREC["neg"]
        prec = _PREC[op]
        (ls, lp), (rs, rp) = (_node(a)._text(functions) for a in self._args)
        # left-assoc for + - * /, right-assoc for **
        if lp < prec or (op == "**" and lp == prec):
            ls = f"({ls})"
        # the right operand keeps its brackets at equal precedence so the text parses back to
        # the same tree (a + (b - c) must not print as a + b - c)
        if rp < prec or (rp == prec and op != "**"):
            rs = f"({rs})"
        sep = " " if prec == 1 else ""
        return f"{ls}{sep}{op}{sep}{rs}", prec

    def to_text(self, functions: Mapping[str, str] | None = None) -> str:
        """Infix text with ``**`` for power that parses back to the same tree.

        ``functions`` renames functions for another syntax (e.g. ``{"ln": "log"}``).
        """
        return self._text(functions or {})[0]

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"ParameterExpression.parse({str(self)!r})"

    # ---- parsing ------------------------------------------------------------------------------
    @staticmethod
    def parse(text: str) -> ParamValue:
        """Parse an infix expression such as ``'2*theta + sin(phi/2)'``.

        Identifiers other than ``pi``/``tau``/``e`` and the function names become parameters.
        ``^`` is power, as in OpenQASM. Returns a float when the text has no parameter.
        """
        try:
            tree = ast.parse(text.replace("^", "**"), mode="eval")
        except SyntaxError as exc:
            raise ParameterError(f"malformed expression {text!r}: {exc.msg}") from None
        value = _from_ast(tree.body, text)
        if isinstance(value, ParameterExpression) and not value.parameters:
            return float(value)
        return value


def _node(a: object) -> ParameterExpression:
    assert isinstance(a, ParameterExpression)
    return a


class Parameter(ParameterExpression):
    """A named free parameter. Two parameters with the same name are equal.

    Examples:
        >>> Parameter("a") == Parameter("a")
        True
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not name or not (name[0].isalpha() or name[0] == "_"):
            raise ParameterError(f"invalid parameter name {name!r}")
        super().__init__("param", ())
        self.name = name

    def __repr__(self) -> str:
        return f"Parameter({self.name!r})"


_CONSTS = {"pi": math.pi, "tau": 2 * math.pi, "e": math.e, "π": math.pi}


def _from_ast(node: ast.AST, text: str) -> ParamValue:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(
        node.value, bool
    ):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id in _CONSTS:
            return _CONSTS[node.id]
        return Parameter(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _from_ast(node.operand, text)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        a, b = _from_ast(node.left, text), _from_ast(node.right, text)
        ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
        op = ops.get(type(node.op))
        if op is None:
            raise ParameterError(f"unsupported operator in expression {text!r}")
        if isinstance(a, float) and isinstance(b, float):
            try:
                return float(_BINARY[op](a, b))
            except (ZeroDivisionError, OverflowError) as exc:
                raise ParameterError(f"cannot evaluate {text!r}: {exc}") from None
        return ParameterExpression(op, (ParameterExpression._wrap(a), ParameterExpression._wrap(b)))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
        name = {"log": "ln", "arcsin": "asin", "arccos": "acos", "arctan": "atan"}.get(
            node.func.id, node.func.id
        )
        if name in _FUNCS and not node.keywords:
            return apply_function(name, _from_ast(node.args[0], text))
    raise ParameterError(f"unsupported syntax in expression {text!r}")


def apply_function(name: str, x: ParamValue) -> ParamValue:
    """Apply one of the supported functions (``sin``, ``cos``, ``tan``, ``exp``, ``ln``, ``sqrt``,
    ``asin``, ``acos``, ``atan``) to a number or an expression."""
    if name not in _FUNCS:
        raise ParameterError(f"unknown function '{name}'")
    if isinstance(x, ParameterExpression):
        if not x.parameters:
            x = float(x)
        else:
            return ParameterExpression(name, (x,))
    try:
        return float(_FUNCS[name](x))
    except (ValueError, OverflowError) as exc:
        raise ParameterError(f"cannot evaluate {name}({x!r}): {exc}") from None


def sin(x: ParamValue) -> ParamValue:
    """Sine of a number or expression."""
    return apply_function("sin", x)


def cos(x: ParamValue) -> ParamValue:
    """Cosine of a number or expression."""
    return apply_function("cos", x)


def tan(x: ParamValue) -> ParamValue:
    """Tangent of a number or expression."""
    return apply_function("tan", x)


def exp(x: ParamValue) -> ParamValue:
    """Exponential of a number or expression."""
    return apply_function("exp", x)


def ln(x: ParamValue) -> ParamValue:
    """Natural logarithm of a number or expression."""
    return apply_function("ln", x)


def sqrt(x: ParamValue) -> ParamValue:
    """Square root of a number or expression."""
    return apply_function("sqrt", x)


def bind_value(value: ParamValue, values: Mapping[Parameter | str, float]) -> ParamValue:
    """Bind ``values`` into a number or expression (numbers pass through)."""
    if isinstance(value, ParameterExpression):
        return value.bind(values)
    return value


def value_to_json(value: ParamValue) -> float | str:
    """A parameter value for JSON: floats stay numbers, expressions become their text."""
    return str(value) if isinstance(value, ParameterExpression) else float(value)


def value_from_json(value: object) -> ParamValue:
    """Inverse of :func:`value_to_json`."""
    if isinstance(value, str):
        return ParameterExpression.parse(value)
    return _num(value)
