"""Service logic between the API and the store: validation limits, job specs, views, execution.

Nothing here knows about HTTP; the API maps :class:`~qvalley.cloud.errors.CloudError` to statuses.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import LimitError, NotFoundError, ValidationError
from .store import QUEUED, Store

FORMATS = {"openqasm3": "qasm3", "openqasm2": "qasm2", "qsim": "qsim"}
OPTION_KEYS = {"transpile", "optimization_level", "noise", "method", "seed", "memory"}


@dataclass(frozen=True)
class Limits:
    """Validation limits (answered with 413/422 naming the limit) and rate limits (429)."""

    max_shots: int = 100_000
    max_program_bytes: int = 256 * 1024
    max_circuits: int = 32
    max_tags: int = 16
    max_simulated_qubits: int = 30
    requests_per_second: float = 200.0
    burst: int = 400


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str, what: str) -> float:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{what}: not an ISO 8601 time: {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@lru_cache(maxsize=64)
def device(name: str) -> Any:
    """The device profile ``name`` (cached); :class:`NotFoundError` when unknown."""
    from ..devices import get_device, list_devices

    if name not in list_devices():
        raise NotFoundError(f"device {name!r} not found (devices: {', '.join(list_devices())})")
    return get_device(name)


_CAL_CACHE: dict[tuple[str, int], Any] = {}
_CAL_LOCK = threading.Lock()


def calibration_now(name: str) -> Any:
    """The calibration in force now for device ``name`` (cached per snapshot day)."""
    from ..devices import generate_calibration, snapshot_day

    dev = device(name)
    if dev.calibration_model is None:
        return None
    day = snapshot_day(dev, None)
    key = (name, day)
    with _CAL_LOCK:
        cal = _CAL_CACHE.get(key)
    if cal is None:
        cal = generate_calibration(dev, day)
        with _CAL_LOCK:
            _CAL_CACHE[key] = cal
    return cal


def parse_program(fmt: str, source: str, index: int) -> Any:
    """Parse program ``index`` of a job; errors name the program and the position.

    Parsed circuits are cached by ``(format, source)`` (the API parses at submit to validate, the
    in-process worker again to run); circuits are values and are never mutated here."""
    from .._errors import QValleyError

    if fmt not in FORMATS:
        raise ValidationError(f"programs[{index}].format: {fmt!r} is not one of {', '.join(FORMATS)}")
    try:
        return _parse_cached(FORMATS[fmt], source)
    except QValleyError as exc:
        raise ValidationError(f"programs[{index}]: {exc}") from None
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        raise ValidationError(f"programs[{index}]: cannot parse: {exc}") from None


@lru_cache(maxsize=512)
def _parse_cached(fmt: str, source: str) -> Any:
    from .. import loads

    return loads(source, fmt)


def validate_body(body: dict[str, Any], limits: Limits) -> tuple[dict[str, Any], list[Any]]:
    """Check a job body against the limits; returns the normalised spec and the parsed circuits."""
    dev = device(body["device"])
    shots = int(body["shots"])
    if shots < 1 or shots > limits.max_shots:
        raise LimitError(f"shots: {shots} is outside the limit 1..{limits.max_shots} (max_shots)")
    programs = body["programs"]
    if not programs:
        raise ValidationError("programs: at least one program is required")
    if len(programs) > limits.max_circuits:
        raise LimitError(f"programs: {len(programs)} circuits exceed the limit of "
                         f"{limits.max_circuits} circuits per job (max_circuits)")
    tags = list(body.get("tags") or [])
    if len(tags) > limits.max_tags or any(len(t) > 64 for t in tags):
        raise LimitError(f"tags: at most {limits.max_tags} tags of at most 64 characters (max_tags)")
    options = dict(body.get("options") or {})
    unknown = set(options) - OPTION_KEYS
    if unknown:
        raise ValidationError(f"options: unknown option(s) {sorted(unknown)}; known: {sorted(OPTION_KEYS)}")
    from ..emulator import METHODS

    method = options.get("method", "auto")
    if method not in METHODS:
        raise ValidationError(f"options.method: {options['method']!r} is not one of {', '.join(METHODS)}")
    if method == "tensornet" and options.get("noise", True) and dev.calibration_model is not None:
        raise ValidationError("options.noise: the tensornet method is noiseless; set noise to false "
                              "(or choose method density or trajectories for a noisy run)")
    level = options.get("optimization_level", 2)
    if level not in (0, 1, 2, 3):
        raise ValidationError("options.optimization_level: must be 0, 1, 2 or 3")
    circuits = []
    for i, p in enumerate(programs):
        size = len(p["source"].encode())
        if size > limits.max_program_bytes:
            raise LimitError(f"programs[{i}]: {size} bytes exceed the program size limit of "
                             f"{limits.max_program_bytes} bytes (max_program_bytes)")
        c = parse_program(p["format"], p["source"], i)
        if c.num_qubits > dev.num_qubits:
            raise LimitError(f"programs[{i}]: {c.num_qubits} qubits exceed the {dev.num_qubits} qubits "
                             f"of device {dev.name} (qubits per device)")
        used = len({q for op in c.operations for q in op.qubits})  # the emulator simulates only these
        if used > limits.max_simulated_qubits and not _any_width(c, method, dev):
            raise LimitError(f"programs[{i}]: {used} qubits in use exceed the emulation limit of "
                             f"{limits.max_simulated_qubits} qubits (max_simulated_qubits) for the "
                             f"{method} method on {dev.name}; wider circuits run with method "
                             "tensornet (noise off) or, for Clifford circuits on a device with a "
                             "CZ/CX native gate, stabilizer")
        circuits.append(c)
    spec = {"programs": [{"format": p["format"], "source": p["source"]} for p in programs],
            "options": options}
    return spec, circuits


_CLIFFORD_ENTANGLERS = {"cx", "cy", "cz", "swap", "iswap", "ecr"}


def _any_width(circuit: Any, method: str, dev: Any) -> bool:
    """Whether ``method`` simulates ``circuit`` on ``dev`` without a state of 2^n entries: the
    tensor-network method always; the stabilizer method (also picked by ``auto``) for a Clifford
    circuit on a device with a Clifford two-qubit native gate, so that the transpiled circuit is
    Clifford too (on an fSim-only chip it is not)."""
    if method == "tensornet":
        return True
    if method in ("auto", "stabilizer") and _CLIFFORD_ENTANGLERS & set(dev.native_gates):
        from ..sim.stabilizer import is_clifford

        return bool(is_clifford(circuit))
    return False


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def job_view(row: dict[str, Any], store: Store | None = None) -> dict[str, Any]:
    """The public JSON of a job row (no result: that is ``/result``)."""
    tl = json.loads(row["timeline"])
    view: dict[str, Any] = {
        "id": row["id"], "device": row["device"], "status": row["status"], "phase": row["phase"],
        "shots": row["shots"], "num_circuits": row["num_circuits"], "tags": json.loads(row["tags"]),
        "created_at": iso(row["created_at"]), "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]), "timestamps": {k: iso(v) for k, v in tl.items()},
        "calibration_id": row["calibration_id"], "attempt": row["attempt"],
        "failure": ({"code": row["error_code"], "message": row["error_message"]}
                    if row["error_code"] else None),
        "queue_position": None, "estimated_start": None,
    }
    if row["status"] == QUEUED and store is not None and "seq" in row:
        pos, wait = store.queue_position(row)
        view["queue_position"] = pos
        view["estimated_start"] = iso(time.time() + wait)
    return view


def sample_memory(counts: dict[str, int], seed: int | None) -> list[str]:
    """Per-shot outcomes consistent with ``counts``: the multiset of outcomes in a seeded random
    order. Shots of one run are independent and identically distributed, so a uniformly random
    order of the counted outcomes has the same distribution as the shot sequence."""
    shots = [k for k, n in sorted(counts.items()) for _ in range(n)]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(shots))
    return [shots[i] for i in order]


def execute(spec: dict[str, Any], device_name: str, shots: int,
            phase: Any = lambda p: True, cluster: Any = None) -> tuple[dict[str, Any], str | None]:
    """Run a job's circuits on the emulated device; ``phase(name)`` is called at each phase
    boundary and returns ``False`` to stop (cancellation). ``cluster`` (a Dask ``Client``) takes
    the slices of tensor-network contractions. Returns ``(result, calibration id)``."""
    from ..emulator import run_on_device
    from ..transpile import transpile

    opts = spec.get("options", {})
    seed = opts.get("seed")
    dev = device(device_name)
    cal = calibration_now(device_name)
    if not phase("validating"):
        return {}, None
    circuits = [parse_program(p["format"], p["source"], i) for i, p in enumerate(spec["programs"])]
    out = []
    for i, c in enumerate(circuits):
        t0 = time.perf_counter()
        if not phase("transpiling"):
            return {}, None
        program = None
        if opts.get("transpile", True) and device_name != "ideal":
            from ..emulator import native_fit
            from ..formats import dumps

            if native_fit(c, dev) is not None:
                from ..sim.stabilizer import is_clifford

                # by default level 1 for a Clifford circuit, as run_on_device does: level 2's
                # two-qubit resynthesis yields arbitrary angles, and the stabilizer method is lost
                level = opts.get("optimization_level", 1 if is_clifford(c) else 2)
                tr = transpile(c, dev, calibration=cal, seed=seed if isinstance(seed, int) else 0,
                               optimization_level=level)
                c = tr.circuit
            program = dumps(c, "qasm3")
        t1 = time.perf_counter()
        if not phase("executing"):
            return {}, None
        s = None if seed is None else int(seed) + i
        run = run_on_device(c, dev, shots=shots, seed=s, noise=bool(opts.get("noise", True)),
                            method=opts.get("method", "auto"), calibration=cal, cluster=cluster)
        t2 = time.perf_counter()
        entry: dict[str, Any] = {"counts": run.counts, "shots": run.shots, "num_qubits": run.num_qubits,
                                 "method": run.method, "noise": run.noise, "transpiled_program": program,
                                 "timings": {"transpile_s": t1 - t0, "execute_s": t2 - t1}}
        if opts.get("memory"):
            entry["memory"] = sample_memory(run.counts, s)
        out.append(entry)
    if not phase("postprocessing"):
        return {}, None
    return {"results": out, "bit_order": "qubit 0 is the rightmost character"}, getattr(cal, "id", None)


__all__ = ["FORMATS", "Limits", "body_hash", "calibration_now", "device", "execute", "iso", "job_view",
           "parse_iso", "parse_program", "sample_memory", "validate_body"]
