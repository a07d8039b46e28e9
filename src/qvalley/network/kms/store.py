"""The network key store shared by the KMEs: relayed key material per node pair, in SQLite.

Two KMEs (the master SAE's node and the slave SAE's node) are separate processes; in a real network
each holds its own copy of the key relayed between them. Here the pair of synchronised copies is one
SQLite file that every KME process of the network opens (WAL mode, ``BEGIN IMMEDIATE`` transactions
so a claim and an erase are atomic across processes):

* ``material(src, dst, seq, chunk)``: key relayed from node ``src`` to node ``dst`` and not yet
  handed out (deposited by the relay supply, :class:`qvalley.network.kms.supply.KeySupply`);
* ``issued(key_id, src, dst, master, slaves, key)``: keys handed to a master SAE by ``enc_keys``
  and waiting for their slave SAE(s); ``dec_keys`` returns a key once per slave and erases it.

Key bytes are never logged; ``repr`` of the store shows only its path. ``secure_delete`` makes
SQLite overwrite erased keys on disk.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..topology import NetworkError


class KeyStoreError(NetworkError):
    """The key store cannot serve the request."""


class InsufficientKeyError(KeyStoreError):
    """Not enough relayed key material for the pair."""


@dataclass(frozen=True)
class IssuedKey:
    """A key handed out: UUID ``key_id`` and its bytes."""

    key_id: str
    key: bytes

    def __repr__(self) -> str:  # never show key bytes
        return f"IssuedKey(key_id={self.key_id!r}, key=<{len(self.key)} bytes>)"


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, et: object, ev: object, tb: object) -> None:
        self.db.execute("COMMIT" if et is None else "ROLLBACK")


class KeyStore:
    """The SQLite key store at ``path`` (created on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS material (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                       "src TEXT NOT NULL, dst TEXT NOT NULL, chunk BLOB NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS material_pair ON material(src, dst, seq)")
            db.execute("CREATE TABLE IF NOT EXISTS issued (key_id TEXT PRIMARY KEY, src TEXT NOT NULL, "
                       "dst TEXT NOT NULL, master TEXT NOT NULL, slaves TEXT NOT NULL, key BLOB NOT NULL)")

    def __repr__(self) -> str:
        return f"KeyStore({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA secure_delete=ON")
            except sqlite3.Error as exc:
                raise KeyStoreError(f"{self.path}: cannot open key store ({exc})") from None
            self._local.db = db
        return db

    def _tx(self) -> _Tx:
        return _Tx(self._conn())

    CHUNK = 4096  # bytes per stored row: taking a key rewrites at most one row's remainder

    def deposit(self, src: str, dst: str, material: bytes) -> None:
        """Add key material relayed from node ``src`` to node ``dst`` (stored in rows of at most
        :attr:`CHUNK` bytes, so that issuing a key costs the key's size, not the pool's)."""
        if material:
            with self._tx() as db:
                db.executemany("INSERT INTO material(src, dst, chunk) VALUES (?, ?, ?)",
                               ((src, dst, material[i:i + self.CHUNK])
                                for i in range(0, len(material), self.CHUNK)))

    def available_bytes(self, src: str, dst: str) -> int:
        """Bytes of unissued material for the pair."""
        row = self._conn().execute("SELECT COALESCE(SUM(LENGTH(chunk)), 0) FROM material "
                                   "WHERE src=? AND dst=?", (src, dst)).fetchone()
        return int(row[0])

    @staticmethod
    def _take(db: sqlite3.Connection, src: str, dst: str, nbytes: int) -> bytes:
        out = bytearray()
        after = 0
        while len(out) < nbytes:  # the oldest rows first, a few at a time (never the whole pool)
            rows = db.execute("SELECT seq, chunk FROM material WHERE src=? AND dst=? AND seq>? "
                              "ORDER BY seq LIMIT ?", (src, dst, after,
                                                      1 + (nbytes - len(out)) // 1024)).fetchall()
            if not rows:
                break
            for seq, chunk in rows:
                after = seq
                need = nbytes - len(out)
                if need <= 0:
                    break
                if len(chunk) <= need:
                    out += chunk
                    db.execute("DELETE FROM material WHERE seq=?", (seq,))
                else:
                    out += chunk[:need]
                    db.execute("UPDATE material SET chunk=? WHERE seq=?", (chunk[need:], seq))
        if len(out) < nbytes:
            raise InsufficientKeyError(f"{src}->{dst}: {len(out)} of {nbytes} bytes of key available")
        return bytes(out)

    def issue(self, src: str, dst: str, master: str, slaves: dict[str, str], number: int,
              size_bytes: int) -> list[IssuedKey]:
        """Claim ``number`` keys of ``size_bytes`` for ``master`` → ``slaves`` (``{sae: node}``).

        The key material comes from the pair ``src``→``dst`` (the primary slave's node); for an
        additional slave on another node ``n`` the same amount is consumed from ``src``→``n`` (the
        one-time pad that carries the key there). All-or-nothing.
        """
        keys: list[IssuedKey] = []
        with self._tx() as db:
            for _ in range(number):
                key = self._take(db, src, dst, size_bytes)
                for node in sorted(set(slaves.values()) - {dst}):
                    self._take(db, src, node, size_bytes)
                kid = str(uuid.uuid4())
                db.execute("INSERT INTO issued(key_id, src, dst, master, slaves, key) VALUES (?,?,?,?,?,?)",
                           (kid, src, dst, master, json.dumps(slaves, sort_keys=True), key))
                keys.append(IssuedKey(kid, key))
        return keys

    def collect(self, node: str, master: str, slave: str, key_ids: list[str]) -> list[IssuedKey]:
        """Hand keys ``key_ids`` to ``slave`` at ``node`` once; erase each when its last slave has it.

        All-or-nothing. Raises :class:`KeyStoreError` when a key ID is unknown, already collected by
        ``slave`` or belongs to another pair (one message for all three, so IDs cannot be probed).
        """
        out: list[IssuedKey] = []
        with self._tx() as db:
            for kid in key_ids:
                row = db.execute("SELECT master, slaves, key FROM issued WHERE key_id=?", (kid,)).fetchone()
                if row is None:
                    raise KeyStoreError(f"key_ID {kid} is not available to this SAE")
                m, slaves_json, key = row
                slaves = json.loads(slaves_json)
                if m != master or slaves.get(slave) != node:
                    raise KeyStoreError(f"key_ID {kid} is not available to this SAE")
                del slaves[slave]
                if slaves:
                    db.execute("UPDATE issued SET slaves=? WHERE key_id=?", (json.dumps(slaves), kid))
                else:
                    db.execute("DELETE FROM issued WHERE key_id=?", (kid,))
                out.append(IssuedKey(kid, key))
        return out

    def issued_count(self) -> int:
        """Keys issued and not yet collected by all their slaves."""
        return int(self._conn().execute("SELECT COUNT(*) FROM issued").fetchone()[0])
