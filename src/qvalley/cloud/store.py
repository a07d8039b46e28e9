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
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import uuid
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


@dataclass(frozen=True)
class Claim:
    """A job claimed by a worker: its id, attempt number and the stored spec."""

    id: str
    attempt: int
    device: str
    shots: int
    spec: dict[str, Any]


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


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE``."""
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
    return sa.create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


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

    def __init__(self, url: str, *, lease_seconds: float = 30.0) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self.lease_seconds = lease_seconds

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

    def authenticate(self, secret: str) -> dict[str, Any] | None:
        """The user owning the live token ``secret`` (with ``token_id``), or ``None``."""
        with self.engine.connect() as c:
            row = c.execute(
                sa.select(users, tokens.c.id.label("token_id"))
                .join(tokens, tokens.c.user_id == users.c.id)
                .where(tokens.c.hash == hash_token(secret), tokens.c.revoked_at.is_(None))
            ).mappings().first()
        return dict(row) if row else None

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
        with self.engine.begin() as c:
            if idempotency_key is not None:
                old = c.execute(sa.select(jobs_t).where(jobs_t.c.user_id == user["id"],
                                                        jobs_t.c.idempotency_key == idempotency_key)
                                ).mappings().first()
                if old is not None:
                    if old["body_hash"] != body_hash:
                        raise ConflictError("Idempotency-Key reused with a different request body")
                    return dict(old), False
            active = c.execute(sa.select(sa.func.count()).select_from(jobs_t).where(
                jobs_t.c.user_id == user["id"],
                jobs_t.c.status.in_((QUEUED, RUNNING, CANCELLING)))).scalar_one()
            if active >= max_concurrent:
                raise QuotaError(f"quota: at most {max_concurrent} concurrent jobs per user "
                                 f"(you have {active} queued or running)", retry_after=1.0)
            used = c.execute(sa.select(usage_t.c.shots).where(usage_t.c.user_id == user["id"],
                                                              usage_t.c.day == day)).scalar() or 0
            total = shots * num_circuits
            if used + total > max_shots_per_day:
                tomorrow = (int(now // 86400) + 1) * 86400
                raise QuotaError(f"quota: at most {max_shots_per_day} shots per day (used {used}, "
                                 f"this job needs {total})", retry_after=max(1.0, tomorrow - now))
            upd = c.execute(sa.update(usage_t).where(usage_t.c.user_id == user["id"], usage_t.c.day == day)
                            .values(jobs=usage_t.c.jobs + 1, shots=usage_t.c.shots + total)).rowcount
            if upd == 0:
                c.execute(sa.insert(usage_t).values(user_id=user["id"], day=day, jobs=1, shots=total))
            jid = uuid.uuid4().hex
            row = dict(id=jid, seq=time.time_ns(), user_id=user["id"], device=device, status=QUEUED,
                       phase=None, shots=shots, num_circuits=num_circuits, spec=json.dumps(spec),
                       tags=json.dumps(tags), idempotency_key=idempotency_key, body_hash=body_hash,
                       created_at=now, timeline=json.dumps({"created": now, "queued": now}),
                       attempt=0, completions=0)
            c.execute(sa.insert(jobs_t).values(**row))
            c.execute(sa.insert(events_t).values(job_id=jid, at=now, status=QUEUED, phase=None,
                                                 message="job queued"))
            return dict(c.execute(sa.select(jobs_t).where(jobs_t.c.id == jid)).mappings().one()), True

    def get_job(self, job_id: str, user_id: int | None = None) -> dict[str, Any]:
        """The job row; :class:`NotFoundError` when missing or (with ``user_id``) someone else's."""
        q = sa.select(jobs_t).where(jobs_t.c.id == job_id)
        if user_id is not None:
            q = q.where(jobs_t.c.user_id == user_id)
        with self.engine.connect() as c:
            row = c.execute(q).mappings().first()
        if row is None:
            raise NotFoundError(f"job {job_id} not found")
        return dict(row)

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
        """``(jobs ahead in the queue, estimated seconds until start)`` for a QUEUED job."""
        with self.engine.connect() as c:
            ahead = int(c.execute(sa.select(sa.func.count()).select_from(jobs_t).where(
                jobs_t.c.status == QUEUED, jobs_t.c.seq < job["seq"])).scalar_one())
            recent = c.execute(sa.select(jobs_t.c.started_at, jobs_t.c.finished_at).where(
                jobs_t.c.status == COMPLETED).order_by(jobs_t.c.seq.desc()).limit(50)).all()
            workers = c.execute(sa.select(sa.func.count(sa.distinct(jobs_t.c.lease_owner))).where(
                jobs_t.c.status == RUNNING, jobs_t.c.lease_expires > time.time())).scalar_one()
        durs = [f - s for s, f in recent if s is not None and f is not None]
        mean = sum(durs) / len(durs) if durs else 1.0
        return ahead, (ahead + 1) * mean / max(1, int(workers))

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

        One statement; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite."""
        now = time.time()
        pick = sa.select(jobs_t.c.id).where(sa.or_(
            jobs_t.c.status == QUEUED,
            sa.and_(jobs_t.c.status == RUNNING, jobs_t.c.lease_expires < now))
        ).order_by(jobs_t.c.seq).limit(1)
        if self.postgres:
            pick = pick.with_for_update(skip_locked=True)
        stmt = (sa.update(jobs_t).where(jobs_t.c.id == pick.scalar_subquery())
                .values(status=RUNNING, phase="validating", lease_owner=worker,
                        lease_expires=now + self.lease_seconds, attempt=jobs_t.c.attempt + 1,
                        started_at=sa.func.coalesce(jobs_t.c.started_at, now))
                .returning(jobs_t.c.id, jobs_t.c.attempt, jobs_t.c.device, jobs_t.c.shots,
                           jobs_t.c.spec))
        with self.engine.begin() as c:
            self._expire_cancelling(c, now)
            row = c.execute(stmt).first()
            if row is None:
                return None
            c.execute(sa.insert(events_t).values(job_id=row.id, at=now, status=RUNNING, phase="validating",
                                                 message=f"claimed by {worker} (attempt {row.attempt})"))
        return Claim(row.id, int(row.attempt), row.device, int(row.shots), json.loads(row.spec))

    def _expire_cancelling(self, c: Connection, now: float) -> None:
        c.execute(sa.update(jobs_t).where(jobs_t.c.status == CANCELLING, jobs_t.c.lease_expires < now)
                  .values(status=CANCELLED, finished_at=now))

    def heartbeat(self, claim: Claim, worker: str, phase: str | None = None) -> str | None:
        """Extend the lease (and set the phase); returns the job's status, or ``None`` when the
        lease was lost (another worker re-claimed the job)."""
        now = time.time()
        vals: dict[str, Any] = {"lease_expires": now + self.lease_seconds}
        if phase is not None:
            vals["phase"] = phase
        with self.engine.begin() as c:
            row = c.execute(sa.update(jobs_t).where(
                jobs_t.c.id == claim.id, jobs_t.c.lease_owner == worker,
                jobs_t.c.attempt == claim.attempt, jobs_t.c.status.in_((RUNNING, CANCELLING)))
                .values(**vals).returning(jobs_t.c.status, jobs_t.c.timeline)).first()
            if row is None:
                return None
            if phase is not None:
                c.execute(sa.update(jobs_t).where(jobs_t.c.id == claim.id)
                          .values(timeline=_tl(row.timeline, phase, now)))
                c.execute(sa.insert(events_t).values(job_id=claim.id, at=now, status=row.status,
                                                     phase=phase, message=phase))
        return str(row.status)

    def finish(self, claim: Claim, worker: str, *, status: str, result: dict[str, Any] | None = None,
               calibration_id: str | None = None, error: tuple[str, str] | None = None,
               phases: dict[str, float] | None = None) -> bool:
        """Write the outcome, guarded by lease owner + attempt; ``False`` when the lease was lost.

        A job that was being cancelled ends CANCELLED whatever the outcome."""
        now = time.time()
        with self.engine.begin() as c:
            row = c.execute(sa.select(jobs_t.c.status, jobs_t.c.timeline).where(
                jobs_t.c.id == claim.id, jobs_t.c.lease_owner == worker,
                jobs_t.c.attempt == claim.attempt)).first()
            if row is None or row.status not in (RUNNING, CANCELLING):
                return False
            final = CANCELLED if row.status == CANCELLING else status
            tl = json.loads(row.timeline)
            for k, t in (phases or {}).items():
                tl.setdefault(k, t)
            tl[final.lower()] = now
            vals: dict[str, Any] = dict(status=final, finished_at=now, lease_owner=None, lease_expires=None,
                                        calibration_id=calibration_id, timeline=json.dumps(tl))
            if final == COMPLETED:
                vals["result"] = json.dumps(result)
                vals["completions"] = jobs_t.c.completions + 1
                vals["phase"] = None
            if final == FAILED and error:
                vals["error_code"], vals["error_message"] = error
            n = c.execute(sa.update(jobs_t).where(
                jobs_t.c.id == claim.id, jobs_t.c.lease_owner == worker, jobs_t.c.attempt == claim.attempt,
                jobs_t.c.status.in_((RUNNING, CANCELLING))).values(**vals)).rowcount
            if n != 1:
                return False
            msg = {COMPLETED: "completed", CANCELLED: "cancelled"}.get(final, f"failed: {error}")
            c.execute(sa.insert(events_t).values(job_id=claim.id, at=now, status=final, phase=None,
                                                 message=msg))
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
