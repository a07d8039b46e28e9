"""Statevector benchmark harness: qvalley against qsim (qsimcirq), Qiskit Aer and Qulacs.

All simulators run the same seeded circuits in one process, with the same thread count, and are
timed from ``|0...0>`` to the final statevector only:

* each peer's native circuit object is built from the qvalley circuit *before* timing (gate by
  gate, see :func:`to_cirq`, :func:`to_qiskit`, :func:`to_qulacs`);
* one untimed warm-up run (numba JIT compile, library set-up), then the median of ``repeats``
  timed runs;
* qvalley: ``qvalley.statevector(circuit, precision)`` (the whole public call, including its
  lowering of the circuit to matrices);
* qsim: the compiled full-state entry point of qsimcirq on the pre-translated qsim circuit
  (single precision only; gate fusion ``f`` = :data:`QSIM_FUSION` = 3, "fusion 3");
* Qiskit Aer: ``AerSimulator(method="statevector", precision=..., max_parallel_threads=...)``,
  default fusion, ``sim.run(circuit_with_save_statevector, shots=1).result()`` (includes Aer's
  own Python-to-C++ circuit conversion; Aer's internal C++ time is stored as
  ``internal_seconds``);
* Qulacs: allocate ``QuantumState(n)`` and ``circuit.update_quantum_state(state)``; the CPU
  build is double precision only, threads from ``OMP_NUM_THREADS``/``QULACS_NUM_THREADS`` read
  when qulacs is first imported (so it is imported lazily, after the environment is set).

Every peer simulates with qvalley's memory layout (qubit ``k`` = bit ``k`` of the index): Qiskit
and Qulacs are little-endian already; for qsim the Cirq qubit order is ``LineQubit(n-1), ...,
LineQubit(0)``, which makes qsim's internal qubit ``k`` (and the output's bit ``k``) qubit ``k``.

A correctness guard compares each peer's final state with qvalley's (fidelity
``|<a|b>|^2 > 0.999``) on the smallest row of each circuit family; a peer that fails is marked
``"mismatch"`` and left out of the ratios. A missing peer is reported as ``"not installed"``.

The "memory-bandwidth floor" of a row is the time of one streaming read+write pass over a state of
the row's size (a numba ``prange`` loop scaling the array in place, same thread count, median of
5); ``passes_equivalent`` = qvalley seconds / pass seconds.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any

import numpy as np

from ..circuit import Barrier, Circuit
from .circuits import qft, random_layers
from .rcs import grid_shape, sycamore_rcs

PEERS = ("qsim", "qiskit-aer", "qulacs")
SIMULATORS = ("qvalley", *PEERS)
FIXED_ROW_QUBITS = 24
RCS_CYCLES = 14
QSIM_FUSION = 3
FIDELITY_THRESHOLD = 0.999
BANDWIDTH_REPEATS = 5
SUPPORTED_GATES = frozenset(
    {"rx", "ry", "rz", "cz", "h", "cp", "swap", "sx", "sy", "sw", "fsim", "x", "z", "cx"}
)
PACKAGES = ("qvalley", "numpy", "numba", "qsimcirq", "cirq-core", "qiskit", "qiskit-aer", "qulacs")

Progress = Callable[[str], None]


class PeerNotInstalled(Exception):
    """The peer's Python package cannot be imported."""


# ---- thread settings -----------------------------------------------------------------------------
def set_thread_env(threads: int) -> None:
    """Set ``OMP_NUM_THREADS``/``QULACS_NUM_THREADS`` (and ``NUMBA_NUM_THREADS`` while numba is not
    yet imported) to ``threads``. OpenMP libraries read these when first loaded, so call this
    before importing peers (the harness imports them lazily, after calling it)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["QULACS_NUM_THREADS"] = str(threads)
    if "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)


def set_numba_threads(threads: int) -> int:
    """Use ``threads`` numba threads on this thread (capped by ``NUMBA_NUM_THREADS``); returns the
    number actually set."""
    import numba

    t = max(1, min(int(threads), int(getattr(numba.config, "NUMBA_NUM_THREADS", threads))))
    numba.set_num_threads(t)
    return t


# ---- machine description -------------------------------------------------------------------------
def _cpuinfo() -> tuple[str, list[str]]:
    model: str = platform.processor() or platform.machine()
    flags: list[str] = []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = value.split()
    except OSError:
        pass
    return model, flags


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / (1 << 20), 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def package_versions() -> dict[str, str | None]:
    """Installed versions of qvalley, numpy, numba and the peers (``None`` when missing); does not
    import them."""
    out: dict[str, str | None] = {}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def machine_info() -> dict[str, Any]:
    """CPU model, core count, memory, OS, Python and package versions."""
    model, flags = _cpuinfo()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    simd = [f for f in ("avx512f", "avx2", "fma", "sse4_2") if f in flags]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "cores_available": affinity,
        "simd": simd,
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": package_versions(),
    }


# ---- helpers -------------------------------------------------------------------------------------
def fidelity(a: np.ndarray, b: np.ndarray) -> float:
    """``|<a|b>|^2 / (<a|a><b|b>)`` in double precision (insensitive to global phase)."""
    a = np.asarray(a, dtype=np.complex128).ravel()
    b = np.asarray(b, dtype=np.complex128).ravel()
    if a.shape != b.shape:
        return 0.0
    na, nb = np.vdot(a, a).real, np.vdot(b, b).real
    if na == 0 or nb == 0:
        return 0.0
    return float(abs(np.vdot(a, b)) ** 2 / (na * nb))


def _ops(circuit: Circuit) -> list[tuple[str, tuple[float, ...], tuple[int, ...]]]:
    """``(name, float params, qubits)`` for every gate, checking that peers can take it."""
    out = []
    for op in circuit.operations:
        if isinstance(op.gate, Barrier):
            continue
        if op.name not in SUPPORTED_GATES or op.condition is not None:
            raise ValueError(f"the benchmark translators do not support '{op.name}'")
        out.append((op.name, tuple(float(p) for p in op.gate.params), op.qubits))
    return out


def _gate_matrix(name: str, params: tuple[float, ...]) -> np.ndarray:
    from ..circuit import Gate

    return Gate(name, params).matrix()


# ---- translations --------------------------------------------------------------------------------
def cirq_qubit_order(n: int) -> list[Any]:
    """Cirq qubit order under which a Cirq/qsim state is little-endian in ``LineQubit`` index."""
    import cirq

    return [cirq.LineQubit(i) for i in range(n - 1, -1, -1)]


def to_cirq(circuit: Circuit) -> Any:
    """A ``cirq.Circuit`` on ``LineQubit(i)`` for qubit ``i``, with exactly qvalley's gate matrices:
    rx/ry/rz → ``cirq.rx/ry/rz``; sx, sy → ``X**0.5``, ``Y**0.5``; sw →
    ``PhasedXPowGate(phase_exponent=0.25, exponent=0.5)`` (qsim's hz_1_2); cp(λ) →
    ``CZPowGate(exponent=λ/π)``; fsim(θ, φ) → ``FSimGate(θ, φ)``. Idle qubits get an identity so
    that every qubit is in the state. Global phase is dropped. Simulate with
    :func:`cirq_qubit_order` to get qvalley's bit order."""
    import cirq

    q = cirq.LineQubit.range(circuit.num_qubits)
    sw = cirq.PhasedXPowGate(phase_exponent=0.25, exponent=0.5)
    ops: list[Any] = []
    used: set[int] = set()
    for name, p, qs in _ops(circuit):
        used.update(qs)
        t = [q[i] for i in qs]
        if name == "rx":
            ops.append(cirq.rx(p[0]).on(*t))
        elif name == "ry":
            ops.append(cirq.ry(p[0]).on(*t))
        elif name == "rz":
            ops.append(cirq.rz(p[0]).on(*t))
        elif name == "h":
            ops.append(cirq.H.on(*t))
        elif name == "x":
            ops.append(cirq.X.on(*t))
        elif name == "z":
            ops.append(cirq.Z.on(*t))
        elif name == "sx":
            ops.append(cirq.XPowGate(exponent=0.5).on(*t))
        elif name == "sy":
            ops.append(cirq.YPowGate(exponent=0.5).on(*t))
        elif name == "sw":
            ops.append(sw.on(*t))
        elif name == "cz":
            ops.append(cirq.CZ.on(*t))
        elif name == "cx":
            ops.append(cirq.CNOT.on(*t))
        elif name == "cp":
            ops.append(cirq.CZPowGate(exponent=p[0] / math.pi).on(*t))
        elif name == "swap":
            ops.append(cirq.SWAP.on(*t))
        elif name == "fsim":
            ops.append(cirq.FSimGate(theta=p[0], phi=p[1]).on(*t))
    ops.extend(cirq.I(q[i]) for i in range(circuit.num_qubits) if i not in used)
    return cirq.Circuit(ops)


def to_qiskit(circuit: Circuit) -> Any:
    """A Qiskit ``QuantumCircuit`` (little-endian, as qvalley) with qvalley's gate matrices:
    native rx ry rz h x z sx cz cx cp swap; sy → ``ry(π/2)`` with global phase ``+π/4``; sw and
    fsim → ``unitary`` (operand ``j`` = bit ``j`` of the matrix index in both libraries)."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import UnitaryGate

    qc = QuantumCircuit(circuit.num_qubits)
    phase = float(circuit.global_phase)
    sw = UnitaryGate(_gate_matrix("sw", ()), label="sw")
    fsims: dict[tuple[float, ...], Any] = {}
    for name, p, qs in _ops(circuit):
        if name in ("rx", "ry", "rz", "cp"):
            getattr(qc, name)(p[0], *qs)
        elif name in ("h", "x", "z", "sx", "cz", "cx", "swap"):
            getattr(qc, name)(*qs)
        elif name == "sy":
            qc.ry(math.pi / 2, *qs)
            phase += math.pi / 4
        elif name == "sw":
            qc.append(sw, list(qs))
        elif name == "fsim":
            if p not in fsims:
                fsims[p] = UnitaryGate(_gate_matrix("fsim", p), label="fsim")
            qc.append(fsims[p], list(qs))
    qc.global_phase = phase
    return qc


@cache
def _qulacs_rotation_sign() -> float:
    """``-1`` when ``qulacs.gate.RX(q, θ)`` is ``exp(+iθX/2)`` (qulacs ≤ 0.6), else ``+1``."""
    from qulacs import gate

    m = np.asarray(gate.RX(0, 0.5).get_matrix())
    return -1.0 if m[0, 1].imag > 0 else 1.0


def to_qulacs(circuit: Circuit) -> Any:
    """A ``qulacs.QuantumCircuit`` (little-endian, as qvalley) with qvalley's gate matrices.

    Qulacs' ``RX/RY/RZ(q, θ)`` are ``exp(+iθP/2)`` (opposite sign to qvalley/Qiskit/Cirq), so
    angles are negated (checked at run time via the gate matrix); sx, sy → ``sqrtX``, ``sqrtY``
    (same matrices); sw → ``DenseMatrix``; cp(λ) → ``DenseMatrix(t, diag(1, e^{iλ}))`` with control
    ``c``; fsim → two-qubit ``DenseMatrix`` (fsim is symmetric in its operands, so the operand order
    convention does not matter). Global phase is dropped."""
    from qulacs import QuantumCircuit, gate

    sign = _qulacs_rotation_sign()
    qc = QuantumCircuit(circuit.num_qubits)
    sw = _gate_matrix("sw", ())
    for name, p, qs in _ops(circuit):
        if name == "rx":
            qc.add_gate(gate.RX(qs[0], sign * p[0]))
        elif name == "ry":
            qc.add_gate(gate.RY(qs[0], sign * p[0]))
        elif name == "rz":
            qc.add_gate(gate.RZ(qs[0], sign * p[0]))
        elif name == "h":
            qc.add_gate(gate.H(qs[0]))
        elif name == "x":
            qc.add_gate(gate.X(qs[0]))
        elif name == "z":
            qc.add_gate(gate.Z(qs[0]))
        elif name == "sx":
            qc.add_gate(gate.sqrtX(qs[0]))
        elif name == "sy":
            qc.add_gate(gate.sqrtY(qs[0]))
        elif name == "sw":
            qc.add_gate(gate.DenseMatrix(qs[0], sw))
        elif name == "cz":
            qc.add_gate(gate.CZ(qs[0], qs[1]))
        elif name == "cx":
            qc.add_gate(gate.CNOT(qs[0], qs[1]))
        elif name == "swap":
            qc.add_gate(gate.SWAP(qs[0], qs[1]))
        elif name == "cp":
            g = gate.DenseMatrix(qs[1], np.diag([1.0, np.exp(1j * p[0])]))
            g.add_control_qubit(qs[0], 1)
            qc.add_gate(g)
        elif name == "fsim":
            qc.add_gate(gate.DenseMatrix([qs[0], qs[1]], _gate_matrix("fsim", p)))
    return qc


# ---- prepared runs -------------------------------------------------------------------------------
@dataclass
class PreparedRun:
    """A simulation ready to time: ``run()`` is timed; ``state(raw)`` (untimed) turns its return
    value into a little-endian numpy statevector; ``internal(raw)`` optionally reports the
    simulator's own timing."""

    run: Callable[[], Any]
    state: Callable[[Any], np.ndarray]
    precision: str
    internal: Callable[[Any], float | None] | None = None
    info: dict[str, Any] = field(default_factory=dict)


def prepare_qvalley(circuit: Circuit, threads: int, precision: str = "single",
                    engine: str = "fast") -> PreparedRun:
    """``qvalley.statevector(circuit, precision, engine)`` with ``threads`` numba threads."""
    from ..sim import statevector as qv_statevector

    t = set_numba_threads(threads)
    return PreparedRun(
        run=lambda: qv_statevector(circuit, precision=precision, engine=engine),
        state=np.asarray,
        precision=precision,
        info={"engine": engine, "numba_threads": t},
    )


def prepare_qsim(circuit: Circuit, threads: int, precision: str = "single",
                 fusion: int = QSIM_FUSION) -> PreparedRun:
    """qsim (single precision) with ``t=threads``, ``f=fusion`` on the pre-translated circuit."""
    try:
        import qsimcirq
    except ImportError as exc:
        raise PeerNotInstalled(str(exc)) from None
    cc = to_cirq(circuit)
    order = cirq_qubit_order(circuit.num_qubits)
    sim = qsimcirq.QSimSimulator(qsim_options={"t": int(threads), "f": int(fusion)})
    info: dict[str, Any] = {"fusion": fusion, "threads": threads,
                            "module": getattr(getattr(sim, "_sim_module", None), "__name__", None)}
    fullstate = getattr(getattr(sim, "_sim_module", None), "qsim_simulate_fullstate", None)
    try:
        if fullstate is None:
            raise AttributeError("qsim_simulate_fullstate")
        translated, _ = qsimcirq.QSimCircuit(cc).translate_cirq_to_qsim(order)
        options = dict(sim.qsim_options)
        options["c"] = translated
        options["s"] = 0
        info["mode"] = "qsim_simulate_fullstate on a pre-translated circuit"

        def run() -> Any:
            return fullstate(options, 0)

        def state(raw: Any) -> np.ndarray:
            return np.asarray(raw).view(np.complex64)

    except (AttributeError, TypeError, ValueError):  # private API moved: use the public call
        info["mode"] = "simulate_into_1d_array (public API, includes translation lookup)"
        sim = qsimcirq.QSimSimulator(qsim_options={"t": int(threads), "f": int(fusion)},
                                     circuit_memoization_size=1)

        def run() -> Any:
            return sim.simulate_into_1d_array(cc, qubit_order=order)[1]

        def state(raw: Any) -> np.ndarray:
            return np.asarray(raw)

    return PreparedRun(run=run, state=state, precision="single", info=info)


def prepare_aer(circuit: Circuit, threads: int, precision: str = "single") -> PreparedRun:
    """Qiskit Aer statevector method, default fusion, ``max_parallel_threads=threads``."""
    try:
        from qiskit_aer import AerSimulator
        from qiskit_aer.library import SaveStatevector
    except ImportError as exc:
        raise PeerNotInstalled(str(exc)) from None
    qc = to_qiskit(circuit)
    qc.append(SaveStatevector(circuit.num_qubits), qc.qubits)
    sim = AerSimulator(method="statevector", precision=precision,
                       max_parallel_threads=int(threads))

    def run() -> Any:
        return sim.run(qc, shots=1).result()

    def state(raw: Any) -> np.ndarray:
        return np.asarray(raw.get_statevector(0))

    def internal(raw: Any) -> float | None:
        try:
            return float(raw.results[0].time_taken)
        except (AttributeError, IndexError, TypeError):
            return None

    return PreparedRun(run=run, state=state, precision=precision, internal=internal,
                       info={"fusion": "Aer default", "threads": threads})


def prepare_qulacs(circuit: Circuit, threads: int, precision: str = "single") -> PreparedRun:
    """Qulacs (CPU build: double precision only); threads from the environment at import."""
    already = "qulacs" in sys.modules
    try:
        import qulacs
    except ImportError as exc:
        raise PeerNotInstalled(str(exc)) from None
    qc = to_qulacs(circuit)
    n = circuit.num_qubits

    def run() -> Any:
        st = qulacs.QuantumState(n)
        qc.update_quantum_state(st)
        return st

    def state(raw: Any) -> np.ndarray:
        return np.asarray(raw.get_vector())

    info = {
        "threads_env": os.environ.get("QULACS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS"),
        "imported_before_env": already,
    }
    return PreparedRun(run=run, state=state, precision="double", info=info)


def prepare(name: str, circuit: Circuit, threads: int, precision: str = "single",
            engine: str = "fast", qsim_fusion: int = QSIM_FUSION) -> PreparedRun:
    """A :class:`PreparedRun` for simulator ``name`` (one of :data:`SIMULATORS`)."""
    if name == "qvalley":
        return prepare_qvalley(circuit, threads, precision, engine)
    if name == "qsim":
        return prepare_qsim(circuit, threads, precision, qsim_fusion)
    if name == "qiskit-aer":
        return prepare_aer(circuit, threads, precision)
    if name == "qulacs":
        return prepare_qulacs(circuit, threads, precision)
    raise ValueError(f"unknown simulator {name!r} (choose from {', '.join(SIMULATORS)})")


def time_runs(prep: PreparedRun, repeats: int, keep_state: bool = False
              ) -> tuple[list[float], list[float | None], np.ndarray | None]:
    """One untimed warm-up, then ``repeats`` timed runs. Returns the times, the simulator's own
    times (if it reports them) and, with ``keep_state``, the warm-up's final state."""
    raw = prep.run()
    kept = np.array(prep.state(raw), copy=True) if keep_state else None
    del raw
    times: list[float] = []
    internal: list[float | None] = []
    for _ in range(max(1, repeats)):
        gc.collect()
        t0 = time.perf_counter()
        raw = prep.run()
        times.append(time.perf_counter() - t0)
        internal.append(prep.internal(raw) if prep.internal is not None else None)
        del raw
    return times, internal, kept


# ---- memory bandwidth floor ----------------------------------------------------------------------
@cache
def _scale_kernel() -> Callable[[np.ndarray, Any], None]:
    import numba

    @numba.njit(parallel=True, cache=False)
    def scale(a: np.ndarray, s: Any) -> None:  # pragma: no cover - compiled
        for i in numba.prange(a.size):
            a[i] = a[i] * s

    return scale  # type: ignore[no-any-return]


def memory_pass(n: int, threads: int, precision: str = "single",
                repeats: int = BANDWIDTH_REPEATS) -> dict[str, float]:
    """Time of one streaming read+write pass over a ``2^n`` state (numba ``prange`` scaling it in
    place by -1 with ``threads`` threads), median of ``repeats``; ``GBps`` counts bytes read plus
    bytes written."""
    dtype = np.complex64 if precision == "single" else np.complex128
    set_numba_threads(threads)
    kernel = _scale_kernel()
    a = np.ones(1 << n, dtype=dtype)
    s = np.float32(-1.0) if precision == "single" else np.float64(-1.0)
    kernel(a, s)  # compile, and touch every page
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        kernel(a, s)
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    nbytes = 2 * a.nbytes
    del a
    return {"pass_seconds": sec, "GBps": nbytes / sec / 1e9 if sec > 0 else math.inf}


def _numba_threading_layer() -> str | None:
    try:
        import numba

        return str(numba.threading_layer())
    except (ImportError, ValueError):  # ValueError: no parallel region has run yet
        return None


# ---- benchmark cases -----------------------------------------------------------------------------
@dataclass
class BenchCase:
    """One row of the benchmark: a circuit family at a qubit count."""

    circuit_name: str
    qubits: int
    circuit: Circuit
    note: str = ""
    verify: bool = False


def benchmark_cases(qubits: Sequence[int] = (20, 24, 26), seed: int = 0) -> list[BenchCase]:
    """The rows: ``random_layers`` at each qubit count; ``qft`` (RY-layer input) and
    ``sycamore_rcs`` (grid of :func:`~qvalley.bench.rcs.grid_shape`, 14 cycles) at 24 qubits, or at
    ``max(qubits)`` when that is below 24. The smallest row of each family is verified."""
    qs = sorted({int(q) for q in qubits})
    if not qs or qs[0] < 1:
        raise ValueError(f"qubit counts must be positive, got {list(qubits)}")
    cases = [
        BenchCase("random_layers", n, random_layers(n, 20, seed), "20 layers, CZ brickwork",
                  verify=(i == 0))
        for i, n in enumerate(qs)
    ]
    fixed = FIXED_ROW_QUBITS if qs[-1] >= FIXED_ROW_QUBITS else qs[-1]
    shrunk = "" if fixed == FIXED_ROW_QUBITS else f"; {fixed} not 24 qubits (max --qubits < 24)"
    cases.append(BenchCase("qft", fixed, qft(fixed, prepare=True, seed=seed),
                           "RY-layer input, final swaps" + shrunk, verify=True))
    rows, cols = grid_shape(fixed)
    cases.append(BenchCase("sycamore_rcs", fixed, sycamore_rcs(rows, cols, RCS_CYCLES, seed),
                           f"{rows}x{cols} grid, {RCS_CYCLES} cycles, ABCDCDAB" + shrunk,
                           verify=True))
    return cases


# ---- the benchmark -------------------------------------------------------------------------------
def _entry(times: list[float], internal: list[float | None], precision: str) -> dict[str, Any]:
    out: dict[str, Any] = {"seconds": statistics.median(times), "all": times,
                           "precision": precision, "status": "ok"}
    vals = [x for x in internal if x is not None]
    if vals:
        out["internal_seconds"] = statistics.median(vals)
    return out


def run_benchmark(
    qubits: Sequence[int] = (20, 24, 26),
    peers: bool = True,
    repeats: int = 3,
    threads: int | None = None,
    precision: str = "single",
    progress: Progress | None = None,
    *,
    engine: str = "fast",
    qsim_fusion: int = QSIM_FUSION,
    seed: int = 0,
) -> dict[str, Any]:
    """Time qvalley (and, with ``peers``, qsim, Qiskit Aer, Qulacs) on :func:`benchmark_cases`.

    Args:
        qubits: qubit counts of the ``random_layers`` rows (the largest also sizes the fixed rows).
        peers: also time the peer simulators (missing ones are reported as not installed).
        repeats: timed runs per simulator and row after one warm-up; the median is reported.
        threads: threads for every simulator (default ``os.cpu_count()``).
        precision: ``"single"`` or ``"double"`` for qvalley and Aer (qsim is always single,
            Qulacs always double).
        progress: called with a line of text after each measurement.
        engine: qvalley engine (``"fast"``; ``"reference"`` for tests).
        qsim_fusion: qsim's ``f`` option (max fused gate size).
        seed: circuit seed.

    Returns:
        ``{"machine", "threads", "precision", "repeats", "notes", "bandwidth", "rows"}``; see the
        module docstring. Each row has ``results[simulator]`` with ``seconds`` (median), ``all``,
        ``precision``, ``status`` (``ok``/``mismatch``/``not installed``/``error: ...``) and
        ``fidelity`` where verified, plus ``ratio_to_fastest_peer``, ``ratio_to_qsim`` and
        ``passes_equivalent``.
    """
    if precision not in ("single", "double"):
        raise ValueError(f"precision must be 'single' or 'double', got {precision!r}")
    threads = int(threads or os.cpu_count() or 1)
    set_thread_env(threads)
    say: Progress = progress or (lambda _msg: None)
    names = SIMULATORS if peers else ("qvalley",)
    cases = benchmark_cases(qubits, seed)

    bandwidth: dict[str, dict[str, float]] = {}
    for n in sorted({c.qubits for c in cases}):
        bandwidth[str(n)] = memory_pass(n, threads, precision)
        say(f"bandwidth n={n}: one pass {bandwidth[str(n)]['pass_seconds']:.4g} s "
            f"({bandwidth[str(n)]['GBps']:.1f} GB/s)")

    unavailable: dict[str, str] = {}
    mismatched: dict[str, str] = {}
    peer_info: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for case in cases:
        row: dict[str, Any] = {"circuit": case.circuit_name, "qubits": case.qubits,
                               "gates": len(case.circuit.operations), "note": case.note,
                               "verified": case.verify, "results": {}}
        reference: np.ndarray | None = None
        for name in names:
            if name in unavailable:
                row["results"][name] = {"seconds": None, "status": "not installed"}
                continue
            try:
                prep = prepare(name, case.circuit, threads, precision, engine, qsim_fusion)
                peer_info.setdefault(name, prep.info)
                times, internal, state = time_runs(prep, repeats, keep_state=case.verify)
            except PeerNotInstalled as exc:
                unavailable[name] = str(exc)
                row["results"][name] = {"seconds": None, "status": "not installed"}
                say(f"{name}: not installed ({exc})")
                continue
            except Exception as exc:  # a failing simulator must not end the benchmark
                row["results"][name] = {"seconds": None, "status": f"error: {exc}"}
                say(f"{case.circuit_name} n={case.qubits} {name}: error: {exc}")
                continue
            entry = _entry(times, internal, prep.precision)
            if state is not None:
                if name == "qvalley":
                    reference = state
                elif reference is not None:
                    f = fidelity(reference, state)
                    entry["fidelity"] = f
                    if f <= FIDELITY_THRESHOLD:
                        mismatched[name] = f"{case.circuit_name} n={case.qubits}: fidelity {f:.6f}"
            row["results"][name] = entry
            say(f"{case.circuit_name} n={case.qubits} {name}: {entry['seconds']:.4g} s")
            del state
        rows.append(row)
        reference = None
        gc.collect()

    for row in rows:
        res = row["results"]
        for name in mismatched:
            if name in res and res[name].get("status") == "ok":
                res[name]["status"] = "mismatch"
        qv = res.get("qvalley", {}).get("seconds")
        peer_secs = {p: res[p]["seconds"] for p in PEERS
                     if p in res and res[p].get("status") == "ok" and res[p]["seconds"]}
        best = min(peer_secs.values()) if peer_secs else None
        row["fastest_peer"] = min(peer_secs, key=lambda p: peer_secs[p]) if peer_secs else None
        row["ratio_to_fastest_peer"] = qv / best if qv and best else None
        row["ratio_to_qsim"] = qv / peer_secs["qsim"] if qv and "qsim" in peer_secs else None
        floor = bandwidth.get(str(row["qubits"]))
        row["passes_equivalent"] = qv / floor["pass_seconds"] if qv and floor else None

    notes = [
        f"qvalley: qvalley.statevector(..., precision={precision!r}, engine={engine!r}).",
        f"qsim: single precision, fusion f={qsim_fusion} (max fused gate size), t={threads}.",
        f"qiskit-aer: precision={precision!r}, default fusion, max_parallel_threads={threads}; "
        "time includes Aer's circuit conversion (internal_seconds: Aer's own).",
        "qulacs: CPU build is double precision only; threads via OMP_NUM_THREADS/"
        "QULACS_NUM_THREADS at import; no circuit optimizer (fusion) applied.",
        "All times: |0..0> to final statevector, median of repeats after one warm-up.",
    ]
    notes += [f"{p}: mismatch vs qvalley ({why}); excluded from ratios"
              for p, why in mismatched.items()]
    notes += [f"{p}: not installed" for p in unavailable]
    return {
        "machine": machine_info(),
        "numba_threading_layer": _numba_threading_layer(),
        "threads": threads,
        "precision": precision,
        "repeats": repeats,
        "engine": engine,
        "qsim_fusion": qsim_fusion,
        "simulators": list(names),
        "peer_info": peer_info,
        "notes": notes,
        "bandwidth": bandwidth,
        "rows": rows,
    }


# ---- formatting ----------------------------------------------------------------------------------
def _fmt_seconds(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "-"
    status = entry.get("status", "ok")
    sec = entry.get("seconds")
    if status == "not installed":
        return "n/a"
    if status.startswith("error"):
        return "error"
    text = f"{sec:.4g}" if sec is not None else "-"
    return text + ("!" if status == "mismatch" else "")


def _fmt_ratio(x: float | None) -> str:
    return f"{x:.2f}x" if x is not None else "-"


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table: circuit, qubits, gates, seconds per simulator, qvalley's ratio to the
    fastest peer and to qsim, memory passes equivalent; then bandwidth and notes."""
    names = list(result.get("simulators") or SIMULATORS)
    header = ["circuit", "qubits", "gates", *[f"{n} [s]" for n in names],
              "vs best", "vs qsim", "passes", "note"]
    body: list[list[str]] = []
    for row in result["rows"]:
        res = row["results"]
        passes = row.get("passes_equivalent")
        body.append([
            row["circuit"], str(row["qubits"]), str(row["gates"]),
            *[_fmt_seconds(res.get(n)) for n in names],
            _fmt_ratio(row.get("ratio_to_fastest_peer")), _fmt_ratio(row.get("ratio_to_qsim")),
            f"{passes:.0f}" if passes is not None else "-", row.get("note", ""),
        ])
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    left = {0, len(header) - 1}

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    m = result.get("machine", {})
    out = [
        f"statevector benchmark: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, "
        f"threads={result.get('threads')}, precision={result.get('precision')}, "
        f"median of {result.get('repeats', '?')}",
        line(header),
        line(["-" * w for w in widths]),
        *[line(r) for r in body],
        "",
        "memory-bandwidth floor (one streaming read+write pass over the state):",
    ]
    for n, bw in sorted(result.get("bandwidth", {}).items(), key=lambda kv: int(kv[0])):
        out.append(f"  n={n}: {bw['pass_seconds']:.4g} s/pass, {bw['GBps']:.1f} GB/s")
    precisions: dict[str, str] = {}
    for row in result["rows"]:
        for n, e in row["results"].items():
            if e.get("precision"):
                precisions.setdefault(n, e["precision"])
    if precisions:
        out.append("precision: " + ", ".join(f"{n} {p}" for n, p in precisions.items()))
    out.append("vs best/vs qsim: qvalley seconds / peer seconds (lower is better); "
               "passes: qvalley seconds / pass seconds; '!' = state mismatch vs qvalley")
    checks = []
    for row in result["rows"]:
        for n, e in row["results"].items():
            if "fidelity" in e:
                checks.append(f"{n}@{row['circuit']}{row['qubits']}={e['fidelity']:.6f}")
    if checks:
        out.append("agreement (fidelity with qvalley): " + ", ".join(checks))
    out += [f"note: {x}" for x in result.get("notes", [])]
    return "\n".join(out)


__all__ = [
    "FIDELITY_THRESHOLD",
    "PEERS",
    "QSIM_FUSION",
    "SIMULATORS",
    "BenchCase",
    "PeerNotInstalled",
    "PreparedRun",
    "benchmark_cases",
    "cirq_qubit_order",
    "fidelity",
    "format_table",
    "machine_info",
    "memory_pass",
    "package_versions",
    "prepare",
    "run_benchmark",
    "set_numba_threads",
    "set_thread_env",
    "time_runs",
    "to_cirq",
    "to_qiskit",
    "to_qulacs",
]
