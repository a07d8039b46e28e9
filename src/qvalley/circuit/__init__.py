"""Circuit value types: :class:`Circuit`, gates, symbolic parameters and observables."""

from .circuit import Circuit, Condition, Operation, Register
from .gates import (
    ALIASES,
    GATES,
    Barrier,
    Gate,
    GateSpec,
    Instruction,
    Measure,
    OpaqueGate,
    Reset,
    UnitaryGate,
)
from .observable import Observable, PauliTerm
from .parameter import Parameter, ParameterExpression, cos, exp, ln, sin, sqrt, tan

__all__ = [
    "ALIASES",
    "GATES",
    "Barrier",
    "Circuit",
    "Condition",
    "Gate",
    "GateSpec",
    "Instruction",
    "Measure",
    "Observable",
    "OpaqueGate",
    "Operation",
    "Parameter",
    "ParameterExpression",
    "PauliTerm",
    "Register",
    "Reset",
    "UnitaryGate",
    "cos",
    "exp",
    "ln",
    "sin",
    "sqrt",
    "tan",
]
