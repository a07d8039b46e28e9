"""Workers: claim jobs from the store, run them, heartbeat the lease, write the outcome once.

A :class:`Worker` runs in a thread (``qvalley serve`` starts ``N`` of them in-process) or as its
own process (``qvalley worker``). Jobs run in the worker's thread, no per-job process; a
heartbeat thread extends the lease while a job runs and notices cancellation.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from .._errors import QValleyError
from .service import execute
from .store import CANCELLING, COMPLETED, FAILED, Claim, Store


class Notifier:
    """In-process wake-ups: workers wait for new jobs, long-poll waiters for job changes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0
        self._listeners: dict[str | None, list[Callable[[], object]]] = {}

    def notify(self, job_id: str | None = None) -> None:
        """Wake idle workers, and the waiters of ``job_id`` (all waiters when ``None``)."""
        with self._cond:
            self._version += 1
            self._cond.notify_all()
            if job_id is None:
                listeners = [f for fs in self._listeners.values() for f in fs]
            else:
                listeners = list(self._listeners.get(job_id, ()))
        for f in listeners:
            f()

    def wait(self, timeout: float) -> None:
        with self._cond:
            v = self._version
            self._cond.wait_for(lambda: self._version != v, timeout)

    def listen(self, f: Callable[[], object], job_id: str | None = None) -> Callable[[], None]:
        """Call ``f`` (from any thread) when ``job_id`` changes; returns the unsubscribe function."""
        with self._cond:
            self._listeners.setdefault(job_id, []).append(f)

        def remove() -> None:
            with self._cond:
                fs = self._listeners[job_id]
                fs.remove(f)
                if not fs:
                    del self._listeners[job_id]
        return remove


class Worker:
    """One worker. ``run_forever`` until :meth:`stop`; ``poll`` is the idle poll interval."""

    PHASE_WRITE_AFTER = 0.1  # seconds

    def __init__(self, store: Store, *, name: str | None = None, poll: float = 0.2,
                 notifier: Notifier | None = None) -> None:
        self.store = store
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.poll = poll
        self.notifier = notifier
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        if self.notifier:
            self.notifier.notify()

    def run_one(self) -> bool:
        """Claim and run one job; ``False`` when the queue was empty."""
        claim = self.store.claim(self.name)
        if claim is None:
            return False
        if self.notifier:
            self.notifier.notify(claim.id)
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
            try:
                if self.run_one():
                    continue
            except Exception:  # database hiccup: log, back off, keep serving
                traceback.print_exc()
                time.sleep(min(1.0, self.poll * 5))
                continue
            if self.notifier:
                self.notifier.wait(self.poll)
            else:
                self._stop.wait(self.poll)

    def start_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.run_forever, name=f"qvalley-worker-{self.name}", daemon=True)
        t.start()
        return t

    def _run(self, claim: Claim) -> None:
        lost = threading.Event()
        cancelled = threading.Event()
        done = threading.Event()
        interval = max(0.05, self.store.lease_seconds / 3)

        def beat() -> None:
            while not done.wait(interval):
                self._observe(self.store.heartbeat(claim, self.name), lost, cancelled)

        hb = threading.Thread(target=beat, daemon=True)
        hb.start()
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
            result, cal_id = execute(claim.spec, claim.device, claim.shots, phase)
            outcome: dict[str, Any] = {"status": COMPLETED, "result": result, "calibration_id": cal_id}
        except QValleyError as exc:
            outcome = {"status": FAILED, "error": (type(exc).__name__, str(exc))}
        except MemoryError:
            outcome = {"status": FAILED, "error": ("OutOfMemory", "the job ran out of memory")}
        except Exception as exc:
            outcome = {"status": FAILED, "error": ("InternalError", f"{type(exc).__name__}: {exc}")}
        finally:
            done.set()
        hb.join()
        if lost.is_set():
            return
        self.store.finish(claim, self.name, phases=phases, **outcome)

    @staticmethod
    def _observe(status: str | None, lost: threading.Event, cancelled: threading.Event) -> None:
        if status is None:
            lost.set()
        elif status == CANCELLING:
            cancelled.set()


__all__ = ["Notifier", "Worker"]
