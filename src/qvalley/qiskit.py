"""A Qiskit provider over the qvalley cloud: ``QValleyProvider(url, token).get_backend(name)``.

The backend is a ``BackendV2`` whose ``Target`` is built from the device's current calibration as
served by the cloud (:func:`qvalley.devices.to_qiskit_target`), so ``transpile(circ, backend)``
respects the coupling map; ``run`` submits OpenQASM 3 (``qiskit.qasm3.dumps``) and returns a job
whose result has counts and per-shot memory (so ``BackendSamplerV2`` works). Needs qiskit
(``pip install 'qvalley[peers]'``).
"""

from __future__ import annotations

import uuid
from typing import Any

from ._errors import QValleyError

try:
    from qiskit.providers import BackendV2, JobStatus, JobV1, Options
    from qiskit.result import Result
except ImportError as exc:  # pragma: no cover
    raise QValleyError("qvalley.qiskit needs qiskit: pip install 'qvalley[peers]'") from exc

from .cloud.client import Client

_STATUS = {"QUEUED": JobStatus.QUEUED, "RUNNING": JobStatus.RUNNING, "CANCELLING": JobStatus.RUNNING,
           "COMPLETED": JobStatus.DONE, "FAILED": JobStatus.ERROR, "CANCELLED": JobStatus.CANCELLED}


class QValleyJob(JobV1):  # type: ignore[misc]
    """A cloud job seen from Qiskit; ``result(timeout=…)`` never waits past its timeout."""

    def __init__(self, backend: QValleyBackend, job_id: str, circuits: list[Any], shots: int,
                 memory: bool) -> None:
        super().__init__(backend, job_id)
        self._circuits, self._shots, self._memory = circuits, shots, memory

    def submit(self) -> None:  # submitted by QValleyBackend.run
        raise QValleyError("QValleyJob is submitted by QValleyBackend.run")

    def status(self) -> Any:
        return _STATUS[self._backend.client.job(self.job_id())["status"]]

    def cancel(self) -> bool:
        self._backend.client.cancel(self.job_id())
        return True

    def result(self, timeout: float | None = None) -> Any:
        res = self._backend.client.result(self.job_id(), timeout=timeout or 3600.0)
        experiments = []
        for circ, r in zip(self._circuits, res["results"]):
            counts = {hex(int(k, 2)): v for k, v in r["counts"].items()}
            data: dict[str, Any] = {"counts": counts}
            if r.get("memory"):
                data["memory"] = [hex(int(m, 2)) for m in r["memory"]]
            header = {"name": circ.name, "memory_slots": circ.num_clbits,
                      "creg_sizes": [[c.name, c.size] for c in circ.cregs],
                      "clbit_labels": [[c.name, i] for c in circ.cregs for i in range(c.size)]}
            experiments.append({"shots": r["shots"], "success": True, "data": data, "header": header,
                                "meas_level": 2})
        return Result.from_dict({"backend_name": self._backend.name, "backend_version": "1",
                                 "job_id": self.job_id(), "qobj_id": self.job_id(), "success": True,
                                 "results": experiments})


class QValleyBackend(BackendV2):  # type: ignore[misc]
    """A cloud device as a Qiskit ``BackendV2``."""

    def __init__(self, provider: QValleyProvider, name: str) -> None:
        from .devices import Calibration, get_device, to_qiskit_target

        super().__init__(provider=provider, name=name, backend_version="1")
        self.client = provider.client
        info = self.client.device(name)
        cal = Calibration.from_dict(info["calibration"]) if info.get("calibration") else None
        self.calibration_id = cal.id if cal is not None else None
        self._target = to_qiskit_target(get_device(name), cal)

    @property
    def target(self) -> Any:
        return self._target

    @property
    def max_circuits(self) -> int:
        return 32

    @classmethod
    def _default_options(cls) -> Any:
        return Options(shots=1024, memory=False, seed_simulator=None, noise=True)

    def run(self, run_input: Any, **options: Any) -> QValleyJob:
        from qiskit import qasm3

        circuits = run_input if isinstance(run_input, list) else [run_input]
        shots = int(options.get("shots", self.options.shots))
        memory = bool(options.get("memory", self.options.memory))
        seed = options.get("seed_simulator", self.options.seed_simulator)
        opts: dict[str, Any] = {"memory": memory, "noise": bool(options.get("noise", self.options.noise))}
        if seed is not None:
            opts["seed"] = int(seed)
        progs = [{"format": "openqasm3", "source": qasm3.dumps(c)} for c in circuits]
        view = self.client.submit(progs, self.name, shots=shots, options=opts, tags=["qiskit"],
                                  idempotency_key=uuid.uuid4().hex)
        return QValleyJob(self, view["id"], circuits, shots, memory)


class QValleyProvider:
    """Backends of a qvalley cloud. ``client`` may be a ready :class:`~qvalley.cloud.Client`."""

    def __init__(self, url: str = "", token: str = "", *, client: Client | None = None) -> None:
        self.client = client or Client(url, token)

    def backends(self) -> list[str]:
        return [d["name"] for d in self.client.devices()]

    def get_backend(self, name: str) -> QValleyBackend:
        return QValleyBackend(self, name)


__all__ = ["QValleyBackend", "QValleyJob", "QValleyProvider"]
