"""The cloud store: SQLAlchemy 2 models, migrations, and the jobs table as a durable queue.

SQLite (WAL mode, every transaction ``BEGIN IMMEDIATE`` so writers serialise instead of failing)
is the default, in a data directory; PostgreSQL is used for a URL ``postgresql+psycopg://…``.
The schema is created by the Alembic migrations shipped in :mod:`qvalley.cloud.migrations`,
applied programmatically on first start (:meth:`Store.open`).

Queue protocol (``claim`` / ``heartbeat`` / ``complete``): a worker claims the oldest runnable job
with ONE atomic ``UPDATE … WHERE id = (SELECT … LIMIT 1 [FOR UPDATE SKIP LOCKED]) RETURNING``,
which sets ``status=RUNNING``, the lease owner, the lease expiry and ``attempt += 1``. A job whose
lease expired (its worker died) is runnable again. Heartbeats extend the lease; every write of the
worker is guarded by ``lease_owner`` AND ``attempt``, so a worker that lost its lease can never
complete a job that another worker has re-claimed: a job completes at most once.

Hot path: the statements a job costs (authenticate, submit, claim, finish, read) are plain SQL run on
the pool's DBAPI connections, written once with ``:name`` placeholders, so a job does not pay for
building and compiling SQLAlchemy expressions; reads run outside any write lock (SQLite) or in
autocommit (PostgreSQL). The rest of the store uses SQLAlchemy Core.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .errors import ConflictError, NotFoundError

QUEUED, RUNNING, CANCELLING = "QUEUED", "RUNNING", "CANCELLING"
COMPLETED, FAILED, CANCELLED = "COMPLETED", "FAILED", "CANCELLED"
TERMINAL = (COMPLETED, FAILED, CANCELLED)
STATUSES = (QUEUED, RUNNING, CANCELLING, COMPLETED, FAILED, CANCELLED)
PHASES = ("validating", "transpiling", "executing", "postprocessing")
TOKEN_PREFIX = "qv_"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[float] = mapped_column(sa.Float)
    max_concurrent_jobs: Mapped[int] = mapped_column(sa.Integer)
    max_shots_per_day: Mapped[int] = mapped_column(sa.BigInteger)


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[float] = mapped_column(sa.Float)
    revoked_at: Mapped[float | None] = mapped_column(sa.Float, nullable=True)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    device: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))
    phase: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    shots: Mapped[int] = mapped_column(sa.Integer)
    num_circuits: Mapped[int] = mapped_column(sa.Integer)
    spec: Mapped[str] = mapped_column(sa.Text)
    tags: Mapped[str] = mapped_column(sa.Text)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    body_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[float] = mapped_column(sa.Float)
    started_at: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    timeline: Mapped[str] = mapped_column(sa.Text)
    calibration_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    error_code: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    result: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    lease_expires: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    attempt: Mapped[int] = mapped_column(sa.Integer)
    completions: Mapped[int] = mapped_column(sa.Integer)


class JobEvent(Base):
    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("jobs.id"), index=True)
    at: Mapped[float] = mapped_column(sa.Float)
    status: Mapped[str] = mapped_column(sa.String(16))
    phase: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    message: Mapped[str] = mapped_column(sa.Text)


class Usage(Base):
    __tablename__ = "usage"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    day: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    jobs: Mapped[int] = mapped_column(sa.Integer)
    shots: Mapped[int] = mapped_column(sa.BigInteger)


users: sa.Table = User.__table__  # type: ignore[assignment]
tokens: sa.Table = Token.__table__  # type: ignore[assignment]
jobs_t: sa.Table = Job.__table__  # type: ignore[assignment]
events_t: sa.Table = JobEvent.__table__  # type: ignore[assignment]
usage_t: sa.Table = Usage.__table__  # type: ignore[assignment]


JOB_COLUMNS: tuple[str, ...] = tuple(c.name for c in jobs_t.columns)
USER_COLUMNS: tuple[str, ...] = tuple(c.name for c in users.columns)
_JOBS_SELECT = "SELECT " + ", ".join(JOB_COLUMNS) + " FROM jobs"
_ACTIVE = f"('{QUEUED}', '{RUNNING}', '{CANCELLING}')"
_RUNNABLE = f"(status = '{QUEUED}' OR (status = '{RUNNING}' AND lease_expires < :now))"
_CLAIM = (f"UPDATE jobs SET status = '{RUNNING}', phase = 'validating', lease_owner = :w, "
          "lease_expires = :exp, attempt = attempt + 1, started_at = coalesce(started_at, :now) "
          f"WHERE id = (SELECT id FROM jobs WHERE {_RUNNABLE} ORDER BY seq LIMIT 1{{lock}}) "
          "RETURNING id, attempt, device, shots, spec, timeline")
_EXPIRE_CANCELLING = (f"UPDATE jobs SET status = '{CANCELLED}', finished_at = :now "
                      f"WHERE status = '{CANCELLING}' AND lease_expires < :now")
_USAGE_UPSERT = ("INSERT INTO usage (user_id, day, jobs, shots) VALUES (:u, :d, 1, :n) "
                 "ON CONFLICT (user_id, day) DO UPDATE SET jobs = usage.jobs + 1, shots = usage.shots + :n "
                 "RETURNING shots")
_EVENT_FROM = "INSERT INTO job_events (job_id, at, status, phase, message)"
_CLAIM_PG = ("WITH c AS (" + _CLAIM.format(lock=" FOR UPDATE SKIP LOCKED") + "), e AS (" + _EVENT_FROM
             + f" SELECT id, :now, '{RUNNING}', 'validating', 'claimed by ' || CAST(:w AS TEXT) "
             "|| ' (attempt ' || CAST(attempt AS TEXT) || ')' FROM c) "
             "SELECT id, attempt, device, shots, spec, timeline FROM c")
_INSERT_EVENT = ("INSERT INTO job_events (job_id, at, status, phase, message) "
                 "VALUES (:job_id, :at, :status, :phase, :message)")


@dataclass(frozen=True)
class Claim:
    """A job claimed by a worker: its id, attempt number and the stored spec (and the job's
    timeline as claimed, so that finishing a job needs no read)."""

    id: str
    attempt: int
    device: str
    shots: int
    spec: dict[str, Any]
    timeline: str | None = None


def hash_token(secret: str) -> str:
    """The stored form of an API token: SHA-256 hex of the (high-entropy) secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def day_of(t: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def resolve_url(data_dir: str | os.PathLike[str] | None = None, database: str | None = None) -> str:
    """The database URL: ``database`` as given (``postgresql://`` means psycopg 3), else SQLite
    ``cloud.db`` in ``data_dir`` (default ``./qvalley-data``)."""
    if database:
        if database.startswith("postgresql://") or database.startswith("postgres://"):
            database = "postgresql+psycopg://" + database.split("://", 1)[1]
        return database
    d = Path(data_dir or "qvalley-data")
    d.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(d / 'cloud.db').resolve()}"


PING_IDLE_SECONDS = 10.0


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE``.

    PostgreSQL connections are checked (``SELECT 1``) when they come out of the pool after being idle
    for :data:`PING_IDLE_SECONDS`, instead of on every checkout as ``pool_pre_ping`` would: a busy
    service reuses its connections within milliseconds and should not pay a round trip for each."""
    if url.startswith("sqlite"):
        eng = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=20, max_overflow=20)

        @event.listens_for(eng, "connect")
        def _connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(eng, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return eng
    eng = sa.create_engine(url, pool_size=20, max_overflow=20)

    @event.listens_for(eng, "connect")
    def _pg_connect(_dbapi_conn: Any, rec: Any) -> None:
        rec.info["qv_used"] = time.monotonic()

    @event.listens_for(eng, "checkin")
    def _pg_checkin(_dbapi_conn: Any, rec: Any) -> None:
        rec.info["qv_used"] = time.monotonic()

    @event.listens_for(eng, "checkout")
    def _pg_checkout(dbapi_conn: Any, rec: Any, _proxy: Any) -> None:
        if time.monotonic() - rec.info.get("qv_used", 0.0) < PING_IDLE_SECONDS:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            dbapi_conn.rollback()
        except Exception as exc:  # the pool retries with a fresh connection
            raise sa.exc.DisconnectionError(str(exc)) from exc

    return eng


def migrate(engine: Engine) -> None:
    """Apply the shipped Alembic migrations up to head (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    """Durable state of the cloud: accounts, jobs (the queue), events and usage.

    Args:
        url: SQLAlchemy URL (see :func:`resolve_url`).
        lease_seconds: how long a claim lasts without a heartbeat.
    """

    AUTH_CACHE_SECONDS = 2.0  # a token revoked by another process stops working within this time
    STATS_CACHE_SECONDS = 1.0  # queue-ETA statistics (recent durations, live workers)
    EXPIRE_EVERY_SECONDS = 1.0  # how often claims look for CANCELLING jobs whose worker died

    def __init__(self, url: str, *, lease_seconds: float = 30.0) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self.lease_seconds = lease_seconds
        self._sql_cache: dict[str, str] = {}
        self._auth: dict[str, tuple[float, dict[str, Any]]] = {}
        self._stats: tuple[float, float, int] = (-1e9, 1.0, 1)
        self._expired_at = -1e9
        self._lock = threading.Lock()

    # ---- hot-path plumbing ---------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        """``text`` with ``:name`` placeholders in the driver's style (psycopg: ``%(name)s``)."""
        out = self._sql_cache.get(text)
        if out is None:
            out = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", text) if self.postgres else text
            self._sql_cache[text] = out
        return out

    @contextmanager
    def _cursor(self, write: bool = False) -> Iterator[Any]:
        """A DBAPI cursor on a pooled connection: inside one transaction when ``write`` (SQLite:
        ``BEGIN IMMEDIATE``), else a plain read (SQLite: no write lock; PostgreSQL: autocommit)."""
        fairy = self.engine.raw_connection()
        dbc: Any = fairy.driver_connection
        try:
            if self.postgres:
                dbc.autocommit = True
                try:
                    cur = dbc.cursor()
                    if write:
                        with dbc.transaction():
                            yield cur
                    else:
                        yield cur
                    cur.close()
                finally:
                    if not dbc.broken:
                        dbc.autocommit = False
            else:
                cur = dbc.cursor()
                if not write:
                    yield cur
                else:
                    cur.execute("BEGIN IMMEDIATE")
                    try:
                        yield cur
                    except BaseException:
                        if dbc.in_transaction:
                            dbc.rollback()
                        raise
                    cur.execute("COMMIT")
                cur.close()
        finally:
            if self.postgres and dbc.broken:  # a lost server: do not hand this connection out again
                fairy.invalidate()
            fairy.close()

    def _exec(self, cur: Any, text: str, params: dict[str, Any] | None = None) -> Any:
        cur.execute(self._sql(text), params or {})
        return cur

    @staticmethod
    def _one(cur: Any) -> dict[str, Any] | None:
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def _forget_auth(self) -> None:
        with self._lock:
            self._auth.clear()

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str] | None = None, database: str | None = None,
             *, lease_seconds: float = 30.0) -> Store:
        """Open (and on first start create/migrate) the store."""
        s = cls(resolve_url(data_dir, database), lease_seconds=lease_seconds)
        migrate(s.engine)
        return s

    def close(self) -> None:
        self.engine.dispose()

    # ---- accounts ------------------------------------------------------------------------------
    def user_count(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def ensure_user(self, name: str, *, role: str = "user", max_concurrent_jobs: int = 100,
                    max_shots_per_day: int = 100_000_000) -> dict[str, Any]:
        """The user called ``name``, created when missing (role is upgraded to admin if asked)."""
        with self.engine.begin() as c:
            row = c.execute(sa.select(users).where(users.c.name == name)).mappings().first()
            if row is None:
                c.execute(sa.insert(users).values(name=name, role=role, created_at=time.time(),
                                                  max_concurrent_jobs=max_concurrent_jobs,
                                                  max_shots_per_day=max_shots_per_day))
            elif role == "admin" and row["role"] != "admin":
                c.execute(sa.update(users).where(users.c.id == row["id"]).values(role="admin"))
                self._forget_auth()
            return dict(c.execute(sa.select(users).where(users.c.name == name)).mappings().one())

    def set_quota(self, name: str, *, max_concurrent_jobs: int | None = None,
                  max_shots_per_day: int | None = None) -> None:
        vals: dict[str, Any] = {}
        if max_concurrent_jobs is not None:
            vals["max_concurrent_jobs"] = max_concurrent_jobs
        if max_shots_per_day is not None:
            vals["max_shots_per_day"] = max_shots_per_day
        with self.engine.begin() as c:
            c.execute(sa.update(users).where(users.c.name == name).values(**vals))
        self._forget_auth()

    def create_token(self, user: str, *, admin: bool = False, name: str = "") -> tuple[str, dict[str, Any]]:
        """A new token for ``user`` (created if missing): ``(secret, token row)``. The secret is
        returned once; only its SHA-256 is stored."""
        u = self.ensure_user(user, role="admin" if admin else "user")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as c:
            tid = c.execute(sa.insert(tokens).values(
                user_id=u["id"], hash=hash_token(secret), prefix=secret[:10], name=name or "token",
                created_at=time.time()).returning(tokens.c.id)).scalar_one()
            row = dict(c.execute(sa.select(tokens).where(tokens.c.id == tid)).mappings().one())
        return secret, row

    def authenticate_cached(self, secret: str) -> dict[str, Any] | None:
        """:meth:`authenticate` from the cache only (no database access): the user, or ``None``
        when the answer is not cached (then call :meth:`authenticate`)."""
        hit = self._auth.get(hash_token(secret))
        if hit is not None and hit[0] > time.monotonic():
            return dict(hit[1])
        return None

    def authenticate(self, secret: str) -> dict[str, Any] | None:
        """The user owning the live token ``secret`` (with ``token_id``), or ``None``.

        Answers are cached for :attr:`AUTH_CACHE_SECONDS`; revoking a token or changing a user's
        quota or role through this store takes effect at once."""
        cached = self.authenticate_cached(secret)
        if cached is not None:
            return cached
        h = hash_token(secret)
        now = time.monotonic()
        cols = ", ".join(f"u.{c}" for c in USER_COLUMNS)
        with self._cursor() as cur:
            row = self._one(self._exec(cur, f"SELECT {cols}, t.id AS token_id FROM users u JOIN tokens t "
                                            "ON t.user_id = u.id WHERE t.hash = :h AND t.revoked_at IS NULL",
                                       {"h": h}))
        if row is None:
            return None
        with self._lock:
            if len(self._auth) > 10_000:
                self._auth.clear()
            self._auth[h] = (now + self.AUTH_CACHE_SECONDS, row)
        return dict(row)

    def list_tokens(self, user_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(tokens).where(tokens.c.user_id == user_id)
                             .order_by(tokens.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def revoke_token(self, user_id: int, token_id: int) -> None:
        with self.engine.begin() as c:
            n = c.execute(sa.update(tokens).where(tokens.c.id == token_id, tokens.c.user_id == user_id,
                                                  tokens.c.revoked_at.is_(None))
                          .values(revoked_at=time.time())).rowcount
        self._forget_auth()
        if n != 1:
            raise NotFoundError(f"token {token_id} not found")

    # ---- jobs ----------------------------------------------------------------------------------
    def insert_job(self, user: dict[str, Any], *, device: str, shots: int, spec: dict[str, Any],
                   tags: list[str], body_hash: str, idempotency_key: str | None,
                   num_circuits: int, max_shots_per_day: int, max_concurrent: int
                   ) -> tuple[dict[str, Any], bool]:
        """Insert a QUEUED job, enforcing the user's quotas in the same transaction.

        Returns ``(job row, created)``; an existing job with the same idempotency key is returned
        with ``created=False`` (a different body under the same key is a conflict)."""
        from .errors import QuotaError

        now = time.time()
        day = day_of(now)
        uid = user["id"]
        total = shots * num_circuits
        jid = uuid.uuid4().hex
        row = dict.fromkeys(JOB_COLUMNS)
        row.update(id=jid, seq=time.time_ns(), user_id=uid, device=device, status=QUEUED, shots=shots,
                   num_circuits=num_circuits, spec=json.dumps(spec), tags=json.dumps(tags),
                   idempotency_key=idempotency_key, body_hash=body_hash, created_at=now,
                   timeline=json.dumps({"created": now, "queued": now}), attempt=0, completions=0)
        with self._cursor(write=True) as cur:
            if idempotency_key is not None:
                old = self._one(self._exec(cur, _JOBS_SELECT + " WHERE user_id = :u AND idempotency_key = :k",
                                           {"u": uid, "k": idempotency_key}))
                if old is not None:
                    if old["body_hash"] != body_hash:
                        raise ConflictError("Idempotency-Key reused with a different request body")
                    return old, False
            # "+user_id" keeps SQLite on the (status, seq) index: the active jobs, not the user's history
            active = self._exec(cur, f"SELECT count(*) FROM jobs WHERE +user_id = :u AND status IN {_ACTIVE}",
                                {"u": uid}).fetchone()[0]
            if active >= max_concurrent:
                raise QuotaError(f"quota: at most {max_concurrent} concurrent jobs per user "
                                 f"(you have {active} queued or running)", retry_after=1.0)
            insert_job = ("INSERT INTO jobs (" + ", ".join(JOB_COLUMNS) + ") VALUES ("
                          + ", ".join(f":{c}" for c in JOB_COLUMNS) + ")")
            event = {"job_id": jid, "at": now, "status": QUEUED, "phase": None, "message": "job queued"}
            usage = {"u": uid, "d": day, "n": total}
            if self.postgres:  # one round trip for the job, its event and the usage row
                got = self._exec(cur, "WITH j AS (" + insert_job + " RETURNING id), e AS (" + _EVENT_FROM
                                 + " SELECT id, :at, :status, :phase, :message FROM j) " + _USAGE_UPSERT,
                                 {**row, **event, **usage}).fetchone()
            else:
                self._exec(cur, insert_job, row)
                self._exec(cur, _INSERT_EVENT, event)
                got = self._exec(cur, _USAGE_UPSERT, usage).fetchone()
            used = int(got[0]) - total
            if used + total > max_shots_per_day:  # raising rolls the whole job back
                tomorrow = (int(now // 86400) + 1) * 86400
                raise QuotaError(f"quota: at most {max_shots_per_day} shots per day (used {used}, "
                                 f"this job needs {total})", retry_after=max(1.0, tomorrow - now))
        return row, True

    def get_job(self, job_id: str, user_id: int | None = None) -> dict[str, Any]:
        """The job row; :class:`NotFoundError` when missing or (with ``user_id``) someone else's."""
        with self._cursor() as cur:
            if user_id is None:
                row = self._one(self._exec(cur, _JOBS_SELECT + " WHERE id = :id", {"id": job_id}))
            else:
                row = self._one(self._exec(cur, _JOBS_SELECT + " WHERE id = :id AND user_id = :u",
                                           {"id": job_id, "u": user_id}))
        if row is None:
            raise NotFoundError(f"job {job_id} not found")
        return row

    def list_jobs(self, user_id: int | None, *, status: str | None = None, device: str | None = None,
                  tag: str | None = None, created_after: float | None = None,
                  created_before: float | None = None, cursor: tuple[int, str] | None = None,
                  limit: int = 50) -> list[dict[str, Any]]:
        """Jobs newest first; ``cursor`` is the ``(seq, id)`` of the last job of the previous page."""
        q = sa.select(jobs_t.c.id, jobs_t.c.seq, jobs_t.c.user_id, jobs_t.c.device, jobs_t.c.status,
                      jobs_t.c.phase, jobs_t.c.shots, jobs_t.c.num_circuits, jobs_t.c.tags,
                      jobs_t.c.created_at, jobs_t.c.started_at, jobs_t.c.finished_at,
                      jobs_t.c.timeline, jobs_t.c.calibration_id, jobs_t.c.error_code,
                      jobs_t.c.error_message, jobs_t.c.attempt, jobs_t.c.idempotency_key)
        if user_id is not None:
            q = q.where(jobs_t.c.user_id == user_id)
        if status:
            q = q.where(jobs_t.c.status == status)
        if device:
            q = q.where(jobs_t.c.device == device)
        if tag:
            q = q.where(jobs_t.c.tags.contains(json.dumps(tag)))
        if created_after is not None:
            q = q.where(jobs_t.c.created_at > created_after)
        if created_before is not None:
            q = q.where(jobs_t.c.created_at < created_before)
        if cursor is not None:
            q = q.where(sa.tuple_(jobs_t.c.seq, jobs_t.c.id) < sa.tuple_(sa.literal(cursor[0]),
                                                                         sa.literal(cursor[1])))
        q = q.order_by(jobs_t.c.seq.desc(), jobs_t.c.id.desc()).limit(limit)
        with self.engine.connect() as c:
            rows = c.execute(q).mappings().all()
        out = []
        for r in rows:
            d = dict(r)
            if tag and tag not in json.loads(d["tags"]):
                continue
            out.append(d)
        return out

    def queue_position(self, job: dict[str, Any]) -> tuple[int, float]:
        """``(jobs ahead in the queue, estimated seconds until start)`` for a QUEUED job.

        The estimate uses the mean duration of the last 50 completed jobs and the number of live
        workers, both refreshed at most every :attr:`STATS_CACHE_SECONDS`."""
        now = time.monotonic()
        with self._cursor() as cur:
            ahead = int(self._exec(cur, f"SELECT count(*) FROM jobs WHERE status = '{QUEUED}' AND seq < :s",
                                   {"s": job["seq"]}).fetchone()[0])
            at, mean, workers = self._stats
            if now - at > self.STATS_CACHE_SECONDS:
                recent = self._exec(cur, "SELECT started_at, finished_at FROM jobs WHERE status = "
                                         f"'{COMPLETED}' ORDER BY seq DESC LIMIT 50").fetchall()
                workers = int(self._exec(cur, "SELECT count(DISTINCT lease_owner) FROM jobs "
                                              f"WHERE status = '{RUNNING}' AND lease_expires > :t",
                                         {"t": time.time()}).fetchone()[0])
                durs = [f - s for s, f in recent if s is not None and f is not None]
                mean = sum(durs) / len(durs) if durs else 1.0
                self._stats = (now, mean, workers)
        return ahead, (ahead + 1) * mean / max(1, workers)

    def events(self, job_id: str, after: int = 0) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(events_t).where(events_t.c.job_id == job_id, events_t.c.id > after)
                             .order_by(events_t.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def request_cancel(self, job_id: str, user_id: int | None) -> dict[str, Any]:
        """Cancel: a QUEUED job becomes CANCELLED at once, a RUNNING one CANCELLING (its worker
        stops at the next phase boundary); a finished job is a conflict."""
        now = time.time()
        with self.engine.begin() as c:
            q = sa.select(jobs_t).where(jobs_t.c.id == job_id)
            if user_id is not None:
                q = q.where(jobs_t.c.user_id == user_id)
            row = c.execute(q).mappings().first()
            if row is None:
                raise NotFoundError(f"job {job_id} not found")
            st = row["status"]
            if st in TERMINAL:
                raise ConflictError(f"job {job_id} is already {st}")
            if st == QUEUED:
                n = c.execute(sa.update(jobs_t).where(jobs_t.c.id == job_id, jobs_t.c.status == QUEUED)
                              .values(status=CANCELLED, finished_at=now,
                                      timeline=_tl(row["timeline"], "cancelled", now))).rowcount
                new = CANCELLED if n else None
            else:
                n = c.execute(sa.update(jobs_t).where(jobs_t.c.id == job_id, jobs_t.c.status == RUNNING)
                              .values(status=CANCELLING,
                                      timeline=_tl(row["timeline"], "cancelling", now))).rowcount
                new = CANCELLING if n else None
            if new is None:  # raced with a worker: let the caller retry
                raise ConflictError(f"job {job_id} changed state; try again")
            c.execute(sa.insert(events_t).values(job_id=job_id, at=now, status=new, phase=row["phase"],
                                                 message="cancel requested"))
            return dict(c.execute(sa.select(jobs_t).where(jobs_t.c.id == job_id)).mappings().one())

    # ---- the queue -----------------------------------------------------------------------------
    def claim(self, worker: str) -> Claim | None:
        """Atomically claim the oldest runnable job (QUEUED, or RUNNING with an expired lease).

        One statement; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (where the claim and its event are
        one statement, one round trip), ``BEGIN IMMEDIATE`` on SQLite."""
        now = time.time()
        args = {"w": worker, "exp": now + self.lease_seconds, "now": now}
        expire = now - self._expired_at > self.EXPIRE_EVERY_SECONDS
        if expire:
            self._expired_at = now
        if self.postgres:
            with self._cursor() as cur:  # autocommit: each statement is atomic on its own
                if expire:
                    self._exec(cur, _EXPIRE_CANCELLING, {"now": now})
                row = self._exec(cur, _CLAIM_PG, args).fetchone()
        else:
            with self._cursor(write=True) as cur:
                if expire:
                    self._exec(cur, _EXPIRE_CANCELLING, {"now": now})
                row = self._exec(cur, _CLAIM.format(lock=""), args).fetchone()
                if row is not None:
                    self._exec(cur, _INSERT_EVENT, {"job_id": row[0], "at": now, "status": RUNNING,
                                                    "phase": "validating",
                                                    "message": f"claimed by {worker} (attempt {row[1]})"})
        if row is None:
            return None
        jid, attempt, dev, shots, spec, timeline = row
        return Claim(jid, int(attempt), dev, int(shots), json.loads(spec), timeline)

    def heartbeat(self, claim: Claim, worker: str, phase: str | None = None) -> str | None:
        """Extend the lease (and set the phase); returns the job's status, or ``None`` when the
        lease was lost (another worker re-claimed the job)."""
        now = time.time()
        args = {"exp": now + self.lease_seconds, "id": claim.id, "w": worker, "a": claim.attempt,
                "phase": phase}
        with self._cursor(write=True) as cur:
            row = self._exec(cur, "UPDATE jobs SET lease_expires = :exp, phase = coalesce(:phase, phase) "
                                  "WHERE id = :id AND lease_owner = :w AND attempt = :a "
                                  f"AND status IN ('{RUNNING}', '{CANCELLING}') RETURNING status, timeline",
                             args).fetchone()
            if row is None:
                return None
            status, timeline = row
            if phase is not None:
                self._exec(cur, "UPDATE jobs SET timeline = :tl WHERE id = :id",
                           {"tl": _tl(timeline, phase, now), "id": claim.id})
                self._exec(cur, _INSERT_EVENT, {"job_id": claim.id, "at": now, "status": status,
                                                "phase": phase, "message": phase})
        return str(status)

    def finish(self, claim: Claim, worker: str, *, status: str, result: dict[str, Any] | None = None,
               calibration_id: str | None = None, error: tuple[str, str] | None = None,
               phases: dict[str, float] | None = None) -> bool:
        """Write the outcome, guarded by lease owner + attempt; ``False`` when the lease was lost.

        A job that was being cancelled ends CANCELLED whatever the outcome. The common case (still
        RUNNING under this lease) is one guarded ``UPDATE`` built on the timeline read at claim."""
        now = time.time()
        guard = {"id": claim.id, "w": worker, "a": claim.attempt}
        where = " WHERE id = :id AND lease_owner = :w AND attempt = :a AND status = :was"

        def values(final: str, timeline: str) -> tuple[str, dict[str, Any]]:
            tl = json.loads(timeline)
            for k, t in (phases or {}).items():
                tl.setdefault(k, t)
            tl[final.lower()] = now
            sets = ("status = :final, finished_at = :now, lease_owner = NULL, lease_expires = NULL, "
                    "calibration_id = :cal, timeline = :tl")
            vals: dict[str, Any] = {"final": final, "now": now, "cal": calibration_id, "tl": json.dumps(tl)}
            if final == COMPLETED:
                sets += ", result = :result, completions = completions + 1, phase = NULL"
                vals["result"] = json.dumps(result)
            if final == FAILED and error:
                sets += ", error_code = :code, error_message = :message"
                vals["code"], vals["message"] = error
            return "UPDATE jobs SET " + sets + where, vals

        def message(final: str) -> str:
            return {COMPLETED: "completed", CANCELLED: "cancelled"}.get(final, f"failed: {error}")

        if self.postgres and claim.timeline is not None:  # one atomic statement, one round trip
            sql, vals = values(status, claim.timeline)
            with self._cursor() as cur:
                n = self._exec(cur, "WITH f AS (" + sql + " RETURNING id), e AS (" + _EVENT_FROM
                               + " SELECT id, :now, :final, NULL, :msg FROM f) SELECT count(*) FROM f",
                               {**vals, **guard, "was": RUNNING, "msg": message(status)}).fetchone()[0]
            if n == 1:
                return True
        with self._cursor(write=True) as cur:
            final = status
            n = 0
            if claim.timeline is not None and not self.postgres:
                sql, vals = values(final, claim.timeline)
                n = self._exec(cur, sql, {**vals, **guard, "was": RUNNING}).rowcount
            if n != 1:  # cancelled meanwhile, or the lease was lost: read, then decide
                row = self._exec(cur, "SELECT status, timeline FROM jobs WHERE id = :id AND lease_owner = :w "
                                      "AND attempt = :a", guard).fetchone()
                if row is None or row[0] not in (RUNNING, CANCELLING):
                    return False
                final = CANCELLED if row[0] == CANCELLING else status
                sql, vals = values(final, row[1])
                if self._exec(cur, sql, {**vals, **guard, "was": row[0]}).rowcount != 1:
                    return False
            self._exec(cur, _INSERT_EVENT, {"job_id": claim.id, "at": now, "status": final, "phase": None,
                                            "message": message(final)})
        return True

    def usage(self, user_id: int, days: int = 30) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(usage_t.c.day, usage_t.c.jobs, usage_t.c.shots)
                             .where(usage_t.c.user_id == user_id)
                             .order_by(usage_t.c.day.desc()).limit(days)).mappings().all()
        return [dict(r) for r in rows]


def _tl(timeline: str, key: str, t: float) -> str:
    d = json.loads(timeline)
    d[key] = t
    return json.dumps(d)


__all__ = ["CANCELLED", "CANCELLING", "COMPLETED", "FAILED", "PHASES", "QUEUED", "RUNNING", "STATUSES",
           "TERMINAL", "Base", "Claim", "Store", "hash_token", "make_engine", "migrate", "resolve_url"]
