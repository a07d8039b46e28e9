"""Circuit -> tensor network, with structure-only simplifications that can be replayed.

Bit order: qubit ``k`` is bit ``k`` of a basis index; in a bitstring qubit 0 is the rightmost
character. A gate matrix has operand ``j`` = bit ``j`` of its row/column index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..._errors import SimulationError
from ...circuit import Circuit
from ...circuit.gates import Gate
from ..statevector.engine import _phase_value, split_terminal_measurements


class TensorNetworkError(SimulationError):
    """A circuit cannot be turned into a tensor network, or a contraction request is malformed."""


@dataclass
class Network:
    """A tensor network: ``arrays[i]`` carries index names ``inputs[i]``; ``output`` are open legs.

    ``variable[i]`` marks tensors that depend on the requested output bitstring (the rest are
    the same for every amplitude of the circuit, so their contractions can be cached).
    """

    arrays: list[np.ndarray]
    inputs: list[tuple[str, ...]]
    output: tuple[str, ...]
    size_dict: dict[str, int]
    variable: list[bool] = field(default_factory=list)
    open_qubits: tuple[int, ...] = ()


def _symbol(i: int) -> str:
    base = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return base[i] if i < 52 else chr(i + 140)


_BASIS = (np.array([1.0, 0.0], dtype=np.complex128), np.array([0.0, 1.0], dtype=np.complex128))


def _gate_ops(circuit: Circuit) -> list[tuple[np.ndarray, tuple[int, ...]]]:
    body, _ = split_terminal_measurements(circuit)
    out: list[tuple[np.ndarray, tuple[int, ...]]] = []
    for i, op in enumerate(body):
        g = op.gate
        if g.name == "barrier":
            continue
        if not isinstance(g, Gate) or op.condition is not None:
            raise TensorNetworkError(
                f"operation {i} ('{g.name}' on qubits {list(op.qubits)}) is not a unitary gate; "
                "the tensor-network method contracts unitary circuits with terminal measurements")
        try:
            m = g.matrix()
        except Exception as exc:  # unbound parameters
            raise TensorNetworkError(f"operation {i} ('{g.name}'): {exc}; bind parameters first") from None
        if g.name == "id" or np.allclose(m, np.eye(m.shape[0]), rtol=0, atol=1e-15):
            continue  # identity
        out.append((m, tuple(op.qubits)))
    return out


def build_network(circuit: Circuit, fixed: Mapping[int, int] | None = None,
                  open_qubits: Sequence[int] = (), split_rank: bool = True,
                  batch: int = 0) -> Network:
    """The network of ``<fixed| U |0...0>`` with ``open_qubits`` left as output legs.

    Every qubit not open must have a value in ``fixed`` (0/1). The output legs are ordered so that
    the contracted result, flattened C-order, has bit ``j`` = ``sorted(open_qubits)[j]``.
    Two-qubit gates whose operator-Schmidt rank is at most 2 (CZ, CP, CX ...) are split by SVD into
    two three-index tensors joined by a bond of size 2.

    With ``batch = B > 0`` the output vector of every fixed qubit is a ``(B, 2)`` tensor whose
    first axis is one index shared by all of them (a hyperindex) and kept as the first output
    leg: row ``r`` of those tensors is bitstring ``r`` of a batch, and the contracted result has
    shape ``(B, 2**k)`` (every row starts as ``fixed``; callers replace the leaves).
    """
    n = circuit.num_qubits
    opens = tuple(sorted(int(q) for q in open_qubits))
    fixed = dict(fixed or {})
    for q in range(n):
        if q not in opens and fixed.get(q) not in (0, 1):
            raise TensorNetworkError(f"qubit {q} needs an output value 0/1 or must be open")
    counter = [0]

    def new(prefix: str = "i") -> str:
        # one character per index (cotengra joins index names when it builds intermediates)
        counter[0] += 1
        return _symbol(counter[0])

    arrays: list[np.ndarray] = []
    inputs: list[tuple[str, ...]] = []
    variable: list[bool] = []
    wire = [new() for _ in range(n)]
    for q in range(n):
        arrays.append(_BASIS[0])
        inputs.append((wire[q],))
        variable.append(False)
    for m, qs in _gate_ops(circuit):
        k = len(qs)
        t = m.reshape((2,) * (2 * k))  # axes: out_{k-1}..out_0, in_{k-1}..in_0
        olds = [wire[q] for q in qs]
        news = [new() for _ in qs]
        if k == 2 and split_rank:
            # (o1, i1) x (o0, i0) matrix: rank <= 2 splits into two 3-index tensors
            mat = t.transpose(0, 2, 1, 3).reshape(4, 4)
            u, s, vh = np.linalg.svd(mat)
            r = int(np.sum(s > 1e-12 * s[0]))
            if r <= 2:
                bond = new("b")
                a = (u[:, :r] * np.sqrt(s[:r])).reshape(2, 2, r)
                b = (np.sqrt(s[:r])[:, None] * vh[:r]).reshape(r, 2, 2)
                arrays += [a, b]
                inputs += [(news[1], olds[1], bond), (bond, news[0], olds[0])]
                variable += [False, False]
                for q, w in zip(qs, news, strict=True):
                    wire[q] = w
                continue
        arrays.append(t)
        inputs.append(tuple(news[::-1]) + tuple(olds[::-1]))
        variable.append(False)
        for q, w in zip(qs, news, strict=True):
            wire[q] = w
    if batch < 0 or (batch and len(opens) == n):
        raise TensorNetworkError(f"batch must be >= 0 and needs a fixed qubit, got {batch} "
                                 f"with {len(opens)} of {n} qubits open")
    bix = new() if batch else ""
    for q in range(n):
        if q in opens:
            continue
        if batch:
            arrays.append(np.repeat(_BASIS[fixed[q]][None, :], batch, axis=0))
            inputs.append((bix, wire[q]))
        else:
            arrays.append(_BASIS[fixed[q]])
            inputs.append((wire[q],))
        variable.append(True)
    phase = np.exp(1j * _phase_value(circuit))
    if phase != 1:
        arrays[0] = arrays[0] * phase
    output = ((bix,) if batch else ()) + tuple(wire[q] for q in reversed(opens))
    size_dict = {ix: 2 for term in inputs for ix in term}
    for term, arr in zip(inputs, arrays, strict=True):
        for ix, d in zip(term, arr.shape, strict=True):
            size_dict[ix] = d
    return Network(arrays, inputs, output, size_dict, variable, opens)


@dataclass
class Simplified:
    """A network after rank simplification, plus the recipe to rebuild its arrays for new leaves.

    ``steps`` are ``(a, b, eq)``: contract tensor ids ``a`` and ``b`` (``np.einsum`` equation
    ``eq``) into a new id (appended). ``final`` lists the ids that remain, with ``inputs``.
    """

    leaves: int
    steps: list[tuple[int, int, str]]
    final: list[int]
    inputs: list[tuple[str, ...]]
    output: tuple[str, ...]
    size_dict: dict[str, int]
    variable: list[bool]
    variable_leaves: list[bool] = field(default_factory=list)  # per leaf, as Network.variable


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _eq(a: tuple[str, ...], b: tuple[str, ...], out: tuple[str, ...]) -> str:
    names: dict[str, str] = {}
    for ix in a + b:
        names.setdefault(ix, _LETTERS[len(names)])
    return ("".join(names[i] for i in a) + "," + "".join(names[i] for i in b) + "->"
            + "".join(names[i] for i in out))


def simplify(net: Network) -> Simplified:
    """Rank simplification: contract neighbours whenever the result is no larger than the larger
    operand (absorbs one-qubit gates into neighbours, folds the fixed input and output vectors).

    Only the structure decides the steps, so :func:`replay` rebuilds the arrays for another
    output bitstring of the same circuit with the same steps.
    """
    terms: dict[int, tuple[str, ...]] = dict(enumerate(net.inputs))
    var = dict(enumerate(net.variable))
    where: dict[str, set[int]] = {}
    for t, term in terms.items():
        for ix in term:
            where.setdefault(ix, set()).add(t)
    out_set = set(net.output)
    steps: list[tuple[int, int, str]] = []
    nxt = len(terms)

    def size(term: tuple[str, ...]) -> int:
        return int(np.prod([net.size_dict[i] for i in term])) if term else 1

    changed = True
    while changed:
        changed = False
        for t in sorted(terms, key=lambda k: len(terms[k])):
            if t not in terms:
                continue
            best = None
            for ix in terms[t]:
                for o in where[ix]:
                    if o == t:
                        continue
                    a, b = terms[t], terms[o]
                    shared = set(a) & set(b)
                    keep = tuple(i for i in a + b if (i not in shared or i in out_set
                                                      or len(where[i]) > 2))
                    keep = tuple(dict.fromkeys(keep))
                    if (size(keep) <= max(size(a), size(b)) and len(keep) <= 30
                            and (best is None or size(keep) < best[1])):
                        best = (o, size(keep), keep)
            if best is None:
                continue
            o, _, keep = best
            eq = _eq(terms[t], terms[o], keep)
            steps.append((t, o, eq))
            for k in (t, o):
                for ix in terms[k]:
                    where[ix].discard(k)
            terms[nxt] = keep
            var[nxt] = var.pop(t) or var.pop(o)
            del terms[t], terms[o]
            for ix in keep:
                where.setdefault(ix, set()).add(nxt)
            nxt += 1
            changed = True
    final = sorted(terms)
    return Simplified(len(net.arrays), steps, final, [terms[k] for k in final], net.output,
                      dict(net.size_dict), [var[k] for k in final], list(net.variable))


def replay(simp: Simplified, leaves: Sequence[np.ndarray], variable_leaves: Sequence[bool],
           cache: dict[int, np.ndarray] | None = None) -> list[np.ndarray]:
    """The simplified network's arrays for ``leaves``; results that do not depend on a variable
    leaf are memoised in ``cache`` (shared between bitstrings of one circuit)."""
    arrs: dict[int, np.ndarray] = dict(enumerate(leaves))
    var = dict(enumerate(variable_leaves))
    nxt = simp.leaves
    for a, b, eq in simp.steps:
        v = var[a] or var[b]
        if not v and cache is not None and nxt in cache:
            arrs[nxt] = cache[nxt]
        else:
            arrs[nxt] = np.einsum(eq, arrs[a], arrs[b])
            if not v and cache is not None:
                cache[nxt] = arrs[nxt]
        var[nxt] = v
        nxt += 1
    return [arrs[k] for k in simp.final]


def batch_simplified(simp: Simplified, batch: int, index: str) -> Simplified:
    """``simp`` for ``batch`` bitstrings at once: every tensor that depends on the output
    vectors gets the batch index ``index`` (size ``batch``) as its first axis, kept in the
    output (first), and the replay steps carry it along.

    The structure (tensors and steps) is that of ``simp``, so a contraction path of ``simp``
    is a path of the result, with the same FLOPs per bitstring on its variable part; the
    variable leaves must be ``(batch, ...)`` arrays (see :func:`build_network` with ``batch``).
    """
    if batch < 1:
        raise TensorNetworkError(f"batch must be >= 1, got {batch}")
    if index in simp.size_dict:
        raise TensorNetworkError(f"batch index {index!r} is already an index of the network")
    var = dict(enumerate(simp.variable_leaves))
    steps: list[tuple[int, int, str]] = []
    nxt = simp.leaves
    for a, b, eq in simp.steps:
        ins, out = eq.split("->")
        ia, ib = ins.split(",")
        va, vb = var[a], var[b]
        if va or vb:
            x = next(ch for ch in _LETTERS if ch not in eq)
            ia, ib, out = (x + ia if va else ia), (x + ib if vb else ib), x + out
        steps.append((a, b, f"{ia},{ib}->{out}"))
        var[nxt] = va or vb
        nxt += 1
    inputs = [((index,) + term) if v else term
              for term, v in zip(simp.inputs, simp.variable, strict=True)]
    size = dict(simp.size_dict)
    size[index] = batch
    return Simplified(simp.leaves, steps, list(simp.final), inputs, (index,) + simp.output, size,
                      list(simp.variable), list(simp.variable_leaves))
