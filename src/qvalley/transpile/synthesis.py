"""Exact one- and two-qubit synthesis (global phase included).

Matrices are little-endian: operand ``j`` is bit ``j`` of the row/column index, so a product gate
``A`` on operand 0 and ``B`` on operand 1 is ``np.kron(B, A)``.

Two-qubit synthesis uses the KAK (Cartan) decomposition in the magic basis. The minimal number of
CNOTs (0-3) is read from the Shende-Markov-Bullock invariant ``γ(U)`` (here the equivalent
``M2 = Uₘᵀ Uₘ`` in the magic basis): 0 when ``M2 ∝ I``, 1 when ``tr M2 = 0`` and ``M2² = -I``,
2 when ``tr M2`` is real, else 3 (Vatan-Williams circuit).
"""

from __future__ import annotations

import cmath
import itertools
import math

import numpy as np

from ..circuit.gates import Gate, UnitaryGate, zyz_angles

PI = math.pi
_R2 = 1 / math.sqrt(2)
# Magic basis: local SU(2)⊗SU(2) becomes SO(4).
MAGIC = _R2 * np.array([[1, 0, 0, 1j], [0, 1j, 1, 0], [0, 1j, -1, 0], [1, 0, 0, -1j]],
                       dtype=complex)
MAGIC_DAG = MAGIC.conj().T
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]])
_Z = np.diag([1.0 + 0j, -1.0])
_CX = np.array([[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]], dtype=complex)  # c=0,t=1
_CX10 = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
# diagonal of XX, YY, ZZ in the magic basis (±1 patterns)
_XYZ_DIAG = np.array([np.real(np.diag(MAGIC_DAG @ np.kron(p, p) @ MAGIC)) for p in (_X, _Y, _Z)])

# Op: (Gate, operand positions) over a 2-qubit block
Step = tuple[Gate, tuple[int, ...]]


def phase_between(target: np.ndarray, got: np.ndarray) -> float:
    """γ with ``target ≈ e^{iγ} got``."""
    return float(cmath.phase(np.vdot(got, target)))


def _rz(t: float) -> np.ndarray:
    return np.diag([cmath.exp(-0.5j * t), cmath.exp(0.5j * t)])


def _ry(t: float) -> np.ndarray:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return np.array([[c, -s], [s, c]], dtype=complex)


def _rx(t: float) -> np.ndarray:
    c, s = math.cos(t / 2), math.sin(t / 2)
    return np.array([[c, -1j * s], [-1j * s, c]])


def _normalize_su4(u: np.ndarray) -> np.ndarray:
    det = np.linalg.det(u)
    return u / det ** 0.25


def _m2(u: np.ndarray) -> np.ndarray:
    um = MAGIC_DAG @ _normalize_su4(u) @ MAGIC
    return um.T @ um


_MEMO_SIZE = 4096
# Exact-bytes memos: a hit is the same matrix, so the answer is the one a fresh call would give.
_NUM_CX_MEMO: dict[tuple[bytes, float], int] = {}
_MEMO_1Q: dict[tuple[bytes, frozenset[str]], tuple[tuple[Gate, ...], float] | None] = {}


def num_cx(u: np.ndarray, atol: float = 1e-9) -> int:
    """Minimal number of CNOTs that implement the 4×4 unitary ``u`` (0-3)."""
    key = (np.ascontiguousarray(u, dtype=complex).tobytes(), atol)
    hit = _NUM_CX_MEMO.get(key)
    if hit is None:
        hit = _num_cx(u, atol)
        if len(_NUM_CX_MEMO) >= _MEMO_SIZE:
            _NUM_CX_MEMO.clear()
        _NUM_CX_MEMO[key] = hit
    return hit


def _num_cx(u: np.ndarray, atol: float) -> int:
    m2 = _m2(u)
    if np.allclose(m2, np.eye(4), atol=atol) or np.allclose(m2, -np.eye(4), atol=atol):
        return 0
    tr = np.trace(m2)
    if abs(tr) < atol and np.allclose(m2 @ m2, -np.eye(4), atol=atol):
        return 1
    if abs(tr.imag) < atol:
        return 2
    return 3


def _orth_eig(m2: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Real orthogonal P (det +1) and eigenvalues D with Pᵀ M2 P = diag(D) (M2 complex symmetric
    unitary, so its real and imaginary parts commute)."""
    for _ in range(100):
        r = rng.uniform(0.1, 0.9)
        h = r * m2.real + (1 - r) * m2.imag
        _, p = np.linalg.eigh(h)
        d = np.diag(p.T @ m2 @ p)
        if np.allclose(p.T @ m2 @ p, np.diag(d), atol=1e-11):
            if np.linalg.det(p) < 0:
                p[:, 0] = -p[:, 0]
            return p, d
    raise ArithmeticError("KAK: failed to diagonalize")  # pragma: no cover


def _factor_kron(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``k = kron(B, A)`` → (A, B) unitaries (up to a shared phase that the caller fixes)."""
    r = k.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)  # rows (b1,b2), cols (a1,a2)
    u, s, vh = np.linalg.svd(r)
    b = (u[:, 0] * math.sqrt(s[0])).reshape(2, 2)
    a = (vh[0, :] * math.sqrt(s[0])).reshape(2, 2)
    return a, b


def _match_locals(u: np.ndarray, v: np.ndarray, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """Local L, R (4×4, original basis) with ``u ≈ e^{iγ} L v R``, or None if classes differ."""
    rng = np.random.default_rng(seed)
    um = MAGIC_DAG @ _normalize_su4(u) @ MAGIC
    for scale in (1, 1j):
        vm = MAGIC_DAG @ (_normalize_su4(v) * scale) @ MAGIC
        pu, du = _orth_eig(um.T @ um, rng)
        pv, dv = _orth_eig(vm.T @ vm, rng)
        # order pv's columns to match du
        order = []
        used: set[int] = set()
        for x in du:
            best = min((j for j in range(4) if j not in used), key=lambda j: abs(dv[j] - x))
            if abs(dv[best] - x) > 1e-7:
                break
            used.add(best)
            order.append(best)
        if len(order) != 4:
            continue
        pv = pv[:, order]
        if np.linalg.det(pv) < 0:
            pv[:, 0] = -pv[:, 0]
        d = np.sqrt(du)
        k1u = um @ pu @ np.diag(1 / d)
        k1v = vm @ pv @ np.diag(1 / d)
        lm = (k1u @ k1v.T).real
        rm = (pv @ pu.T).real
        if np.linalg.det(lm) < 0:  # improper pair: flip a column of pv and k1v consistently
            continue
        return MAGIC @ lm @ MAGIC_DAG, MAGIC @ rm @ MAGIC_DAG
    return None


def _weyl_coords(u: np.ndarray) -> list[tuple[float, float, float]]:
    """Candidate (a, b, c) with u ~ exp(i(a XX + b YY + c ZZ)) up to locals."""
    evals = np.linalg.eigvals(_m2(u))
    out = []
    for sign in (1, -1):
        th = np.angle(evals * sign)
        for perm in itertools.permutations(range(4)):
            t = th[list(perm)].copy()
            t[3] = -(t[0] + t[1] + t[2])
            abc = _XYZ_DIAG @ t / 8
            out.append((float(abc[0]), float(abc[1]), float(abc[2])))
    return out


def _steps_unitary(steps: list[Step]) -> np.ndarray:
    m = np.eye(4, dtype=complex)
    for g, pos in steps:
        gm = g.matrix()
        if len(pos) == 1:
            full = np.kron(np.eye(2), gm) if pos[0] == 0 else np.kron(gm, np.eye(2))
        elif pos == (0, 1):
            full = gm
        else:
            sw = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
            full = sw @ gm @ sw
        m = full @ m
    return m


def _cores(k: int, u: np.ndarray) -> list[list[Step]]:
    """CX skeletons with interleaved 1q gates, candidates for the local class of ``u``."""
    if k == 0:
        return [[]]
    if k == 1:
        return [[(Gate("cx"), (0, 1))]]
    coords = _weyl_coords(u)
    out: list[list[Step]] = []
    if k == 2:
        for a, b, c in coords:
            vals = [a, b, c]
            for i in range(3):
                z = vals[i] / (PI / 2)
                if abs(z - round(z)) < 1e-9:
                    p, q = [vals[j] for j in range(3) if j != i]
                    out.append([(Gate("cx"), (0, 1)), (Gate("rx", (-2 * p,)), (0,)),
                                (Gate("rz", (-2 * q,)), (1,)), (Gate("cx"), (0, 1))])
                    if len(out) >= 2:
                        return out
        return out
    for a, b, c in coords[:1] + coords[24:25]:
        for sg in (1, -1):
            a2, b2, c2 = sg * a, sg * b, sg * c
            out.append([(Gate("cx"), (1, 0)), (Gate("rz", (2 * c2 - PI / 2,)), (0,)),
                        (Gate("ry", (PI / 2 - 2 * a2,)), (1,)), (Gate("cx"), (0, 1)),
                        (Gate("ry", (2 * b2 - PI / 2,)), (1,)), (Gate("cx"), (1, 0))])
    return out


# Memo of synthesize_2q keyed by the unitary rounded to 1e-12 (far inside the 1e-9 tolerance the
# result is checked to): circuits repeat the same blocks (QFT's controlled phases, SABRE's trials).
_MEMO: dict[tuple[bytes, float], tuple[list[Step], float] | None] = {}


def synthesize_2q(u: np.ndarray, atol: float = 1e-9) -> tuple[list[Step], float] | None:
    """Minimal-CX exact synthesis of a 4×4 unitary: ``(steps, phase)`` with the steps' product
    times ``e^{i·phase}`` equal to ``u``; 1q steps are :class:`UnitaryGate`. None on failure."""
    key = (np.round(np.asarray(u, dtype=complex), 12).tobytes(), atol)
    if key in _MEMO:
        hit = _MEMO[key]
        return None if hit is None else (list(hit[0]), hit[1])
    res = _synthesize_2q(u, atol)
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[key] = res
    return None if res is None else (list(res[0]), res[1])


def _synthesize_2q(u: np.ndarray, atol: float) -> tuple[list[Step], float] | None:
    k = num_cx(u, atol)
    for kk in range(k, 4):
        for core in _cores(kk, u):
            v = _steps_unitary(core)
            lr = _match_locals(u, v)
            if lr is not None:
                break
        else:
            continue
        left, right = lr
        ra, rb = _factor_kron(right)
        la, lb = _factor_kron(left)
        steps: list[Step] = [(UnitaryGate(_fix_unitary(ra)), (0,)),
                             (UnitaryGate(_fix_unitary(rb)), (1,))]
        steps += core
        steps += [(UnitaryGate(_fix_unitary(la)), (0,)), (UnitaryGate(_fix_unitary(lb)), (1,))]
        got = _steps_unitary(steps)
        ph = phase_between(u, got)
        if np.allclose(u, cmath.exp(1j * ph) * got, atol=atol * 10):
            return steps, ph
    return None


def _fix_unitary(m: np.ndarray) -> np.ndarray:
    """Nearest unitary (polar factor): removes the scale left by the Kronecker factorization."""
    w, _, vh = np.linalg.svd(m)
    return w @ vh


# ---- one-qubit --------------------------------------------------------------------------------
def _near(x: float, y: float, tol: float = 1e-10) -> bool:
    d = (x - y) % (2 * PI)
    return d < tol or 2 * PI - d < tol


def _wrap(x: float) -> float:
    """Angle into (-π, π]."""
    y = math.remainder(x, 2 * PI)
    return PI if abs(y + PI) < 1e-15 else y


def synthesize_1q(u: np.ndarray, native: frozenset[str]) -> tuple[list[Gate], float] | None:
    """Gates (time order) from ``native`` and a phase γ with ``u = e^{iγ} ∏ gates``; an empty
    list for the identity. None when the native set cannot express ``u``.

    Memoised on the exact bytes of ``u`` (merged runs repeat across routing trials)."""
    key = (np.ascontiguousarray(u, dtype=complex).tobytes(), frozenset(native))
    if key in _MEMO_1Q:
        hit = _MEMO_1Q[key]
    else:
        hit = _synthesize_1q(u, native)
        if len(_MEMO_1Q) >= _MEMO_SIZE:
            _MEMO_1Q.clear()
        _MEMO_1Q[key] = hit
    return None if hit is None else (list(hit[0]), hit[1])


def _synthesize_1q(u: np.ndarray, native: frozenset[str]) -> tuple[tuple[Gate, ...], float] | None:
    theta, phi, lam, _ = zyz_angles(u)
    gates: list[Gate] | None = None
    diag = abs(u[1, 0]) < 1e-12 and abs(u[0, 1]) < 1e-12
    if diag:
        ang = _wrap(cmath.phase(u[1, 1]) - cmath.phase(u[0, 0]))
        if abs(ang) < 1e-12:
            gates = []
        elif "rz" in native:
            gates = [Gate("rz", (ang,))]
        elif "p" in native:
            gates = [Gate("p", (ang,))]
        elif "u" in native:
            gates = [Gate("u", (0.0, 0.0, ang))]
    if gates is None and "u" in native:
        gates = [Gate("u", (theta, _wrap(phi), _wrap(lam)))]
    if gates is None and "rz" in native and "sx" in native:
        gates = _zsx(theta, phi, lam)
    if gates is None and "rz" in native and "ry" in native:
        gates = [g for g in (Gate("rz", (_wrap(lam),)), Gate("ry", (theta,)),
                             Gate("rz", (_wrap(phi),))) if abs(g.params[0]) > 1e-12]  # type: ignore[arg-type]
    if gates is None:
        return None
    m = np.eye(2, dtype=complex)
    for g in gates:
        m = g.matrix() @ m
    return tuple(gates), phase_between(u, m)


def _zsx(theta: float, phi: float, lam: float) -> list[Gate]:
    """U(θ,φ,λ) up to phase as rz/sx gates (time order)."""
    def rz(a: float) -> list[Gate]:
        a = _wrap(a)
        return [] if abs(a) < 1e-12 else [Gate("rz", (a,))]

    sx = Gate("sx")
    if _near(theta, PI / 2):  # one SX
        return rz(lam - PI / 2) + [sx] + rz(phi + PI / 2)
    if _near(theta, PI) or _near(theta, -PI):  # X up to Z rotations: two SX
        return rz(lam) + [sx, sx] + rz(phi + PI)
    return rz(lam) + [sx] + rz(theta + PI) + [sx] + rz(phi + PI)
