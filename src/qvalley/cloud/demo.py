"""End-to-end cloud demo: ``python -m qvalley.cloud.demo``.

Starts ``qvalley serve`` on a free port with a temporary data directory, submits showcase jobs
through :class:`~qvalley.cloud.Client` (one through the Qiskit provider when qiskit is installed),
prints the results, the service and web portal addresses, and stops the server.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time

from .client import Client
from .store import Store

GHZ = ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[5] q;\nbit[5] c;\nh q[0];\n'
       + "".join(f"cx q[{i}], q[{i + 1}];\n" for i in range(4)) + "c = measure q;\n")


def main() -> int:
    data = tempfile.mkdtemp(prefix="qvalley-cloud-demo-")
    store = Store.open(data)
    token, _ = store.create_token("demo")
    store.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    srv = subprocess.Popen([sys.executable, "-m", "qvalley.cli.main", "serve", "--port", str(port),
                            "--data-dir", data, "--workers", "2"])
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        c = Client(base, token)
        print(f"cloud at {base} (API docs {base}/docs, OpenAPI {base}/openapi.json; data {data})")
        print(f"web portal at {base}/portal/ (sign in with the demo token {token})")
        for dev in ("ideal", "zuchongzhi-2.1"):
            job = c.submit(GHZ, dev, shots=2000, options={"seed": 7, "memory": True}, tags=["demo"])
            r = c.result(job["id"], timeout=60)
            view = c.job(job["id"])
            top = sorted(r["results"][0]["counts"].items(), key=lambda kv: -kv[1])[:4]
            print(f"{dev:15s} job {job['id'][:8]} {view['status']} calibration {r['calibration_id']} "
                  f"method {r['results'][0]['method']} top counts {top} "
                  f"first shots {r['results'][0]['memory'][:4]}")
        try:
            from qiskit import QuantumCircuit, transpile

            from ..qiskit import QValleyProvider

            backend = QValleyProvider(base, token).get_backend("oriental-136")
            qc = QuantumCircuit(3, 3)
            qc.h(0)
            qc.cx(0, 1)
            qc.cx(1, 2)
            qc.measure(range(3), range(3))
            counts = backend.run(transpile(qc, backend, seed_transpiler=1), shots=1000,
                                 seed_simulator=3).result(timeout=60).get_counts()
            print(f"qiskit provider  oriental-136 GHZ-3 counts {dict(sorted(counts.items()))}")
        except ImportError:
            print("qiskit not installed: skipping the Qiskit provider job")
        print(f"usage today: {c.usage()['today']}")
        print(f"jobs: {[(j['device'], j['status']) for j in c.jobs(tag='demo')['jobs']]}")
    finally:
        srv.terminate()
        srv.wait(10)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
