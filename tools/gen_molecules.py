"""Generate the molecular integrals shipped in ``src/qvalley/apps/data`` (needs PySCF: qvalley[chem]).

Usage: ``.venv/bin/python tools/gen_molecules.py`` (writes ``h2.json`` and ``lih.json``).

For each bond length: restricted Hartree–Fock in STO-3G, the one-electron integrals ``h_pq`` and the
two-electron integrals ``(pq|rs)`` (chemists' notation) in the RHF molecular-orbital basis, the
nuclear repulsion, and the RHF and FCI energies from PySCF as references.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from qvalley.apps.chemistry import integrals_from_pyscf

OUT = Path(__file__).resolve().parents[1] / "src" / "qvalley" / "apps" / "data"

MOLECULES = {
    "h2": ("H", "H", sorted({round(0.3 + 0.1 * k, 3) for k in range(23)} | {0.735})),
    "lih": ("Li", "H", sorted({round(0.8 + 0.2 * k, 3) for k in range(12)} | {1.6, 1.5, 1.7})),
}


def main() -> None:
    for name, (a, b, lengths) in MOLECULES.items():
        entries = []
        for r in lengths:
            m = integrals_from_pyscf(f"{a} 0 0 0; {b} 0 0 {r}", basis="sto-3g")
            d = m.to_dict()
            d["bond_length_angstrom"] = r
            entries.append(d)
            print(f"{name} {r:.3f} Å  HF {m.hf_energy:.7f}  FCI {m.fci_energy:.7f}")
        doc = {"molecule": name.upper() if name == "h2" else "LiH", "basis": "sto-3g",
               "generator": "tools/gen_molecules.py (PySCF RHF + FCI)", "geometries": entries}
        target = OUT / f"{name}.json"
        fd, tmp = tempfile.mkstemp(dir=OUT, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)


if __name__ == "__main__":
    main()
