"""ETSI GS QKD 014 KMEs over real HTTPS with mutual TLS: round trip, access control, errors."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qvalley.network.kms import (
    KeyStore,
    KMSClient,
    KMSClientError,
)
from qvalley.network.kms.store import InsufficientKeyError

from ._netfixtures import line_topology, running_kmes


@pytest.fixture(scope="module")
def kmes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_kmes(tmp_path_factory.mktemp("kms"), line_topology(4)) as k:
        yield k


def client(k: dict[str, Any], node: str, sae: str) -> KMSClient:
    c = k["creds"][f"sae:{sae}"]
    return KMSClient(k["urls"][node], c.cert, c.key, k["ca"])


def test_round_trip_master_and_slave_get_identical_keys(kmes: dict[str, Any]) -> None:
    with client(kmes, "N0", "N0-SAE") as master, client(kmes, "N3", "N3-SAE") as slave:
        st = master.status("N3-SAE")
        assert st["source_KME_ID"] == "N0" and st["target_KME_ID"] == "N3"
        assert st["master_SAE_ID"] == "N0-SAE" and st["slave_SAE_ID"] == "N3-SAE"
        assert st["stored_key_count"] > 0
        for f in ("key_size", "max_key_count", "max_key_per_request", "max_key_size", "min_key_size",
                  "max_SAE_ID_count"):
            assert isinstance(st[f], int)
        keys = master.enc_keys("N3-SAE", number=3, size=256)
        assert len(keys) == 3 and all(len(k.key) == 32 for k in keys)
        assert all(uuid.UUID(k.key_id) for k in keys)
        got = slave.dec_keys("N0-SAE", [k.key_id for k in keys])
        assert [g.key for g in got] == [k.key for k in keys]
        # delivered once, then erased
        with pytest.raises(KMSClientError) as e:
            slave.dec_keys("N0-SAE", [keys[0].key_id])
        assert e.value.status == 401
        assert master.status("N3-SAE")["stored_key_count"] == st["stored_key_count"] - 3


def _ctx(k: dict[str, Any], sae: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(k["ca"]))
    if sae:
        c = k["creds"][f"sae:{sae}"]
        ctx.load_cert_chain(str(c.cert), str(c.key))
    return ctx


def test_independent_client_stdlib_urllib(kmes: dict[str, Any]) -> None:
    """A client that shares no code with ours: urllib + ssl, GET forms of the standard's routes."""
    url = kmes["urls"]["N0"] + "/api/v1/keys/N3-SAE/enc_keys?number=2&size=512"
    with urllib.request.urlopen(url, context=_ctx(kmes, "N0-SAE")) as r:
        container = json.loads(r.read())
    assert set(container) == {"keys"} and len(container["keys"]) == 2
    assert set(container["keys"][0]) == {"key_ID", "key"}
    ids = [k["key_ID"] for k in container["keys"]]
    got = []
    for kid in ids:
        u = kmes["urls"]["N3"] + f"/api/v1/keys/N0-SAE/dec_keys?key_ID={kid}"
        with urllib.request.urlopen(u, context=_ctx(kmes, "N3-SAE")) as r:
            got += json.loads(r.read())["keys"]
    assert [g["key"] for g in got] == [k["key"] for k in container["keys"]]
    assert len(base64.b64decode(got[0]["key"])) == 64


def _post(k: dict[str, Any], node: str, sae: str, path: str, body: Any) -> httpx.Response:
    with httpx.Client(verify=_ctx(k, sae)) as h:
        return h.post(k["urls"][node] + path, json=body)


def test_wrong_sae_gets_401(kmes: dict[str, Any]) -> None:
    keys = client(kmes, "N0", "N0-SAE").enc_keys("N3-SAE", number=1)
    # N1's SAE is not attached to N3's KME; and at N0 it is not the slave of this key
    r = _post(kmes, "N3", "N1-SAE", "/api/v1/keys/N0-SAE/dec_keys", {"key_IDs": [{"key_ID": keys[0].key_id}]})
    assert r.status_code == 401 and "message" in r.json()
    # the master itself cannot collect the slave's copy
    r = _post(kmes, "N3", "N0-SAE", "/api/v1/keys/N0-SAE/dec_keys", {"key_IDs": [{"key_ID": keys[0].key_id}]})
    assert r.status_code == 401
    # an SAE cannot ask a KME it is not attached to for enc_keys
    r = _post(kmes, "N0", "N3-SAE", "/api/v1/keys/N0-SAE/enc_keys", {"number": 1})
    assert r.status_code == 401
    # the rightful slave still gets it
    assert client(kmes, "N3", "N3-SAE").dec_keys("N0-SAE", [keys[0].key_id])[0].key == keys[0].key


def test_no_client_certificate_is_refused(kmes: dict[str, Any]) -> None:
    url = kmes["urls"]["N0"] + "/api/v1/keys/N3-SAE/status"
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError, OSError)), \
            urllib.request.urlopen(url, context=_ctx(kmes, None)) as r:
        r.read()


@pytest.mark.parametrize("body", [{"number": 0}, {"number": "two"}, {"size": 100}, {"size": 10**6},
                                  {"number": 1000}, {"additional_slave_SAE_IDs": "N1-SAE"},
                                  {"extension_mandatory": [{"x": 1}]}])
def test_bad_parameters_give_400(kmes: dict[str, Any], body: dict[str, Any]) -> None:
    r = _post(kmes, "N0", "N0-SAE", "/api/v1/keys/N3-SAE/enc_keys", body)
    assert r.status_code == 400, r.text
    assert set(r.json()) <= {"message", "details"} and r.json()["message"]


def test_unknown_slave_and_bad_key_id_give_400(kmes: dict[str, Any]) -> None:
    assert _post(kmes, "N0", "N0-SAE", "/api/v1/keys/NOBODY/enc_keys", {}).status_code == 400
    r = _post(kmes, "N3", "N3-SAE", "/api/v1/keys/N0-SAE/dec_keys", {"key_IDs": [{"key_ID": "nope"}]})
    assert r.status_code == 400
    r = _post(kmes, "N3", "N3-SAE", "/api/v1/keys/N0-SAE/dec_keys", {"keys": []})
    assert r.status_code == 400


def test_exhaustion_gives_503_then_recovers(kmes: dict[str, Any]) -> None:
    m = client(kmes, "N0", "N0-SAE")
    n = m.status("N3-SAE")["stored_key_count"]
    while n > 0:
        m.enc_keys("N3-SAE", number=min(n, 128))
        n = m.status("N3-SAE")["stored_key_count"]
    r = _post(kmes, "N0", "N0-SAE", "/api/v1/keys/N3-SAE/enc_keys", {"number": 1})
    assert r.status_code == 503 and r.json()["message"]
    kmes["supply"].advance(1.0)  # the links make more key; the relay refills the store
    assert m.enc_keys("N3-SAE", number=1)


def test_key_material_is_not_in_the_logs(kmes: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    kmes["supply"].top_up()
    keys = client(kmes, "N0", "N0-SAE").enc_keys("N3-SAE", number=1)
    client(kmes, "N3", "N3-SAE").dec_keys("N0-SAE", [keys[0].key_id])
    b64 = base64.b64encode(keys[0].key).decode()
    assert b64 not in caplog.text and keys[0].key.hex() not in caplog.text


def test_store_survives_reopen(tmp_path: Path) -> None:
    s = KeyStore(tmp_path / "k.sqlite")
    s.deposit("A", "B", bytes(range(64)))
    k = s.issue("A", "B", "a", {"b": "B"}, 2, 16)
    s2 = KeyStore(tmp_path / "k.sqlite")
    assert s2.available_bytes("A", "B") == 32
    assert [x.key for x in s2.collect("B", "a", "b", [k[1].key_id])] == [bytes(range(16, 32))]
    assert s2.issued_count() == 1


@settings(max_examples=40, deadline=None)
@given(deposits=st.lists(st.integers(1, 3 * KeyStore.CHUNK), min_size=1, max_size=6),
       takes=st.lists(st.integers(1, 2 * KeyStore.CHUNK), min_size=1, max_size=8))
def test_keys_are_the_deposited_stream_in_order(tmp_path_factory: pytest.TempPathFactory,
                                                deposits: list[int], takes: list[int]) -> None:
    """Whatever the deposit and key sizes, issued keys are consecutive pieces of the deposited
    material (oldest first, across row boundaries), nothing is issued twice, and a key larger
    than what is left fails without consuming anything."""
    import os

    s = KeyStore(tmp_path_factory.mktemp("ks") / "k.sqlite")
    stream = b""
    for n in deposits:
        m = os.urandom(n)
        s.deposit("A", "B", m)
        stream += m
    pos = 0
    for n in takes:
        if pos + n > len(stream):
            with pytest.raises(InsufficientKeyError):
                s.issue("A", "B", "a", {"b": "B"}, 1, n)
        else:
            (k,) = s.issue("A", "B", "a", {"b": "B"}, 1, n)
            assert k.key == stream[pos:pos + n]
            pos += n
        assert s.available_bytes("A", "B") == len(stream) - pos
