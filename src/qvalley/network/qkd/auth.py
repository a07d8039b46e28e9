"""Wegman-Carter authentication of the link's classical channel with one-time Poly1305 keys.

Each end holds an identical :class:`KeyPool` of pre-shared secret bytes. A session takes the 16-byte
Poly1305 hash key ``r`` from the pool once, and every message then consumes 16 fresh bytes ``s``
that one-time-pad the tag (Poly1305 with key ``r || s``): Wegman-Carter with an
epsilon-almost-Delta-universal polynomial hash, forgery probability about ``8 * ceil(L / 16) / 2**106``
for an ``L``-byte message. The receiver recomputes the tag from its own pool copy and rejects
(:class:`AuthenticationError`) on mismatch. The link returns the consumed bytes to the pool from its
own output (:meth:`KeyPool.add`), so the pool is replenished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.poly1305 import Poly1305

from .errors import AuthenticationError

TAG_BYTES = 16


@dataclass
class KeyPool:
    """Secret bytes shared by both ends, consumed front first."""

    data: bytearray = field(default_factory=bytearray)

    def __len__(self) -> int:
        return len(self.data)

    def take(self, n: int) -> bytes:
        """Remove and return the first ``n`` bytes; :class:`AuthenticationError` if the pool is short."""
        if n > len(self.data):
            raise AuthenticationError(
                f"authentication key pool exhausted: need {n} bytes, have {len(self.data)}"
            )
        out = bytes(self.data[:n])
        del self.data[:n]
        return out

    def add(self, key: bytes) -> None:
        """Append fresh shared key material."""
        self.data.extend(key)


class AuthenticatedChannel:
    """The public channel between Alice and Bob; every message carries a Wegman-Carter tag.

    Args:
        alice_pool: Alice's copy of the pre-shared pool.
        bob_pool: Bob's copy (must be identical).
        tamper: optional ``(sender, payload) -> payload`` hook standing for an active attacker.
    """

    def __init__(
        self, alice_pool: KeyPool, bob_pool: KeyPool, tamper: Callable[[str, bytes], bytes] | None = None
    ) -> None:
        self.pools = {"alice": alice_pool, "bob": bob_pool}
        self._r = {side: pool.take(16) for side, pool in self.pools.items()}
        self.tamper = tamper
        self.messages = 0
        self.bytes_sent = 0
        self.key_bytes_used = 16  # per end: r once, then 16 bytes per message

    def send(self, sender: str, payload: bytes) -> bytes:
        """Tag ``payload`` at ``sender`` and verify at the other end; returns what the receiver accepts."""
        if sender not in self.pools:
            raise AuthenticationError(f"unknown sender {sender!r}")
        receiver = "bob" if sender == "alice" else "alice"
        s_send = self.pools[sender].take(TAG_BYTES)
        tag = Poly1305.generate_tag(self._r[sender] + s_send, payload)
        wire = payload if self.tamper is None else self.tamper(sender, payload)
        s_recv = self.pools[receiver].take(TAG_BYTES)
        try:
            Poly1305.verify_tag(self._r[receiver] + s_recv, wire, tag)
        except InvalidSignature:
            raise AuthenticationError(
                f"message {self.messages} from {sender} failed authentication"
            ) from None
        self.messages += 1
        self.bytes_sent += len(payload) + TAG_BYTES
        self.key_bytes_used += TAG_BYTES
        return wire
