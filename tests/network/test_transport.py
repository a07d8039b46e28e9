"""Secure channel over ETSI 014 keys: round trip, rotation, tamper and replay rejection, no key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from qvalley.network.kms import KMSClient
from qvalley.network.transport import (
    IntegrityError,
    KeyExhaustedError,
    SecureReceiver,
    SecureSender,
    TransportError,
)

from ._netfixtures import line_topology, running_kmes


@pytest.fixture(scope="module")
def kmes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_kmes(tmp_path_factory.mktemp("tr"), line_topology(4), target_bytes=16384) as k:
        yield k


def clients(k: dict[str, Any]) -> tuple[KMSClient, KMSClient]:
    m, s = k["creds"]["sae:N0-SAE"], k["creds"]["sae:N3-SAE"]
    return (KMSClient(k["urls"]["N0"], m.cert, m.key, k["ca"]),
            KMSClient(k["urls"]["N3"], s.cert, s.key, k["ca"]))


def trades(n: int) -> list[bytes]:
    return [json.dumps({"type": "trade", "id": i, "isin": "CNE100000296", "qty": 100 * i, "px": 12.34 + i})
            .encode() for i in range(n)]


@pytest.mark.parametrize("mode", ["aes-gcm", "otp"])
def test_round_trip_and_key_rotation(kmes: dict[str, Any], mode: str) -> None:
    kmes["supply"].advance(1.0)
    mk, sk = clients(kmes)
    tx = SecureSender(mk, "N3-SAE", mode=mode, rotate_messages=3)
    rx = SecureReceiver(sk, "N0-SAE")
    msgs = trades(7)
    frames = [tx.seal(m) for m in msgs]
    assert all(m not in f for m, f in zip(msgs, frames, strict=True))  # never in the clear
    assert [rx.open(f) for f in frames] == msgs
    assert tx.stats.keys_fetched == (3 if mode == "aes-gcm" else 7)
    assert rx.stats.keys_fetched == tx.stats.keys_fetched


def test_tampered_and_replayed_frames_are_rejected(kmes: dict[str, Any]) -> None:
    kmes["supply"].advance(1.0)
    mk, sk = clients(kmes)
    tx, rx = SecureSender(mk, "N3-SAE"), SecureReceiver(sk, "N0-SAE")
    f1, f2, f3 = (tx.seal(m) for m in trades(3))
    assert rx.open(f1) == trades(1)[0]
    bad = bytearray(f2)
    bad[-20] ^= 1
    with pytest.raises(IntegrityError, match="authentication"):
        rx.open(bytes(bad))
    hdr = bytearray(f2)
    hdr[26] ^= 0xFF  # the sequence number is authenticated too
    with pytest.raises(IntegrityError):
        rx.open(bytes(hdr))
    assert rx.open(f2) == trades(2)[1]
    with pytest.raises(IntegrityError, match="replayed"):
        rx.open(f2)
    with pytest.raises(IntegrityError, match="replayed"):
        rx.open(f1)
    assert rx.open(f3) == trades(3)[2]


def test_no_key_fails_without_sending(kmes: dict[str, Any]) -> None:
    mk, _ = clients(kmes)
    while mk.status("N3-SAE")["stored_key_count"]:
        mk.enc_keys("N3-SAE", number=min(128, mk.status("N3-SAE")["stored_key_count"]))
    tx = SecureSender(mk, "N3-SAE", wait_s=0.2, retry_s=0.05)
    with pytest.raises(KeyExhaustedError):
        tx.seal(b"pay 1,000,000 CNY to account 42")
    assert tx.seq == 0 and tx.stats.messages == 0 and tx.stats.waits >= 1


def test_bad_settings() -> None:
    with pytest.raises(TransportError):
        SecureSender(None, "x", mode="rot13")  # type: ignore[arg-type]
