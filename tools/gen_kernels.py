"""Generate src/qvalley/sim/statevector/_unrolled.py: dense k-qubit kernels fully unrolled.

A runtime-sized matrix loop keeps its accumulators in memory; with k fixed at generation time every
amplitude and matrix element lives in registers and LLVM vectorizes the contiguous inner loop.
Run ``python tools/gen_kernels.py``; tests/sim/test_kernels.py checks the file is current.
"""

from __future__ import annotations

import sys
from pathlib import Path

MAX_K = 4
MAX_LOWH_K = 2  # mixed low/high kernels: each wider one adds tens of seconds of first-use compile
TARGET = Path(__file__).resolve().parents[1] / "src/qvalley/sim/statevector/_unrolled.py"


def dense(k: int) -> str:
    d = 1 << k
    xs = ", ".join(f"x{c}" for c in range(d))
    inner = [
        "@njit(**_OPTS)",
        f"def _inner{k}({xs}, S, m):  # pragma: no cover",
        "    # separate views: LLVM sees no aliasing between them and vectorizes over j",
    ]
    for r in range(d):
        inner.append("    " + "; ".join(f"m{r}_{c} = m[{r}, {c}]" for c in range(d)))
    inner.append("    for j in range(S):")
    for c in range(d):
        inner.append(f"        a{c} = x{c}[j]")
    for r in range(d):
        expr = " + ".join(f"m{r}_{c} * a{c}" for c in range(d))
        inner.append(f"        x{r}[j] = {expr}")
    outer = [
        "@njit(**_OPTS)",
        f"def dense{k}(psi, base0, u_lo, u_hi, S, m, offs, targets):  # pragma: no cover",
        f'    """Apply a dense {k}-qubit gate to units ``u_lo..u_hi`` of ``S`` contiguous '
        'groups."""',
        "    for u in range(u_lo, u_hi):",
        "        g = u * S",
        "        for t in targets:",
        "            g = ((g >> t) << (t + 1)) | (g & ((1 << t) - 1))",
        "        b = base0 + g",
        f"        _inner{k}(" + ", ".join(f"psi[b + offs[{c}]:b + offs[{c}] + S]" for c in range(d))
        + ", S, m)",
    ]
    return "\n".join(inner) + "\n\n\n" + "\n".join(outer) + "\n"


def diag() -> str:
    return '''@njit(**_OPTS)
def diagonal(psi, base0, u_lo, u_hi, S, tab, targets, lane_bits):  # pragma: no cover
    """Multiply by a diagonal, one contiguous unit of ``S`` amplitudes at a time. ``tab[h, j]`` is
    the factor of lane ``j`` of a unit whose target bits at or above ``lane_bits`` read ``h``
    (targets below ``lane_bits`` are folded into the lanes), so every unit is one vector multiply
    whichever qubits the diagonal acts on."""
    for u in range(u_lo, u_hi):
        b = base0 + u * S
        h = 0
        i = 0
        for t in targets:
            if t >= lane_bits:
                h |= ((b >> t) & 1) << i
                i += 1
        x = psi[b:b + S]
        row = tab[h]
        for j in range(S):
            x[j] *= row[j]
'''


def low3() -> str:
    lines = [
        "@njit(**_OPTS)",
        "def low3(psi, base0, u_lo, u_hi, S, m):  # pragma: no cover",
        '    """Apply a dense gate on qubits (0, 1, 2): each 8-amplitude chunk is one group. One view',
        '    with constant offsets: LLVM vectorizes across chunks without runtime alias checks."""',
    ]
    for r in range(8):
        lines.append("    " + "; ".join(f"m{r}_{c} = m[{r}, {c}]" for c in range(8)))
    lines += [
        "    for u in range(u_lo, u_hi):",
        "        x = psi[base0 + 8 * S * u:base0 + 8 * S * (u + 1)]",
        "        for j in range(S):",
        "            i = 8 * j",
    ]
    for c in range(8):
        lines.append(f"            a{c} = x[i + {c}]")
    for r in range(8):
        lines.append(f"            x[i + {r}] = " + " + ".join(f"m{r}_{c} * a{c}" for c in range(8)))
    return "\n".join(lines) + "\n"


def _low_sets() -> list[tuple[tuple[int, ...], int]]:
    """(low qubits L, number of high qubits) of every mixed kernel: L a proper non-empty subset of
    {0, 1, 2}; at most MAX_LOWH_K qubits in all."""
    sets = [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    return [(low, nh) for low in sets for nh in range(1, MAX_LOWH_K - len(low) + 1)]


def lowh_name(low: tuple[int, ...], nh: int) -> str:
    return "lowh_" + "".join(map(str, low)) + f"_{nh}"


def lowh(low: tuple[int, ...], nh: int) -> str:
    """A dense block on low qubits ``low`` (inside each 8-amplitude chunk) and ``nh`` qubits >= 3.

    Matrix operands: ``low`` ascending, then the high qubits ascending. One view per setting of the
    high qubits; within a chunk every group of 2^|low| amplitudes sits at constant offsets, so the
    loop over chunks has the stride-8 shape that LLVM vectorizes (as in :func:`low3`)."""
    nl = len(low)
    d = 1 << (nl + nh)
    nv = 1 << nh
    name = lowh_name(low, nh)
    xs = ", ".join(f"x{v}" for v in range(nv))
    offl = [sum(((c >> j) & 1) << q for j, q in enumerate(low)) for c in range(1 << nl)]
    bases = [i for i in range(8) if not any(i & (1 << q) for q in low)]
    lines = ["@njit(**_OPTS)", f"def _{name}({xs}, S, m):  # pragma: no cover"]
    for r in range(d):
        lines.append("    " + "; ".join(f"m{r}_{c} = m[{r}, {c}]" for c in range(d)))
    lines += ["    for j in range(S):", "        i = 8 * j"]
    for p, base in enumerate(bases):
        for c in range(d):
            v, cl = divmod(c, 1 << nl)
            lines.append(f"        a{p}_{c} = x{v}[i + {base + offl[cl]}]")
    for p, base in enumerate(bases):
        for r in range(d):
            v, cl = divmod(r, 1 << nl)
            expr = " + ".join(f"m{r}_{c} * a{p}_{c}" for c in range(d))
            lines.append(f"        x{v}[i + {base + offl[cl]}] = {expr}")
    views = ", ".join(f"psi[b + offs[{v << nl}]:b + offs[{v << nl}] + 8 * S]" for v in range(nv))
    lines += [
        "",
        "",
        "@njit(**_OPTS)",
        f"def {name}(psi, base0, u_lo, u_hi, S, m, offs, targets):  # pragma: no cover",
        "    for u in range(u_lo, u_hi):",
        "        g = u * 8 * S",
        "        for t in targets:",
        "            if t >= 3:",
        "                g = ((g >> t) << (t + 1)) | (g & ((1 << t) - 1))",
        "        b = base0 + g",
        f"        _{name}({views}, S, m)",
    ]
    return "\n".join(lines) + "\n"


def lowh_dispatch() -> str:
    lines = [
        "@njit(**_OPTS)",
        "def lowh(psi, base0, u_lo, u_hi, S, m, offs, targets, lowmask, nh):  # pragma: no cover",
        '    """A dense block on the low qubits in ``lowmask`` (bits of 0-2) and ``nh`` higher ones."""',
    ]
    kw = "if"
    for low, nh in _low_sets():
        mask = sum(1 << q for q in low)
        lines.append(f"    {kw} lowmask == {mask} and nh == {nh}:")
        lines.append(f"        {lowh_name(low, nh)}(psi, base0, u_lo, u_hi, S, m, offs, targets)")
        kw = "elif"
    return "\n".join(lines) + "\n"


def source() -> str:
    parts = [
        '"""GENERATED by tools/gen_kernels.py: do not edit. Unrolled dense kernels for k = 1..'
        f'{MAX_K}."""\n',
        "# ruff: noqa: E501, E702",
        "from __future__ import annotations\n",
        "from typing import Any\n",
        "from numba import njit\n",
        '_OPTS: dict[str, Any] = {"cache": True, "fastmath": True, "nogil": True, "boundscheck": False, '
        '"error_model": "numpy"}\n',
        f"MAX_K = {MAX_K}\nMAX_LOWH_K = {MAX_LOWH_K}\n\n",
    ]
    for k in range(1, MAX_K + 1):
        parts.append(dense(k) + "\n")
    parts.append(diag() + "\n")
    parts.append(low3() + "\n")
    for low, nh in _low_sets():
        parts.append(lowh(low, nh) + "\n")
    parts.append(lowh_dispatch())
    return "\n".join(parts)


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(0 if TARGET.read_text() == source() else 1)
    TARGET.write_text(source())
    print(f"wrote {TARGET}")
