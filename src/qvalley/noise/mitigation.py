"""Readout-error mitigation: invert the confusion matrices, then project onto probabilities.

Bit order: in bitstrings classical bit 0 is the rightmost character; ``readout_errors[j]`` (a list
or a dict) is the error of classical bit ``j``.

The inverted quasi-probabilities can be negative; :func:`nearest_probability_distribution` returns
the probability vector closest in Euclidean norm (Smolin, Gambetta, Smith, PRL 108, 070502 (2012)).

Examples:
    >>> from qvalley.noise import ReadoutError
    >>> out = mitigate_counts({"0": 90, "1": 10}, [ReadoutError(0.0, 0.1)])
    >>> round(out["0"], 6)
    1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import NoiseError
from .channels import ReadoutError

METHODS = ("tensored", "matrix")
MAX_MATRIX_BITS = 12
MAX_TENSORED_BITS = 24


def readout_calibration_matrices(readout_errors: Mapping[int, ReadoutError] | Sequence[ReadoutError | None],
                                 num_bits: int | None = None) -> list[np.ndarray]:
    """Per-bit confusion matrices ``M[measured, true]`` (identity where no error is given)."""
    errs = _as_dict(readout_errors)
    n = num_bits if num_bits is not None else (max(errs) + 1 if errs else 0)
    return [errs[j].matrix if j in errs else np.eye(2) for j in range(n)]


def readout_errors_from_counts(counts_zero: Mapping[str, int], counts_one: Mapping[str, int]
                               ) -> list[ReadoutError]:
    """Per-bit readout errors estimated from two calibration runs: all qubits prepared in 0, and
    all prepared in 1 (both measured into bits ``0..n-1``)."""
    n = len(next(iter(counts_zero)))
    out = []
    for j in range(n):
        tot0 = sum(counts_zero.values())
        tot1 = sum(counts_one.values())
        p1_0 = sum(k for b, k in counts_zero.items() if b[n - 1 - j] == "1") / tot0
        p0_1 = sum(k for b, k in counts_one.items() if b[n - 1 - j] == "0") / tot1
        out.append(ReadoutError(p0_1, p1_0))
    return out


def _as_dict(readout_errors: Any) -> dict[int, ReadoutError]:
    if isinstance(readout_errors, Mapping):
        items = [(int(k), v) for k, v in readout_errors.items()]
    else:
        items = list(enumerate(readout_errors))
    out = {}
    for j, e in items:
        if e is None:
            continue
        if not isinstance(e, ReadoutError):
            raise NoiseError(f"readout error of bit {j} must be a ReadoutError, got {type(e).__name__}")
        out[j] = e
    return out


def nearest_probability_distribution(quasi: np.ndarray) -> np.ndarray:
    """The probability vector nearest (2-norm) to ``quasi``, a real vector summing to 1.

    Smolin–Gambetta–Smith: walk the entries from the most negative up, zeroing each while it plus
    its share of the accumulated negative mass stays negative, then spread that mass evenly over
    the rest.

    Examples:
        >>> nearest_probability_distribution(np.array([0.6, 0.5, -0.1])).round(3)
        array([0.55, 0.45, 0.  ])
    """
    q = np.asarray(quasi, dtype=float)
    total = q.sum()
    if total <= 0:
        raise NoiseError(f"quasi-probabilities must have a positive sum, got {total:.6g}")
    q = q / total
    order = np.argsort(q)
    vals = q[order]
    dim = vals.size
    acc = 0.0
    out = np.zeros(dim)
    i = 0
    while i < dim and vals[i] + acc / (dim - i) < 0:
        acc += vals[i]
        i += 1
    if i < dim:
        out[i:] = vals[i:] + acc / (dim - i)
    res = np.empty(dim)
    res[order] = out
    return res


def mitigate_counts(counts: Mapping[str, int | float],
                    readout_errors: Mapping[int, ReadoutError] | Sequence[ReadoutError | None] | np.ndarray,
                    method: str = "tensored") -> dict[str, float]:
    """Mitigated probabilities ``{bitstring: p}`` (always a valid distribution; zeros left out).

    ``method="tensored"`` applies each bit's inverse confusion matrix (product readout noise, up to
    24 bits); ``"matrix"`` solves with the full ``2^n × 2^n`` matrix (up to 12 bits), which may also
    be given directly as ``readout_errors`` (correlated readout noise; ``M[measured, true]``).
    """
    if method not in METHODS:
        raise NoiseError(f"method must be one of {METHODS}, got {method!r}")
    if not counts:
        raise NoiseError("counts are empty")
    widths = {len(b) for b in counts}
    if len(widths) != 1:
        raise NoiseError(f"bitstrings have different lengths: {sorted(widths)}")
    n = widths.pop()
    for b in counts:
        if any(ch not in "01" for ch in b):
            raise NoiseError(f"bitstring {b!r} may only contain 0 and 1")
    limit = MAX_MATRIX_BITS if method == "matrix" else MAX_TENSORED_BITS
    if n > limit:
        raise NoiseError(f"{n} bits is too many for method={method!r} (at most {limit})")
    p = np.zeros(1 << n)
    for b, k in counts.items():
        p[int(b, 2) if b else 0] += float(k)
    if p.sum() <= 0:
        raise NoiseError("counts sum to zero")
    p /= p.sum()
    if isinstance(readout_errors, np.ndarray):
        full = np.asarray(readout_errors, dtype=float)
        if method != "matrix" or full.shape != (1 << n, 1 << n):
            raise NoiseError(f"a full confusion matrix needs method='matrix' and shape "
                             f"{(1 << n, 1 << n)}, got {full.shape}")
        quasi = np.linalg.solve(full, p)
    else:
        mats = readout_calibration_matrices(readout_errors, n)
        if len(mats) > n:
            raise NoiseError(f"readout errors given for {len(mats)} bits but counts have {n}")
        for j, m in enumerate(mats):
            if abs(np.linalg.det(m)) < 1e-12:
                raise NoiseError(f"confusion matrix of bit {j} is singular (p0_given_1 + p1_given_0 = 1)")
        if method == "matrix":
            full = np.eye(1)
            for m in mats:  # bit 0 is the lowest index bit: kron(M_{n-1}, ..., M_0)
                full = np.kron(m, full)
            quasi = np.linalg.solve(full, p)
        else:
            t = p.reshape((2,) * n) if n else p
            for j, m in enumerate(mats):
                ax = n - 1 - j
                t = np.moveaxis(np.tensordot(np.linalg.inv(m), t, axes=([1], [ax])), 0, ax)
            quasi = t.reshape(-1)
    probs = nearest_probability_distribution(quasi)
    return {format(i, f"0{n}b") if n else "": float(v) for i, v in enumerate(probs) if v > 1e-15}


__all__ = ["METHODS", "mitigate_counts", "nearest_probability_distribution",
           "readout_calibration_matrices", "readout_errors_from_counts"]
