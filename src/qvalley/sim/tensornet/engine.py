"""Plans (cotengra path search with slicing to a memory cap), amplitudes, batches and sampling.

Bit order: qubit ``k`` is bit ``k`` of a basis index; in a bitstring qubit 0 is the rightmost
character.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...circuit import Circuit
from ..statevector.engine import as_rng
from .executor import Executor, contract
from .network import (
    Network,
    Simplified,
    TensorNetworkError,
    batch_simplified,
    build_network,
    replay,
    simplify,
)

DEFAULT_MAX_MEMORY = 8 * 2**30
DEFAULT_BATCH = 64  # most bitstrings per batched contraction
BATCH_CACHE_BYTES = 4 * 2**20  # B * largest one-bitstring intermediate (docs/performance.md)
# path objective: FLOPs + 64 x writes gave 2-9x faster contractions than FLOPs alone for RCS
# circuits whose steps are memory-bound (docs/performance.md)
DEFAULT_MINIMIZE = "combo"
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_memory(text: str | int) -> int:
    """Bytes from ``"8GiB"``, ``"512MB"``, ``"1e9"`` or an int."""
    if isinstance(text, int):
        value = text
    else:
        m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", str(text))
        if not m or m.group(2).lower() not in _UNITS:
            raise TensorNetworkError(f"memory size {text!r} is not like 8GiB, 512MB or 1e9")
        try:
            value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
        except ValueError:
            raise TensorNetworkError(f"memory size {text!r} is not a number") from None
    if value < 1024:
        raise TensorNetworkError(f"memory cap {text!r} is below 1 KiB")
    return value


def cache_dir() -> Path:
    """Where contraction paths are cached (``$QVALLEY_CACHE`` or ``~/.cache/qvalley``)."""
    base = os.environ.get("QVALLEY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qvalley")
    return Path(base) / "cotengra-paths"


def _itemsize(precision: str) -> int:
    if precision not in ("single", "double"):
        raise TensorNetworkError(f"precision must be single or double, got {precision!r}")
    return 8 if precision == "single" else 16


_RATE: dict[str, float] = {}


def measured_rate(precision: str = "double") -> float:
    """Complex multiply-adds per second of one BLAS matmul on this machine (measured once)."""
    if precision not in _RATE:
        dt = np.complex64 if precision == "single" else np.complex128
        a: np.ndarray = (np.random.default_rng(0).standard_normal((384, 384)) + 0j).astype(dt)
        np.matmul(a, a)
        t0 = time.perf_counter()
        for _ in range(3):
            np.matmul(a, a)
        _RATE[precision] = 3 * 384**3 / (time.perf_counter() - t0)
    return _RATE[precision]


@dataclass
class Plan:
    """A contraction plan for one network structure: simplified network + cotengra tree."""

    simplified: Simplified
    tree: Any
    precision: str
    max_memory: int
    search_seconds: float
    executor: Executor = field(repr=False)
    open_qubits: tuple[int, ...] = ()
    batch: int = 0  # B > 0: bitstrings per contraction (batch hyperindex, first output axis)

    @property
    def log10_flops(self) -> float:
        return float(math.log10(max(float(self.tree.contraction_cost()), 1.0)))

    @property
    def largest_tensor_log2(self) -> float:
        return float(math.log2(max(float(self.tree.max_size()), 1.0)))

    @property
    def slices(self) -> int:
        return int(self.tree.nslices)

    def report(self) -> dict[str, Any]:
        """The cost before contracting: FLOPs, largest intermediate, slices, estimated time."""
        isz = _itemsize(self.precision)
        cost = float(self.tree.contraction_cost())
        rate = measured_rate(self.precision)
        return {"log10_flops": round(self.log10_flops, 4),
                "largest_tensor_log2": round(self.largest_tensor_log2, 4),
                "largest_tensor_bytes": int(self.tree.max_size()) * isz,
                "slices": self.slices,
                "tensors": len(self.simplified.inputs),
                "precision": self.precision,
                "max_memory_bytes": self.max_memory,
                "search_seconds": round(self.search_seconds, 3),
                "batch": self.batch,
                "measured_rate_flops": rate,
                "estimated_seconds": cost / rate}


def _tree_search(simp: Simplified, target_size: int, search_time: float, cache: bool,
                 max_repeats: int, minimize: str = DEFAULT_MINIMIZE) -> Any:
    import cotengra as ctg

    methods = ["greedy"]
    try:
        import kahypar  # noqa: F401

        methods.append("kahypar")
    except ImportError:
        pass
    opts: dict[str, Any] = dict(methods=methods, max_time=search_time, max_repeats=max_repeats,
                                minimize=minimize, parallel=False, progbar=False,
                                slicing_reconf_opts={"target_size": target_size, "allow_outer": False},
                                on_trial_error="ignore")
    inputs = [list(t) for t in simp.inputs]
    output = list(simp.output)
    if len(inputs) == 1:
        return ctg.ContractionTree(inputs, output, simp.size_dict)
    if cache:
        d = cache_dir()
        if minimize != "flops":  # the cache is keyed by the network only: one folder per objective
            d = d / f"minimize-{minimize}"
        d.mkdir(parents=True, exist_ok=True)
        opt = ctg.ReusableHyperOptimizer(directory=str(d), **opts)
    else:
        opt = ctg.HyperOptimizer(**opts)
    tree = opt.search(inputs, output, simp.size_dict)
    if tree.max_size() > target_size:  # a cached tree from a looser cap, or greedy-only
        tree = slice_to(tree, target_size)
    return tree


def slice_to(tree: Any, target_size: int, allow_outer: bool = True, seed: int = 0) -> Any:
    """A copy of ``tree`` sliced (and its subtrees reconfigured) until no intermediate exceeds
    ``target_size``: cotengra's ``slice_and_reconfigure`` with its random choices seeded, so the
    same tree and cap always give the same slices. (Unseeded, a second run could slice
    differently and refuse the checkpoint the first run wrote.)"""
    import random

    rng = random.Random(seed)
    tree = tree.copy()
    while tree.max_size() > target_size:
        tree.slice_(target_slices=2, allow_outer=allow_outer, seed=rng)
        tree.subtree_reconfigure_(seed=rng)
    return tree


def plan_network(simp: Simplified, precision: str = "double",
                 max_memory: int | str = DEFAULT_MAX_MEMORY, search_time: float = 5.0,
                 cache: bool = True, max_repeats: int = 256,
                 minimize: str = DEFAULT_MINIMIZE) -> Plan:
    """Search a contraction tree for ``simp`` whose largest intermediate fits ``max_memory``.

    Slicing is part of the search (cotengra's ``slicing_reconf_opts`` with a target size of
    ``max_memory / (3 * itemsize)`` elements: two operands and the result of a step must fit).
    ``minimize`` is cotengra's objective: ``"combo"`` (default: FLOPs + 64 x memory writes,
    trees that run faster where steps are memory-bound, see docs/performance.md), ``"flops"``,
    ``"write"`` or ``"size"``.
    """
    if minimize not in ("flops", "combo", "write", "size"):
        raise TensorNetworkError(f"minimize must be flops, combo, write or size, got {minimize!r}")
    cap = parse_memory(max_memory)
    target = _target_size(cap, precision)
    t0 = time.perf_counter()
    tree = _tree_search(simp, target, float(search_time), cache, max_repeats, minimize)
    return Plan(simp, tree, precision, cap, time.perf_counter() - t0,
                Executor(tree, simp.variable))


def _target_size(max_memory: int, precision: str) -> int:
    """Largest intermediate (elements) under ``max_memory``: two operands and a result."""
    return max(2, 2 ** math.floor(math.log2(max(max_memory // (3 * _itemsize(precision)), 2))))


def batch_plan(single: Plan, batch: int, index: str) -> Plan:
    """The plan of ``single`` for ``batch`` bitstrings at once (batch index ``index``).

    No new search: the tree has ``single``'s contraction path and slices, every node that
    depends on the output vectors carries the batch index, so the FLOPs per bitstring of that
    part are unchanged while each pairwise step runs once for the whole batch (a batched
    matmul where both operands carry it). If the batched intermediates exceed the memory cap,
    the tree is sliced further (:func:`slice_to`, output indices kept).
    """
    import cotengra as ctg

    t0 = time.perf_counter()
    simp = batch_simplified(single.simplified, batch, index)
    tree = ctg.ContractionTree.from_path([list(t) for t in simp.inputs], list(simp.output),
                                         simp.size_dict, path=single.tree.get_path())
    for ix in single.tree.sliced_inds:
        tree.remove_ind_(ix)
    target = _target_size(single.max_memory, single.precision)
    if tree.max_size() > target:
        tree = slice_to(tree, target, allow_outer=False)
    return Plan(simp, tree, single.precision, single.max_memory, time.perf_counter() - t0,
                Executor(tree, simp.variable, lead=index), single.open_qubits, batch)


def _check_bits(circuit: Circuit, bitstrings: Iterable[str | int]) -> list[str]:
    n = circuit.num_qubits
    out = []
    for b in bitstrings:
        if isinstance(b, str):
            if len(b) != n or any(ch not in "01" for ch in b):
                raise TensorNetworkError(f"bitstring {b!r} must be {n} characters of 0/1 "
                                         "(qubit 0 rightmost)")
            out.append(b)
        else:
            if not 0 <= int(b) < (1 << n):
                raise TensorNetworkError(f"basis index {b} out of range for {n} qubits")
            out.append(format(int(b), f"0{n}b"))
    return out


def choose_open(bitstrings: Sequence[str], max_open: int = 10,
                min_gain: float = 1.0) -> tuple[int, ...]:
    """Qubits to leave open so the bitstrings fall into as few groups as possible (greedy).

    A qubit is opened only if it brings the number of groups down to at most ``min_gain``
    times the current number (``1.0``: any decrease). An open qubit about doubles the work of
    each contraction, so for batched contractions (whose cost is per group) ``0.5`` is
    break-even (taken: fewer, larger contractions).
    """
    if len(bitstrings) < 2:
        return ()
    n = len(bitstrings[0])
    chosen: list[int] = []
    groups = len(set(bitstrings))
    limit = min(max_open, n, int(math.log2(len(bitstrings))) + 2)
    while len(chosen) < limit:
        best = None
        for q in range(n):
            if q in chosen:
                continue
            cols = {n - 1 - c for c in chosen + [q]}
            g = len({"".join(ch for j, ch in enumerate(b) if j not in cols) for b in bitstrings})
            if best is None or g < best[1]:
                best = (q, g)
        if best is None or best[1] >= groups or best[1] > groups * min_gain:
            break
        chosen.append(best[0])
        groups = best[1]
    return tuple(sorted(chosen))


class TensorNetworkSimulator:
    """Amplitudes and samples of one circuit by tensor-network contraction.

    Plans are made once per set of open qubits and reused for every bitstring (the structure of
    the network does not depend on the bitstring); contractions that do not touch the output
    vectors are cached between bitstrings.

    Args:
        circuit: the circuit (terminal measurements are ignored).
        precision: ``"single"`` (complex64) or ``"double"`` (complex128).
        max_memory: cap on the largest intermediate's memory, bytes or ``"8GiB"``.
        search_time: seconds of path search per plan (bounded; cached on disk).
        threads: local threads for slices.
        cluster: a Dask ``Client``, an address or ``"local"``.
        backend: ``"numpy"`` or ``"cupy"`` (lazy import).
        batch_size: most bitstrings per batched contraction (``None``: :data:`DEFAULT_BATCH`);
            lowered to fit ``max_memory`` and the CPU caches (:meth:`batch_for`).
        minimize: the path search's objective (:func:`plan_network`).
    """

    def __init__(self, circuit: Circuit, precision: str = "double",
                 max_memory: int | str = DEFAULT_MAX_MEMORY, search_time: float = 5.0,
                 threads: int | None = None, cluster: Any = None, backend: str = "numpy",
                 cache: bool = True, progress: bool | None = None,
                 checkpoint: str | Path | None = None, max_repeats: int = 256,
                 batch_size: int | None = None, minimize: str = DEFAULT_MINIMIZE) -> None:
        self.circuit = circuit
        self.n = circuit.num_qubits
        self.precision = precision
        self.dtype = np.complex64 if _itemsize(precision) == 8 else np.complex128
        self.max_memory = parse_memory(max_memory)
        self.search_time = search_time
        self.threads = threads if threads is not None else (os.cpu_count() or 1)
        self.cluster = cluster
        self.backend = backend
        self.cache = cache
        self.progress = progress
        self.checkpoint = checkpoint
        self.max_repeats = max_repeats
        if batch_size is not None and int(batch_size) < 1:
            raise TensorNetworkError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size) if batch_size is not None else DEFAULT_BATCH
        self.minimize = minimize
        self._plans: dict[tuple[int, ...], tuple[Network, Plan, dict[int, np.ndarray]]] = {}
        self._bplans: dict[tuple[tuple[int, ...], int],
                           tuple[Network, Plan, dict[int, np.ndarray]]] = {}
        self._groups = 1
        # (open qubits, B) -> whether batched contractions were faster than one at a time
        self._batched: dict[tuple[tuple[int, ...], int], bool] = {}

    def plan(self, open_qubits: Sequence[int] = (), batch: int = 0) -> Plan:
        """The plan for amplitudes with ``open_qubits`` left open (made once, then reused).

        With ``batch = B > 0`` the plan contracts ``B`` bitstrings at once: the output vectors
        of the fixed qubits carry a shared batch index (see :func:`.build_network`). Plans are
        cached per ``(open_qubits, B)`` here and their trees on disk.
        """
        key = tuple(sorted(open_qubits))
        if key not in self._plans:
            fixed = {q: 0 for q in range(self.n) if q not in key}
            net = build_network(self.circuit, fixed, key)
            simp = simplify(net)
            pl = plan_network(simp, self.precision, self.max_memory, self.search_time,
                              self.cache, self.max_repeats, self.minimize)
            pl.open_qubits = key
            self._plans[key] = (net, pl, {})
        if not batch:
            return self._plans[key][1]
        if (key, batch) not in self._bplans:
            fixed = {q: 0 for q in range(self.n) if q not in key}
            net = build_network(self.circuit, fixed, key, batch=batch)
            pl = batch_plan(self._plans[key][1], batch, net.output[0])
            self._bplans[(key, batch)] = (net, pl, {})
        return self._bplans[(key, batch)][1]

    def release_buffers(self) -> None:
        """Free the executors' pooled intermediates (kept between calls to spare the page faults
        of writing fresh memory; about the size of the plan's largest intermediates)."""
        for _, pl, _ in (*self._plans.values(), *self._bplans.values()):
            pl.executor.release_buffers()

    def batch_for(self, open_qubits: Sequence[int], count: int) -> int:
        """Bitstrings per batched contraction for ``count`` groups with ``open_qubits`` open
        (0: contract them one at a time).

        ``B`` is a power of two: the smallest covering ``count``, at most ``batch_size``, small
        enough that ``B`` times the largest intermediate of the one-bitstring plan fits the
        memory cap, and that it stays within :data:`BATCH_CACHE_BYTES` (batched intermediates
        that fall out of the CPU caches make every step memory-bound; measured in
        docs/performance.md). ``B`` is at least 2: a one-bitstring plan already at the memory
        cap is sliced further for its batched form.
        """
        key = tuple(sorted(open_qubits))
        if count < 2 or len(key) == self.n or self.batch_size < 2:
            return 0
        b = min(1 << (count - 1).bit_length(), 1 << (self.batch_size.bit_length() - 1))
        largest = max(int(self.plan(key).tree.max_size()), 1)
        for room in (_target_size(self.max_memory, self.precision) // largest,
                     BATCH_CACHE_BYTES // (largest * _itemsize(self.precision))):
            b = min(b, 1 << max(1, int(room).bit_length() - 1))
        return max(2, b)

    def _leaves(self, net: Network, key: tuple[int, ...], bits: Sequence[str],
                batch: int) -> list[np.ndarray]:
        leaves = list(net.arrays)
        # output vectors are the last leaves, in increasing qubit order of the fixed qubits
        fixedq = [q for q in range(self.n) if q not in key]
        base = len(leaves) - len(fixedq)
        if not batch:
            for j, q in enumerate(fixedq):
                leaves[base + j] = np.eye(2, dtype=np.complex128)[int(bits[0][self.n - 1 - q])]
            return leaves
        # (rows, n) 0/1 matrix, column q = qubit q; rows past len(bits) stay zero (padding)
        mat = np.frombuffer("".join(bits).encode(), dtype=np.uint8).reshape(len(bits), self.n)
        mat = (mat[:, ::-1] - ord("0")).astype(np.intp)
        rows = np.arange(len(bits))
        for j, q in enumerate(fixedq):
            v = np.zeros((batch, 2), dtype=np.complex128)
            v[rows, mat[:, q]] = 1.0
            leaves[base + j] = v
        return leaves

    def _contract(self, key: tuple[int, ...], bits: str | Sequence[str],
                  batch: int = 0) -> np.ndarray:
        """One contraction: ``bits`` is one bitstring (result ``(2**k,)``) or, with ``batch``,
        up to ``batch`` bitstrings (result ``(len(bits), 2**k)``)."""
        group = [bits] if isinstance(bits, str) else list(bits)
        self.plan(key, batch)
        net, pl, cache = self._bplans[(key, batch)] if batch else self._plans[key]
        leaves = self._leaves(net, key, group, batch)
        arrays = [a.astype(self.dtype, copy=False)
                  for a in replay(pl.simplified, leaves, net.variable, cache)]
        ck_key = hashlib.sha256((repr(pl.tree.get_path()) + repr(sorted(pl.tree.sliced_inds))
                                 + ",".join(group) + self.precision).encode()).hexdigest()
        ck = None
        if self.checkpoint is not None:
            ck = Path(self.checkpoint)
            if self._groups > 1:  # one file per contraction: FILE.<key>.npz next to FILE
                ck = ck.with_name(f"{ck.stem}.{ck_key[:12]}.npz")
        res = contract(pl.executor, arrays, threads=self.threads, cluster=self.cluster,
                       checkpoint=ck, key=ck_key, progress=self.progress,
                       backend=self.backend, use_cache=pl.slices == 1)
        if batch:
            return np.asarray(res).reshape(batch, -1)[:len(group)]
        return np.asarray(res).reshape(-1)

    def amplitudes(self, bitstrings: Iterable[str | int], batch: bool = True,
                   max_open: int = 10) -> np.ndarray:
        """Amplitudes of basis states (bitstrings with qubit 0 rightmost, or integers).

        With ``batch`` the bitstrings are grouped by the qubits :func:`choose_open` leaves open
        (one contraction yields every amplitude of a group), and the groups are contracted
        ``B`` at a time (:meth:`batch_for`) through one network whose output vectors carry a
        batch index. Whether that beats one contraction per group depends on the tree and the
        machine, so the first call with at least four batches times both ways on its own
        batches and the simulator keeps the faster for that plan (the amplitudes agree to
        rounding either way). Without ``batch`` every bitstring is one contraction (the
        reference).
        """
        bits = _check_bits(self.circuit, bitstrings)
        out = np.empty(len(bits), dtype=self.dtype)
        opens = choose_open(bits, max_open, min_gain=0.5) if batch else ()
        groups: dict[str, list[int]] = {}
        cols = {self.n - 1 - q for q in opens}
        for i, b in enumerate(bits):
            groups.setdefault("".join("0" if j in cols else ch for j, ch in enumerate(b)), []).append(i)
        reps = list(groups)
        bsz = self.batch_for(opens, len(reps)) if batch else 0
        if bsz and self._batched.get((opens, bsz)) is False:
            bsz = 0  # measured on this plan: one contraction per group was faster
        chunks = [reps[j:j + bsz] for j in range(0, len(reps), bsz)] if bsz else [[r] for r in reps]
        self._groups = len(chunks)
        # first call with >= 4 batches: batches 0 and 2 batched, 1 and 3 one group at a time
        # (0 and 1 fill the caches, 2 and 3 are timed); the faster way does the rest
        trial = bool(bsz) and (opens, bsz) not in self._batched and len(chunks) >= 4
        spent = [0.0, 0.0]
        for ci, chunk in enumerate(chunks):
            t0 = time.perf_counter()
            if bsz and not (trial and ci in (1, 3)) and self._batched.get((opens, bsz), True):
                vecs = self._contract(opens, chunk, bsz)
            else:
                vecs = np.stack([self._contract(opens, r) for r in chunk])
            if trial and ci in (2, 3):
                spent[ci - 2] = time.perf_counter() - t0
                if ci == 3:
                    self._batched[(opens, bsz)] = spent[0] <= spent[1]
            for rep, vec in zip(chunk, vecs, strict=True):
                for i in groups[rep]:
                    b = bits[i]
                    k = sum(int(b[self.n - 1 - q]) << j for j, q in enumerate(opens))
                    out[i] = vec[k]
        return out

    def open_amplitudes(self, open_qubits: Sequence[int], fixed_bits: str) -> np.ndarray:
        """All ``2**k`` amplitudes with ``open_qubits`` open and the rest set from
        ``fixed_bits`` (characters at open qubits ignored); bit ``j`` of the result's index is
        ``sorted(open_qubits)[j]``."""
        key = tuple(sorted(open_qubits))
        return self._contract(key, _check_bits(self.circuit, [fixed_bits])[0])

    def sample(self, shots: int, seed: int | np.random.Generator | None = None,
               exact_max: int = 22, frugal_m: float = 10.0) -> dict[str, int]:
        """Measurement counts ``{bitstring: count}`` (qubit 0 rightmost).

        Up to ``exact_max`` qubits every amplitude comes from one contraction with all qubits
        open and sampling is exact. Beyond that: frugal rejection sampling (candidates uniform,
        accepted with probability ``min(1, 2**n p / frugal_m)``), exact except for the
        (Porter-Thomas: ``e**-frugal_m``) mass above the bound.
        """
        rng = as_rng(seed)
        if shots < 0:
            raise TensorNetworkError(f"shots must be >= 0, got {shots}")
        if self.n <= exact_max:
            vec = self.open_amplitudes(range(self.n), "0" * self.n)
            p = np.abs(vec.astype(np.complex128)) ** 2
            p = p / p.sum()
            idx = rng.choice(p.size, size=shots, p=p)
            vals, cnt = np.unique(idx, return_counts=True)
            return {format(int(v), f"0{self.n}b"): int(c) for v, c in zip(vals, cnt, strict=True)}
        counts: dict[str, int] = {}
        got = 0
        while got < shots:
            m = max(16, int((shots - got) * frugal_m * 1.2))
            cand = [format(int(x), f"0{self.n}b") for x in
                    (rng.integers(0, 2, size=(m, self.n)) @ (1 << np.arange(self.n)[::-1]))] \
                if self.n < 63 else ["".join(rng.choice(["0", "1"], self.n)) for _ in range(m)]
            amps = self.amplitudes(cand, max_open=0)  # batched, no open qubits
            acc = rng.random(m) < np.minimum(1.0, (2.0**self.n) * np.abs(amps) ** 2 / frugal_m)
            for b, a in zip(cand, acc, strict=True):
                if a and got < shots:
                    counts[b] = counts.get(b, 0) + 1
                    got += 1
        return counts


def amplitudes(circuit: Circuit, bitstrings: Iterable[str | int], precision: str = "double",
               max_memory: int | str = DEFAULT_MAX_MEMORY, search_time: float = 5.0,
               cluster: Any = None, threads: int | None = None) -> np.ndarray:
    """Amplitudes ``<b|U|0...0>`` by tensor-network contraction (qubit 0 rightmost in ``b``).

    Examples:
        >>> import qvalley
        >>> from qvalley.sim.tensornet import amplitudes
        >>> amplitudes(qvalley.Circuit(2).h(0).cx(0, 1), ["00", "11"], search_time=0.1).round(3)
        array([0.707+0.j, 0.707+0.j])
    """
    sim = TensorNetworkSimulator(circuit, precision, max_memory, search_time, threads, cluster)
    return sim.amplitudes(bitstrings)


def run(circuit: Circuit, shots: int = 1024, seed: int | np.random.Generator | None = None,
        precision: str = "double", max_memory: int | str = DEFAULT_MAX_MEMORY,
        search_time: float = 5.0, cluster: Any = None) -> Any:
    """Measurement counts by tensor-network sampling, as a statevector ``Result``
    (classical bit 0 rightmost). Only terminal measurements are supported; a circuit without
    measurements is measured on all qubits."""
    from ...circuit.gates import Measure
    from ..statevector.engine import Result, split_terminal_measurements

    body, terminal = split_terminal_measurements(circuit)
    if any(isinstance(op.gate, Measure) for op in body) or any(
            op.gate.name == "reset" for op in body):
        raise TensorNetworkError("the tensor-network method needs measurements at the end only")
    sim = TensorNetworkSimulator(circuit, precision, max_memory, search_time, cluster=cluster)
    raw = sim.sample(shots, seed)
    if not terminal:
        return Result(raw, shots, circuit.num_qubits, method="tensornet")
    n, nc = circuit.num_qubits, circuit.num_clbits
    counts: dict[str, int] = {}
    for b, k in raw.items():
        out = ["0"] * nc
        for q, c in terminal:
            out[nc - 1 - c] = b[n - 1 - q]
        key = "".join(out)
        counts[key] = counts.get(key, 0) + k
    return Result(counts, shots, circuit.num_qubits, method="tensornet")
