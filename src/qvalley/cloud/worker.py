"""Workers: claim jobs from the store, run them, heartbeat the lease, write the outcome once.

A :class:`Worker` runs in a thread (``qvalley serve`` starts ``N`` of them in-process) or as its
own process (``qvalley worker``). Jobs run in the worker's thread, no per-job process; one
long-lived heartbeat thread per worker extends the lease while a job runs and notices cancellation.
With a Dask cluster (``qvalley worker --cluster tcp://host:8786``, :func:`connect_cluster`),
tensor-network jobs hand their slices to the cluster's workers; everything else runs here.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .._errors import QValleyError
from .errors import CloudError
from .service import execute
from .store import CANCELLING, COMPLETED, FAILED, Claim, Store


class Notifier:
    """In-process wake-ups: idle workers wait for new jobs, long-poll waiters for job changes.

    ``notify()`` (a new job) wakes one idle worker and the waiters listening to any job;
    ``notify(job_id)`` (a job changed) wakes only that job's waiters (and those listening to any
    job). Workers wait on the version read *before* they last looked at the queue, so a job
    submitted between an empty claim and the wait is not missed. A waiter that subscribes just
    after its job changed (it read the job, the job finished, then it subscribed) is called at
    once: changes of the last :attr:`REPLAY_SECONDS` are replayed to new listeners, which
    always re-read the job, so a replay costs one read and a missed change cannot stall them."""

    REPLAY_SECONDS = 5.0

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0
        self._listeners: dict[str | None, list[Callable[[], object]]] = {}
        self._recent: OrderedDict[str, float] = OrderedDict()

    @property
    def version(self) -> int:
        """Counts :meth:`notify` calls for new jobs (pass it to :meth:`wait` as ``since``)."""
        return self._version

    def notify(self, job_id: str | None = None) -> None:
        """A new job (``job_id=None``): wake one idle worker; a job changed: wake its waiters."""
        with self._cond:
            if job_id is None:
                self._version += 1
                self._cond.notify(1)
            listeners = list(self._listeners.get(None, ()))
            if job_id is not None:
                listeners += self._listeners.get(job_id, ())
                now = time.monotonic()
                self._recent[job_id] = now
                self._recent.move_to_end(job_id)
                while self._recent and (len(self._recent) > 100_000
                                        or next(iter(self._recent.values())) < now - self.REPLAY_SECONDS):
                    self._recent.popitem(last=False)
        for f in listeners:
            f()

    def wake_all(self) -> None:
        """Wake every idle worker (shutdown)."""
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def wait(self, timeout: float, since: int | None = None) -> None:
        """Wait for a new job announced after version ``since`` (default: now), or ``timeout``."""
        with self._cond:
            v = self._version if since is None else since
            self._cond.wait_for(lambda: self._version != v, timeout)

    def listen(self, f: Callable[[], object], job_id: str | None = None) -> Callable[[], None]:
        """Call ``f`` (from any thread) when ``job_id`` changes (any job when ``None``); returns the
        unsubscribe function."""
        with self._cond:
            self._listeners.setdefault(job_id, []).append(f)
            t = self._recent.get(job_id) if job_id is not None else None
            replay = t is not None and t > time.monotonic() - self.REPLAY_SECONDS
        if replay:
            f()

        def remove() -> None:
            with self._cond:
                fs = self._listeners[job_id]
                fs.remove(f)
                if not fs:
                    del self._listeners[job_id]
        return remove


def connect_cluster(address: str, timeout: float = 10.0) -> Any:
    """A Dask ``Client`` for the scheduler at ``address`` (``tcp://host:8786``), shared by the
    workers of one process: tensor-network jobs send their slices there. A clear
    :class:`~qvalley.cloud.errors.CloudError` when ``dask[distributed]`` is missing or the
    scheduler does not answer."""
    try:
        import distributed
    except ImportError:
        raise CloudError("--cluster needs dask[distributed]: pip install 'qvalley[cluster]'") from None
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CloudError(f"--cluster: cannot reach the Dask scheduler at {address}: {exc}") from None


class Worker:
    """One worker. ``run_forever`` until :meth:`stop`; ``poll`` is the idle poll interval (with a
    :class:`Notifier` a new job wakes an idle worker at once; the poll then only matters for jobs
    submitted by other processes and for leases that expire)."""

    PHASE_WRITE_AFTER = 0.1  # seconds

    def __init__(self, store: Store, *, name: str | None = None, poll: float = 0.2,
                 notifier: Notifier | None = None, cluster: Any = None) -> None:
        self.store = store
        self.cluster = cluster  # a Dask Client (connect_cluster) for tensor-network slices
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.poll = poll
        self.notifier = notifier
        self._stop = threading.Event()
        self._beat = _Heartbeat(self, max(0.05, store.lease_seconds / 3))

    def stop(self) -> None:
        self._stop.set()
        if self.notifier:
            self.notifier.wake_all()

    def run_one(self) -> bool:
        """Claim and run one job; ``False`` when the queue was empty."""
        claim = self.store.claim(self.name)
        if claim is None:
            return False
        # no wake-up for the claim: long-poll waiters want the end, and a wake-up at the start
        # would have them re-read the job while it runs (the events stream polls on its own)
        self._run(claim)
        if self.notifier:
            self.notifier.notify(claim.id)
        return True

    def run_forever(self) -> None:
        try:  # many small jobs: one kernel thread per worker beats numba's thread pool per job
            import numba

            numba.set_num_threads(1)
        except Exception:
            pass
        while not self._stop.is_set():
            seen = self.notifier.version if self.notifier else 0
            try:
                if self.run_one():
                    continue
            except Exception:  # database hiccup: log, back off, keep serving
                traceback.print_exc()
                time.sleep(min(1.0, self.poll * 5))
                continue
            if self.notifier:
                self.notifier.wait(self.poll, since=seen)
            else:
                self._stop.wait(self.poll)

    def start_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.run_forever, name=f"qvalley-worker-{self.name}", daemon=True)
        t.start()
        return t

    def _run(self, claim: Claim) -> None:
        beat = self._beat
        lost, cancelled = beat.lost, beat.cancelled
        beat.start(claim)
        last: list[Any] = [None, time.monotonic()]
        phases: dict[str, float] = {}

        def phase(name: str) -> bool:
            # every phase's time goes into the timeline at finish; the live phase is written to the
            # database only once the job has run for a while, so a short job costs one round trip
            # to claim and one to complete
            if lost.is_set() or cancelled.is_set():
                return False
            if last[0] != name:
                last[0] = name
                phases.setdefault(name, time.time())
                if time.monotonic() - last[1] > self.PHASE_WRITE_AFTER:
                    last[1] = time.monotonic()
                    self._observe(self.store.heartbeat(claim, self.name, name), lost, cancelled)
            return not (lost.is_set() or cancelled.is_set())

        try:
            result, cal_id = execute(claim.spec, claim.device, claim.shots, phase, self.cluster)
            outcome: dict[str, Any] = {"status": COMPLETED, "result": result, "calibration_id": cal_id}
        except QValleyError as exc:
            outcome = {"status": FAILED, "error": (type(exc).__name__, str(exc))}
        except MemoryError:
            outcome = {"status": FAILED, "error": ("OutOfMemory", "the job ran out of memory")}
        except Exception as exc:
            outcome = {"status": FAILED, "error": ("InternalError", f"{type(exc).__name__}: {exc}")}
        finally:
            beat.stop()
        if lost.is_set():
            return
        self.store.finish(claim, self.name, phases=phases, **outcome)

    @staticmethod
    def _observe(status: str | None, lost: threading.Event, cancelled: threading.Event) -> None:
        if status is None:
            lost.set()
        elif status == CANCELLING:
            cancelled.set()


class _Heartbeat:
    """The worker's heartbeat: one long-lived thread that, while a job runs, extends its lease
    every ``interval`` seconds and notices cancellation or a lost lease (no thread per job)."""

    def __init__(self, worker: Worker, interval: float) -> None:
        self.worker, self.interval = worker, interval
        self.lost = threading.Event()
        self.cancelled = threading.Event()
        self._cond = threading.Condition()
        self._claim: Claim | None = None
        self._serial = 0  # changes whenever a job starts or stops
        self._thread: threading.Thread | None = None

    def start(self, claim: Claim) -> None:
        self.lost.clear()
        self.cancelled.clear()
        with self._cond:
            self._claim = claim
            self._serial += 1
            self._cond.notify_all()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name=f"qvalley-heartbeat-{self.worker.name}")
                self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._claim = None
            self._serial += 1
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._claim is None:
                    if self.worker._stop.is_set():
                        return
                    self._cond.wait(1.0)
                claim, serial = self._claim, self._serial
                deadline = time.monotonic() + self.interval
                while self._serial == serial and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
                if self._serial != serial:
                    continue
            try:
                status = self.worker.store.heartbeat(claim, self.worker.name)
            except Exception:  # database hiccup: the next beat, well inside the lease, retries
                traceback.print_exc()
                continue
            with self._cond:
                if self._serial == serial:
                    Worker._observe(status, self.lost, self.cancelled)


__all__ = ["Notifier", "Worker", "connect_cluster"]
