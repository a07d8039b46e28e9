"""Quantum-keyed secure channel between two SAEs, keys fetched through ETSI GS QKD 014.

The sending SAE (the ETSI *master*) gets keys from its KME with ``enc_keys``; the receiving SAE (the
*slave*) gets the same keys from its own KME with ``dec_keys`` using the key IDs carried in each frame.

Modes:

* ``aes-gcm``: AES-256-GCM (``cryptography``) under a 256-bit QKD key, rotated every ``rotate_messages``
  messages or ``rotate_seconds`` seconds, whichever comes first. The 96-bit nonce is the channel
  sequence number, unique under each key.
* ``otp``: one-time pad: each message is XORed with fresh QKD key and authenticated with a one-time
  Poly1305 key (32 more bytes of QKD key) - information-theoretic security; a message is at most
  ``OTP_MAX_MESSAGE`` bytes (one ETSI key of at most 8192 bits per message).

Frame: ``b"QV"`` | version 1 | mode 1 | key_ID 16 | seq 8 | ciphertext || tag 16. The whole header is
authenticated (AAD, or in the Poly1305 input). The receiver accepts strictly increasing sequence
numbers only (replays and reordering are rejected) and never returns unauthenticated bytes. When
no key can be had the sender waits (``wait_s``) and then raises :class:`KeyExhaustedError`: a message
is never sent in the clear.
"""

from __future__ import annotations

import struct
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.poly1305 import Poly1305

from .kms.client import Key, KeyExhaustedKMSError, KMSClientError
from .topology import NetworkError

MAGIC = b"QV"
VERSION = 1
MODES = {"aes-gcm": 1, "otp": 2}
_HEADER = struct.Struct(">2sBB16sQ")
OTP_MAX_MESSAGE = 1024 - 32 - 16  # one 8192-bit key per message: pad + Poly1305 key, 16 B spare


class TransportError(NetworkError):
    """A secure-channel frame or setting is invalid."""


class KeyExhaustedError(TransportError):
    """No QKD key could be obtained in time; nothing was sent."""


class IntegrityError(TransportError):
    """A frame failed authentication (tampered, wrong key) or was replayed/reordered."""


class KeySource(Protocol):
    """What the channel needs from an ETSI 014 client (:class:`~qvalley.network.kms.KMSClient`)."""

    def enc_keys(self, slave_sae_id: str, number: int = 1, size: int | None = None,
                 additional_slave_sae_ids: list[str] | None = None) -> list[Key]: ...

    def dec_keys(self, master_sae_id: str, key_ids: list[str]) -> list[Key]: ...


@dataclass
class ChannelStats:
    """Counters of one channel end."""

    messages: int = 0
    payload_bytes: int = 0
    keys_fetched: int = 0
    key_bits: int = 0
    waits: int = 0


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b[: len(a)], "big")).to_bytes(len(a), "big")


class SecureSender:
    """The master SAE's end: ``seal(message) -> frame``.

    Args:
        kms: ETSI 014 client of the sender's KME.
        peer_sae_id: The receiving (slave) SAE.
        mode: ``"aes-gcm"`` or ``"otp"``.
        rotate_messages: AES mode: new key after this many messages.
        rotate_seconds: AES mode: new key after this many seconds.
        wait_s: How long to keep retrying when the KME has no key (503) before failing.
        retry_s: Pause between retries.
    """

    def __init__(self, kms: KeySource, peer_sae_id: str, *, mode: str = "aes-gcm",
                 rotate_messages: int = 1000, rotate_seconds: float = 60.0, wait_s: float = 0.0,
                 retry_s: float = 0.05) -> None:
        if mode not in MODES:
            raise TransportError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        if rotate_messages < 1 or rotate_seconds <= 0:
            raise TransportError("rotate_messages must be >= 1 and rotate_seconds > 0")
        self.kms, self.peer, self.mode = kms, peer_sae_id, mode
        self.rotate_messages, self.rotate_seconds = rotate_messages, rotate_seconds
        self.wait_s, self.retry_s = wait_s, retry_s
        self.seq = 0
        self.stats = ChannelStats()
        self._key: Key | None = None
        self._aead: AESGCM | None = None
        self._key_uses = 0
        self._key_t = 0.0

    def _fetch(self, bits: int) -> Key:
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                key = self.kms.enc_keys(self.peer, number=1, size=bits)[0]
            except KeyExhaustedKMSError:
                if time.monotonic() >= deadline:
                    raise KeyExhaustedError(
                        f"no QKD key for {self.peer} within {self.wait_s:g} s; message not sent") from None
                self.stats.waits += 1
                time.sleep(self.retry_s)
                continue
            except KMSClientError as exc:
                raise TransportError(f"key request for {self.peer} failed: {exc}") from None
            self.stats.keys_fetched += 1
            self.stats.key_bits += 8 * len(key.key)
            return key

    def seal(self, message: bytes) -> bytes:
        """Encrypt and authenticate ``message``; raises :class:`KeyExhaustedError` if no key."""
        self.seq += 1
        if self.mode == "aes-gcm":
            now = time.monotonic()
            if (self._key is None or self._key_uses >= self.rotate_messages
                    or now - self._key_t >= self.rotate_seconds):
                try:
                    self._key = self._fetch(256)
                except TransportError:
                    self.seq -= 1
                    raise
                self._aead = AESGCM(self._key.key)
                self._key_uses, self._key_t = 0, now
            assert self._aead is not None and self._key is not None
            kid = uuid.UUID(self._key.key_id).bytes
            header = _HEADER.pack(MAGIC, VERSION, MODES["aes-gcm"], kid, self.seq)
            body = self._aead.encrypt(b"\0\0\0\0" + struct.pack(">Q", self.seq), message, header)
            self._key_uses += 1
        else:
            if len(message) > OTP_MAX_MESSAGE:
                self.seq -= 1
                raise TransportError(f"OTP message of {len(message)} bytes exceeds {OTP_MAX_MESSAGE}")
            need = 8 * (len(message) + 32)
            bits = max(64, -(-need // 64) * 64)
            try:
                key = self._fetch(bits)
            except TransportError:
                self.seq -= 1
                raise
            header = _HEADER.pack(MAGIC, VERSION, MODES["otp"], uuid.UUID(key.key_id).bytes, self.seq)
            ct = _xor(message, key.key[32:])
            body = ct + Poly1305.generate_tag(key.key[:32], header + ct)
        self.stats.messages += 1
        self.stats.payload_bytes += len(message)
        return header + body


class SecureReceiver:
    """The slave SAE's end: ``open(frame) -> message`` (keys by ID from the receiver's KME)."""

    def __init__(self, kms: KeySource, master_sae_id: str) -> None:
        self.kms, self.master = kms, master_sae_id
        self.last_seq = 0
        self.stats = ChannelStats()
        self._key_id: str | None = None
        self._aead: AESGCM | None = None

    def _get(self, key_id: str) -> bytes:
        try:
            key = self.kms.dec_keys(self.master, [key_id])[0]
        except KMSClientError as exc:
            raise IntegrityError(f"key {key_id} not obtainable from the KME: {exc}") from None
        self.stats.keys_fetched += 1
        self.stats.key_bits += 8 * len(key.key)
        return key.key

    def open(self, frame: bytes) -> bytes:
        """Authenticate and decrypt ``frame``; raises :class:`IntegrityError` on any failure."""
        if len(frame) < _HEADER.size + 16:
            raise IntegrityError("frame too short")
        header, body = frame[:_HEADER.size], frame[_HEADER.size:]
        magic, version, mode, kid_raw, seq = _HEADER.unpack(header)
        if magic != MAGIC or version != VERSION or mode not in MODES.values():
            raise IntegrityError("not a qvalley secure-channel frame")
        if seq <= self.last_seq:
            raise IntegrityError(f"replayed or reordered frame (seq {seq} <= {self.last_seq})")
        key_id = str(uuid.UUID(bytes=kid_raw))
        if mode == MODES["aes-gcm"]:
            if key_id != self._key_id:
                self._aead = AESGCM(self._get(key_id))
                self._key_id = key_id
            assert self._aead is not None
            try:
                msg = self._aead.decrypt(b"\0\0\0\0" + struct.pack(">Q", seq), body, header)
            except InvalidTag:
                raise IntegrityError(f"frame {seq} failed authentication") from None
        else:
            key = self._get(key_id)
            ct, tag = body[:-16], body[-16:]
            if len(key) < 32 + len(ct):
                raise IntegrityError(f"frame {seq}: key shorter than the message")
            try:
                Poly1305.verify_tag(key[:32], header + ct, tag)
            except InvalidSignature:
                raise IntegrityError(f"frame {seq} failed authentication") from None
            msg = _xor(ct, key[32:])
        self.last_seq = seq
        self.stats.messages += 1
        self.stats.payload_bytes += len(msg)
        return msg
