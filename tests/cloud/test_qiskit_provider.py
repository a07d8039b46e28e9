"""The Qiskit provider over the in-process API: transpile to the coupling map, counts, memory,
BackendSamplerV2."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

pytest.importorskip("qiskit")

from qiskit import QuantumCircuit, transpile
from qiskit.primitives import BackendSamplerV2

from qvalley.cloud.api import create_app
from qvalley.cloud.client import Client
from qvalley.qiskit import QValleyProvider

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.mark.parametrize("device", ["oriental-136", "zuchongzhi-2.1"])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_provider_backend_sampler(store: Any, device: str) -> None:
    from fastapi.testclient import TestClient

    token, _ = store.create_token("qk")
    with TestClient(create_app(store, workers=1, worker_poll=0.05)) as tc:
        provider = QValleyProvider(client=Client("http://testserver", token, http=tc))
        backend = provider.get_backend(device)
        assert backend.num_qubits == {"oriental-136": 136, "zuchongzhi-2.1": 66}[device]
        qc = QuantumCircuit(3, 3)
        qc.x(0)
        qc.cx(0, 2)
        qc.measure([0, 1, 2], [0, 1, 2])
        tqc = transpile(qc, backend, seed_transpiler=1)
        cmap = backend.target.build_coupling_map()
        for inst in tqc.data:
            if inst.operation.num_qubits == 2:
                a, b = (tqc.find_bit(q).index for q in inst.qubits)
                assert cmap.graph.has_edge(a, b) or cmap.graph.has_edge(b, a)
        res = backend.run(tqc, shots=300, memory=True, seed_simulator=2).result(timeout=60)
        counts = res.get_counts()
        assert sum(counts.values()) == 300 and max(counts, key=counts.get) == "101"
        assert len(res.get_memory()) == 300
        pub = BackendSamplerV2(backend=backend).run([tqc], shots=200).result()[0]
        c = pub.data.c.get_counts()
        assert sum(c.values()) == 200 and max(c, key=c.get) == "101"
