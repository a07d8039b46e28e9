#!/usr/bin/env python3
"""Write the device profiles shipped as package data (``src/qvalley/devices/data/*.json``).

The layouts are built here from their lattices, once; the package only reads the JSON. Run
``python tools/gen_devices.py`` after changing this file, ``--check`` to verify the committed files
are current (the test suite does).

Layouts are given in grid coordinates ``(row, col)``: couplers join sites one step apart, and the
coupler patterns A–H are :func:`qvalley.bench.rcs.grid_patterns` of those sites (the Sycamore
lattice drawn as Cirq's ``GridQubit`` grid; the offset lattice of Zuchongzhi is the same kind of
lattice rotated by 45°).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from qvalley.bench.rcs import grid_patterns  # noqa: E402

DATA = ROOT / "src/qvalley/devices/data"
SCHEMA = "qvalley.device/1"

RCS_GATES = ["sx", "sy", "sw", "rz", "fsim"]

ZCZ20 = "Wu et al., Phys. Rev. Lett. 127, 180501 (2021), Zuchongzhi 2.0"
ZCZ21 = "Zhu et al., Sci. Bull. 67, 240 (2022), Zuchongzhi 2.1"
SYC = "Arute et al., Nature 574, 505 (2019), Sycamore"


def zuchongzhi_sites() -> list[tuple[int, int]]:
    """66 qubits, 11 rows x 6 on the offset lattice (a 12x11 grid with every other site a qubit).

    Qubit ``6 r + c`` is column ``c`` of row ``r``; odd rows sit half a step to the right, and each
    qubit couples to the two nearest qubits of the rows above and below."""
    sites = []
    for r in range(11):
        for c in range(6):
            x = 2 * c + (r % 2)  # column on the 12-wide grid; (x + r) is even
            sites.append(((r - x) // 2 + 5, (r + x) // 2))
    return sites


SYCAMORE_ROWS = {0: (5, 6), 1: (4, 7), 2: (4, 8), 3: (2, 9), 4: (1, 9), 5: (0, 8), 6: (1, 7),
                 7: (2, 6), 8: (3, 5), 9: (4, 4)}


def sycamore_sites() -> list[tuple[int, int]]:
    """Sycamore's 53 working qubits as Cirq's GridQubit(row, col), in row-major order (the qubit
    order of the published circuit files); the 54-site chip lacks GridQubit(2, 3)."""
    return [(r, c) for r, (lo, hi) in SYCAMORE_ROWS.items() for c in range(lo, hi + 1)]


def square_sites(rows: int, cols: int) -> list[tuple[int, int]]:
    return [(r, c) for r in range(rows) for c in range(cols)]


def layout(sites: list[tuple[int, int]]) -> dict:
    pats = grid_patterns(sites)
    couplers = sorted({pair for letter in "ABCD" for pair in pats[letter]})
    return {"num_qubits": len(sites), "coordinates": [list(s) for s in sites],
            "couplers": [list(c) for c in couplers],
            "patterns": {k: [list(c) for c in v] for k, v in pats.items()}}


def avg(value: float, source: str) -> dict:
    return {"value": value, "source": source}


MODELLED = ("modelled, not measured: no public layout or calibration exists; a plausible "
            "square-lattice tunable-coupler design with calibration drawn from stated distributions")


def modelled_chip(name: str, rows: int, cols: int, errors: tuple[float, float, float], t1: float,
                  epoch: str, t2: float, frequency: float, durations: tuple[float, float]) -> dict:
    """A designed square-lattice chip: ``errors`` are the (1q, 2q, readout) averages."""
    e1, e2, ro = errors
    return {
        "name": name,
        "description": f"{rows * cols}-qubit processor, {rows} x {cols} square lattice with tunable "
                       f"couplers ({MODELLED})",
        "modelled": True,
        "native_gates": ["sx", "sy", "sw", "rz", "cz", "fsim"],
        **layout(square_sites(rows, cols)),
        "averages": {"error_1q": avg(e1, "modelled"), "error_2q": avg(e2, "modelled"),
                     "readout_error": avg(ro, "modelled"), "t1": avg(t1, "modelled")},
        "calibration_model": {"epoch": epoch, "t2": t2, "frequency": frequency,
                              "frequency_spread": 0.2e9, "duration_1q": durations[0],
                              "duration_2q": durations[1], "note": MODELLED},
        "sources": ["modelled by qvalley"],
    }


def profiles() -> list[dict]:
    zcz = {
        "name": "zuchongzhi-2.1",
        "description": "66-qubit superconducting processor, 11 x 6 qubits on an offset lattice with "
                       "110 tunable couplers; the chip of the 56- and 60-qubit random circuit "
                       "sampling experiments",
        "modelled": False,
        "native_gates": RCS_GATES,
        **layout(zuchongzhi_sites()),
        "averages": {
            "error_1q": avg(0.0014, f"{ZCZ20}: simultaneous single-qubit gate Pauli error"),
            "error_2q": avg(0.0059, f"{ZCZ20}: simultaneous two-qubit gate Pauli error"),
            "readout_error": avg(0.0226, f"{ZCZ21}: average readout fidelity 97.74%"),
            "t1": avg(30.6e-6, f"{ZCZ20}: average T1"),
        },
        "calibration_model": {
            "epoch": "2021-10-25",
            "t2": 5.0e-6, "frequency": 5.0e9, "frequency_spread": 0.25e9,
            "duration_1q": 25e-9, "duration_2q": 32e-9,
            "note": "per-qubit spreads, T2, frequencies and gate durations are modelled; the "
                    "averages above are the published ones",
        },
        "sources": [ZCZ20, ZCZ21],
    }
    syc = {
        "name": "sycamore-53",
        "description": "Google's 53-qubit Sycamore processor (54-site lattice, one qubit "
                       "inoperable), 86 couplers; the 2019 quantum-supremacy experiment",
        "modelled": False,
        "native_gates": RCS_GATES,
        **layout(sycamore_sites()),
        "averages": {
            "error_1q": avg(0.0016, f"{SYC}: simultaneous single-qubit Pauli error"),
            "error_2q": avg(0.0062, f"{SYC}: simultaneous two-qubit Pauli error"),
            "readout_error": avg(0.038, f"{SYC}: simultaneous readout error"),
            "t1": avg(16e-6, f"{SYC}: typical T1"),
        },
        "calibration_model": {
            "epoch": "2019-10-23",
            "t2": 10e-6, "frequency": 6.5e9, "frequency_spread": 0.3e9,
            "duration_1q": 25e-9, "duration_2q": 12e-9,
            "note": "per-qubit spreads, T2 and frequencies are modelled; the averages above are "
                    "the published ones",
        },
        "sources": [SYC],
    }
    o136 = modelled_chip("oriental-136", 8, 17, errors=(0.0010, 0.0050, 0.020), t1=60e-6,
                         epoch="2025-01-01", t2=30e-6, frequency=4.8e9, durations=(25e-9, 40e-9))
    v512 = modelled_chip("valley-512", 16, 32, errors=(0.0008, 0.0040, 0.015), t1=80e-6,
                         epoch="2026-01-01", t2=50e-6, frequency=4.6e9, durations=(20e-9, 40e-9))
    ideal = {
        "name": "ideal",
        "description": "a perfect processor: every qubit coupled to every other, every library "
                       "gate native, no noise (the size is any up to num_qubits)",
        "modelled": True,
        "native_gates": "all",
        "num_qubits": 1024, "coordinates": [], "couplers": None, "patterns": {},
        "averages": {}, "calibration_model": None, "sources": [],
    }
    out = []
    for p in (zcz, syc, o136, v512, ideal):
        out.append({"schema": SCHEMA, "version": 1, **p})
    return out


def render(p: dict) -> str:
    """One top-level key a line, each value compact: diffs stay readable."""
    return "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in p.items()) + "\n}\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed files differ")
    a = ap.parse_args()
    stale = []
    for p in profiles():
        path = DATA / f"{p['name']}.json"
        text = render(p)
        if a.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale device data: {', '.join(stale)} (run python tools/gen_devices.py)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
