#!/usr/bin/env bash
# The qvalley showcase, through the CLI only. Run by `make demo`.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== 1. Bell pair (OpenQASM 2), 1000 shots"
echo "(a fresh checkout compiles its numba kernels on first use; they are cached on disk after that)"
qvalley run bell.qasm --shots 1000 --seed 7

echo; echo "== 2. GHZ state on 5 qubits (OpenQASM 3), JSON output"
qvalley run ghz.qasm3 --shots 500 --seed 7 --json

echo; echo "== 3. A 24-qubit random circuit (20 layers of RX/RY/RZ + CZ brickwork), timed"
python - "$out/random24.qasm" <<'PY'
import sys
import qvalley
from qvalley.bench.circuits import random_layers
qvalley.dump(random_layers(24, layers=20, seed=1), sys.argv[1])
PY
qvalley info "$out/random24.qasm"
report='import json, sys; r = json.load(sys.stdin); print("%d qubits simulated in %.2f s" % (r["num_qubits"], r["seconds"]))'
echo "(in a fresh checkout the first large run also compiles the cache-tiled kernels; numba caches them on disk)"
qvalley run "$out/random24.qasm" --shots 5 --seed 1 --json | python -c "$report"
echo "again, warm:"
qvalley run "$out/random24.qasm" --shots 5 --seed 1 --json | python -c "$report"

echo; echo "== 4. Format round trip: OpenQASM 2 -> OpenQASM 3 -> qsim -> OpenQASM 2"
qvalley convert bell.qasm "$out/bell.qasm3"
cat "$out/bell.qasm3"
qvalley convert "$out/random24.qasm" "$out/random24.qsim"
head -3 "$out/random24.qsim"
qvalley convert "$out/random24.qsim" "$out/back.qasm"
qvalley statevector "$out/random24.qasm" --out "$out/a.npy" --precision double
qvalley statevector "$out/back.qasm" --out "$out/b.npy" --precision double
python - "$out/a.npy" "$out/b.npy" <<'PY'
import sys
import numpy as np
a, b = (np.load(p) for p in sys.argv[1:])
print(f"statevectors before/after the round trip agree: max |Δ| = {np.abs(a - b).max():.1e}")
assert np.allclose(a, b, atol=1e-10)
PY

echo; echo "== 5. Emulated processors: layouts, calibration, noise"
qvalley devices
qvalley transpile ghz.qasm3 --device zuchongzhi-2.1 -o "$out/ghz_zcz.qasm" --json
echo "the GHZ circuit on the 66-qubit chip, transpiled and with its calibrated noise:"
qvalley run ghz.qasm3 --device zuchongzhi-2.1 --shots 2000 --seed 7

echo; echo "== 6. Random circuit sampling on a 10-qubit region of zuchongzhi-2.1, scored by XEB"
qvalley xeb --device zuchongzhi-2.1 --qubits 10 --cycles 10 --shots 500 --seed 1

echo; echo "== 7. Tensor networks: amplitudes of a 53-qubit Sycamore-layout random circuit"
qvalley rcs --device sycamore-53 --qubits 53 --cycles 6 --seed 1 -o "$out/rcs53.qsim" > /dev/null
qvalley plan "$out/rcs53.qsim" --search-time 3
zeros=$(printf '0%.0s' $(seq 53))
qvalley amplitude "$out/rcs53.qsim" --bitstring "$zeros" --search-time 3 --json

echo; echo "== 8. QKD: decoy-state BB84 key rates, a 25 km link run pulse by pulse, an eavesdropper caught"
qvalley qkd keyrate --distance 50 --decoy vacuum+weak
qvalley qkd keyrate --max-distance --decoy infinite --json
qvalley qkd link --distance 25 --seed 1
qvalley qkd link --distance 25 --seed 1 --eve intercept-resend --json

echo; echo "== 9. Applications: VQE for battery chemistry, QAOA MaxCut, traffic routing, a portfolio"
qvalley vqe --molecule H2 --bond-length 0.735
qvalley vqe --molecule LiH --bond-length 1.6
qvalley qaoa maxcut --graph cube --p 1
qvalley traffic
qvalley portfolio --file ../src/qvalley/apps/data/portfolio_4.json

echo; echo "== 10. The quantum cloud end to end: qvalley serve on a free port, jobs through the client"
python -m qvalley.cloud.demo

echo; echo "== 11. A bad input gets one clear line and exit code 2"
printf 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncx q[0], q[5];\n' > "$out/bad.qasm"
if qvalley run "$out/bad.qasm"; then echo "expected a failure"; exit 1; else echo "(exit code $?)"; fi
if qvalley run bell.qasm --device sycamore53; then echo "expected a failure"; exit 1; else echo "(exit code $?)"; fi
echo; echo "demo finished"
