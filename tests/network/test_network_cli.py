"""The network CLI from outside: `qkd network simulate`, `qkd pki`, `qkd kms serve` (two server
processes, driven by curl or by raw ssl + http.client: no qvalley client code), `qkd demo`."""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from qvalley.cli.main import main
from qvalley.network.pki import create_network_pki
from qvalley.network.topology import load_topology


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse errors
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


# --- qvalley qkd network simulate -----------------------------------------------------------------


def test_simulate_metro_json_has_link_and_pair_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(["qkd", "network", "simulate", "metro-38", "--hours", "1", "--json"], capsys)
    assert rc == 0, err
    rep = json.loads(out)
    assert rep["topology"] == "metro-38" and rep["hours"] == 1.0
    assert rep["totals"]["nodes"] == 38 and len(rep["links"]) == rep["totals"]["links"] == 54
    for lk in rep["links"]:
        assert {"a", "b", "length_km", "key_rate_bps", "generated_bits", "consumed_bits", "pool_bits",
                "pool_fill", "min_pool_fill", "up"} <= set(lk)
        assert 0 <= lk["min_pool_fill"] <= lk["pool_fill"] <= 1 and lk["up"] is True
    assert len(rep["pairs"]) == rep["totals"]["pairs"] > 100
    for p in rep["pairs"]:
        assert p["requested_bits"] == 1024 * 3600  # the default demand: 1 kbit/s per pair
        assert p["served_bits"] == p["keys_served"] * 256
        assert p["mean_hops"] >= 1 and p["routes"][0]["path"][0] == p["src"]
        assert sum(r["keys"] for r in p["routes"]) == p["keys_served"]
    # every relayed bit is taken from each link it crosses: link consumption = sum over routes of hops
    hop_bits = sum((len(r["path"]) - 1) * r["keys"] * 256 for p in rep["pairs"] for r in p["routes"])
    assert rep["totals"]["consumed_bits"] == hop_bits
    assert rep["totals"]["served_fraction"] == 1.0


def test_simulate_beijing_shanghai_relays_over_33_hops(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(["qkd", "network", "simulate", "beijing-shanghai", "--hours", "2", "--json"],
                           capsys)
    assert rc == 0, err
    rep = json.loads(out)
    assert rep["totals"]["nodes"] == 34 and rep["totals"]["links"] == 33
    (pair,) = rep["pairs"]
    assert {pair["src"], pair["dst"]} == {"BEIJING", "SHANGHAI"}
    assert pair["mean_hops"] == 33 and pair["served_fraction"] == 1.0
    assert all(lk["consumed_bits"] == pair["served_bits"] for lk in rep["links"])


def test_link_cut_in_demand_file_reroutes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demand = tmp_path / "demand.json"
    demand.write_text(json.dumps({
        "key_bits": 256, "requests": [{"src": "SSE", "dst": "CSDC", "rate_bps": 4096}],
        "cuts": [{"a": "CFFEX", "b": "CSDC", "at_h": 0.5}]}))
    rc, out, err = run_cli(["qkd", "network", "simulate", "metro-38", "--demand", str(demand), "--json"],
                           capsys)
    assert rc == 0, err
    rep = json.loads(out)
    (pair,) = rep["pairs"]
    assert pair["served_fraction"] == 1.0 and pair["no_route_steps"] == 0
    paths = [r["path"] for r in pair["routes"]]
    assert len(paths) == 2

    def uses_cut(path: list[str]) -> bool:
        return any({u, v} == {"CFFEX", "CSDC"} for u, v in itertools.pairwise(path))

    assert sum(uses_cut(p) for p in paths) == 1  # the direct route before the cut, a detour after
    assert all(r["keys"] == 16 * 1800 for r in pair["routes"])  # half an hour each at 16 keys/s
    cut = [lk for lk in rep["links"] if not lk["up"]]
    assert [(lk["a"], lk["b"]) for lk in cut] == [("CFFEX", "CSDC")] and rep["totals"]["links_down"] == 1


def test_human_output_is_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(["qkd", "network", "simulate", "beijing-shanghai", "--hours", "0.5"], capsys)
    assert rc == 0 and "R23-HEFEI" in out and "served 100.00%" in out


BAD_TOPOLOGY = {"name": "x", "nodes": [{"name": "A", "lat": 0, "lon": 0}, {"name": "B", "lat": 0, "lon": 1}],
                "links": [{"a": "A", "b": "B", "length_km": "far"}]}


@pytest.mark.parametrize(("topology", "demand", "needles"), [
    (BAD_TOPOLOGY, None, ["topo.json", "link #0 (A-B)", "'length_km'"]),
    ("{not json", None, ["topo.json:1:2", "invalid JSON"]),
    ("metro-38", {"requests": [{"src": "SSE", "dst": "ICBC", "rate_bps": "lots"}]},
     ["demand.json", "request #0", "'rate_bps'"]),
    ("metro-38", {"requests": [{"src": "SSE", "dst": "NOWHERE", "rate_bps": 1}]},
     ["demand.json", "request #0", "'dst'", "NOWHERE"]),
    ("metro-38", {"cuts": [{"a": "SSE", "b": "BOSH", "at_h": 1}]},
     ["demand.json", "cut #0", "no link SSE-BOSH"]),
    ("metro-38", {"cuts": [{"a": "SSE", "b": "ICBC"}]}, ["demand.json", "cut #0", "'at_h'"]),
    ("metro-38", {"key_bits": 100}, ["demand.json", "'key_bits'"]),
    ("metro-38", {"requests": [], "cutz": []}, ["demand.json", "'cutz'"]),
    ("metro-38", "[1,", ["demand.json:1:4", "invalid JSON"]),
])
def test_bad_files_give_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], topology: Any,
                                        demand: Any, needles: list[str]) -> None:
    topo_arg = topology
    if not isinstance(topology, str) or topology.startswith("{"):
        topo_arg = str(tmp_path / "topo.json")
        Path(topo_arg).write_text(topology if isinstance(topology, str) else json.dumps(topology))
    argv = ["qkd", "network", "simulate", topo_arg, "--hours", "0.1"]
    if demand is not None:
        (tmp_path / "demand.json").write_text(demand if isinstance(demand, str) else json.dumps(demand))
        argv += ["--demand", str(tmp_path / "demand.json")]
    rc, out, err = run_cli(argv, capsys)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for n in needles:
        assert n in err, err


@pytest.mark.parametrize("argv", [["--hours", "0"], ["--hours", "x"], ["--step", "-1"]])
def test_bad_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(["qkd", "network", "simulate", "metro-38", *argv], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1


def test_map_png_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demand = tmp_path / "d.json"
    demand.write_text(json.dumps({"cuts": [{"a": "R-NANHUI", "b": "DC-LINGANG", "at_h": 0}]}))
    png, page = tmp_path / "out" / "map.png", tmp_path / "map.html"
    rc, _, err = run_cli(["qkd", "network", "simulate", "metro-38", "--hours", "0.2", "--demand", str(demand),
                          "--map", str(png), "--html", str(page)], capsys)
    assert rc == 0, err
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    text = page.read_text()
    assert text.startswith("<!doctype html>") and text.count("<svg") == 2  # whole map + dense core
    assert text.count('class="link"') == 2 * 54 and text.count('class="node"') == 2 * 38
    assert "DC-LINGANG–R-NANHUI" in text and " CUT" in text and "data:image/png;base64," in text
    assert oct(stat.S_IMODE(png.stat().st_mode)) != "0o600"  # an ordinary file, not a temp file's mode
    rc, _, err = run_cli(["qkd", "network", "simulate", "metro-38", "--hours", "0.1", "--map",
                          str(page / "x.png")], capsys)
    assert rc == 2 and "x.png" in err and len(err.strip().splitlines()) == 1


# --- qvalley qkd pki ------------------------------------------------------------------------------


def write_topology(path: Path) -> Path:
    """A -- R1 -- R2 -- B (3 hops); B has two SAEs, so one pair's keys can be asked for by another."""
    nodes = [{"name": "A", "role": "exchange", "lat": 31.0, "lon": 121.0, "sae_ids": ["A-SAE"]},
             {"name": "R1", "role": "relay", "lat": 31.01, "lon": 121.0, "sae_ids": []},
             {"name": "R2", "role": "relay", "lat": 31.02, "lon": 121.0, "sae_ids": []},
             {"name": "B", "role": "bank", "lat": 31.03, "lon": 121.0, "sae_ids": ["B-SAE", "B2-SAE"]}]
    links = [{"a": x, "b": y, "length_km": 20, "key_rate_bps": 1e5} for x, y in (("A", "R1"), ("R1", "R2"),
                                                                                 ("R2", "B"))]
    path.write_text(json.dumps({"name": "line4", "nodes": nodes, "links": links}))
    return path


def test_pki_creates_ca_kme_and_sae_certificates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    topo = write_topology(tmp_path / "t.json")
    rc, out, err = run_cli(["qkd", "pki", "--dir", str(tmp_path / "pki"), "--topology", str(topo), "--json"],
                           capsys)
    assert rc == 0, err
    creds = json.loads(out)["credentials"]
    assert set(creds) == {"ca", "kme:A", "kme:B", "sae:A-SAE", "sae:B-SAE", "sae:B2-SAE"}
    ca = x509.load_pem_x509_certificate(Path(creds["ca"]["cert"]).read_bytes())
    sae = x509.load_pem_x509_certificate(Path(creds["sae:B2-SAE"]["cert"]).read_bytes())
    kme = x509.load_pem_x509_certificate(Path(creds["kme:B"]["cert"]).read_bytes())
    sae.verify_directly_issued_by(ca)
    kme.verify_directly_issued_by(ca)
    san = sae.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:qvalley:sae:B2-SAE"]
    assert list(sae.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    ksan = kme.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in ksan.get_values_for_type(x509.DNSName)
    assert stat.S_IMODE(Path(creds["sae:B2-SAE"]["key"]).stat().st_mode) == 0o600
    rc, _, err = run_cli(["qkd", "pki", "--dir", str(tmp_path / "p2"), "--topology", str(topo),
                          "--node", "NOPE"], capsys)
    assert rc == 2 and "NOPE" in err and not (tmp_path / "p2").exists()


# --- qvalley qkd kms serve: two KME processes, an independent client ------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Etsi:
    """A client sharing no code with qvalley's: curl when installed, else ssl + http.client."""

    def __init__(self, pki: Path, ports: dict[str, int]) -> None:
        self.pki, self.ports = pki, ports
        self.curl = shutil.which("curl")

    def __call__(self, node: str, sae: str, path: str, body: Any = None) -> tuple[int, Any]:
        cert, key, ca = self.pki / f"sae-{sae}.pem", self.pki / f"sae-{sae}.key", self.pki / "ca.pem"
        url = f"https://localhost:{self.ports[node]}{path}"
        if self.curl:
            cmd = [self.curl, "-sS", "--cert", str(cert), "--key", str(key), "--cacert", str(ca),
                   "-w", "\n%{http_code}", url]
            if body is not None:
                cmd += ["-X", "POST", "-H", "Content-Type: application/json", "-d", json.dumps(body)]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True)
            text, code = r.stdout.rsplit("\n", 1)
            return int(code), json.loads(text)
        ctx = ssl.create_default_context(cafile=str(ca))
        ctx.load_cert_chain(str(cert), str(key))
        conn = http.client.HTTPSConnection("localhost", self.ports[node], context=ctx, timeout=30)
        try:
            if body is None:
                conn.request("GET", path)
            else:
                conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()


@pytest.fixture(scope="module")
def kme_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("kmsproc")
    topo = write_topology(tmp / "t.json")
    pki = tmp / "pki"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "qvalley.cli.main", "qkd"]
    create_network_pki(pki, load_topology(topo))  # the `qkd pki` command itself is tested above
    ports = {"A": free_port(), "B": free_port()}
    procs, errs = {}, {}
    for node in ports:
        wd = tmp / f"kme-{node}"
        wd.mkdir()
        errs[node] = wd / "stderr.txt"
        with open(wd / "stdout.txt", "wb") as out, open(errs[node], "wb") as err:
            procs[node] = subprocess.Popen(
                [*cli, "kms", "serve", "--topology", str(topo), "--node", node, "--port", str(ports[node]),
                 "--cert", str(pki / f"kme-{node}.pem"), "--key", str(pki / f"kme-{node}.key"),
                 "--ca", str(pki / "ca.pem"), "--store", str(tmp / "keys.sqlite"),
                 "--supply", "all" if node == "A" else "none"],
                cwd=wd, stdout=out, stderr=err, env=env)
    try:
        deadline = time.monotonic() + 60
        for node, port in ports.items():
            while True:
                if procs[node].poll() is not None:
                    pytest.fail(f"KME {node} exited: {errs[node].read_text()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"KME {node} did not start: {errs[node].read_text()}")
                    time.sleep(0.1)
        yield {"etsi": Etsi(pki, ports), "stderr": errs, "delivered": [], "procs": procs}
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_etsi014_round_trip_between_two_kme_processes(kme_processes: dict[str, Any]) -> None:
    etsi = kme_processes["etsi"]
    code, st = etsi("A", "A-SAE", "/api/v1/keys/B-SAE/status")
    assert code == 200 and st["source_KME_ID"] == "A" and st["target_KME_ID"] == "B"
    assert st["stored_key_count"] > 0 and st["key_size"] == 256
    code, container = etsi("A", "A-SAE", "/api/v1/keys/B-SAE/enc_keys", {"number": 3, "size": 512})
    assert code == 200 and len(container["keys"]) == 3
    ids = [k["key_ID"] for k in container["keys"]]
    assert all(str(uuid.UUID(i)) == i for i in ids)
    master = [base64.b64decode(k["key"], validate=True) for k in container["keys"]]
    assert all(len(k) == 64 for k in master) and len(set(master)) == 3
    kme_processes["delivered"] += master
    # the slave's KME is another process: the keys reached it through the shared store
    code, got = etsi("B", "B-SAE", "/api/v1/keys/A-SAE/dec_keys",
                     {"key_IDs": [{"key_ID": i} for i in ids[:2]]})
    assert code == 200 and [k["key_ID"] for k in got["keys"]] == ids[:2]
    code, got3 = etsi("B", "B-SAE", f"/api/v1/keys/A-SAE/dec_keys?key_ID={ids[2]}")  # the GET form
    assert code == 200
    slave = [base64.b64decode(k["key"]) for k in got["keys"] + got3["keys"]]
    assert slave == master
    # delivered once, then erased: asking again fails
    code, err = etsi("B", "B-SAE", f"/api/v1/keys/A-SAE/dec_keys?key_ID={ids[0]}")
    assert code == 401 and set(err) == {"message", "details"}


def test_another_pairs_keys_are_refused_with_401(kme_processes: dict[str, Any]) -> None:
    etsi = kme_processes["etsi"]
    code, container = etsi("A", "A-SAE", "/api/v1/keys/B-SAE/enc_keys?number=1")
    assert code == 200
    kid = container["keys"][0]["key_ID"]
    kme_processes["delivered"].append(base64.b64decode(container["keys"][0]["key"]))
    # B2-SAE sits on the same KME as B-SAE, but the key belongs to the pair A-SAE -> B-SAE
    code, err = etsi("B", "B2-SAE", "/api/v1/keys/A-SAE/dec_keys", {"key_IDs": [{"key_ID": kid}]})
    assert code == 401 and set(err) == {"message", "details"} and err["message"]
    # the master cannot collect the slave's copy, and B-SAE cannot use A's KME as master
    assert etsi("B", "A-SAE", f"/api/v1/keys/A-SAE/dec_keys?key_ID={kid}")[0] == 401
    assert etsi("A", "B-SAE", "/api/v1/keys/A-SAE/enc_keys")[0] == 401
    # the refused attempts did not consume it: the rightful slave still gets the same bytes
    code, got = etsi("B", "B-SAE", "/api/v1/keys/A-SAE/dec_keys", {"key_IDs": [{"key_ID": kid}]})
    assert code == 200 and got["keys"][0]["key"] == container["keys"][0]["key"]


@pytest.mark.parametrize(("path", "body", "code"), [
    ("/api/v1/keys/B-SAE/enc_keys", {"number": 0}, 400),
    ("/api/v1/keys/B-SAE/enc_keys", {"size": 100}, 400),
    ("/api/v1/keys/NOBODY/enc_keys", {}, 400),
    ("/api/v1/keys/B-SAE/enc_keys?number=1000", None, 400),
])
def test_errors_are_message_and_details(kme_processes: dict[str, Any], path: str, body: Any,
                                        code: int) -> None:
    got, err = kme_processes["etsi"]("A", "A-SAE", path, body)
    assert got == code and set(err) == {"message", "details"} and err["message"]


def test_server_stderr_holds_no_key_material(kme_processes: dict[str, Any]) -> None:
    etsi = kme_processes["etsi"]
    code, c = etsi("A", "A-SAE", "/api/v1/keys/B-SAE/enc_keys", {"number": 2})
    assert code == 200
    code, d = etsi("B", "B-SAE", "/api/v1/keys/A-SAE/dec_keys", {"key_IDs": [{"key_ID": k["key_ID"]}
                                                                             for k in c["keys"]]})
    assert code == 200
    keys = [base64.b64decode(k["key"]) for k in d["keys"]] + kme_processes["delivered"]
    time.sleep(0.2)
    for node, path in kme_processes["stderr"].items():
        text = path.read_text()
        assert f"KME {node} (ETSI GS QKD 014)" in text  # the file does hold the server's log
        for k in keys:
            for form in (base64.b64encode(k).decode(), k.hex(), k.hex().upper()):
                assert form not in text
    assert all(p.poll() is None for p in kme_processes["procs"].values())


def test_serve_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    topo = write_topology(tmp_path / "t.json")
    base = ["qkd", "kms", "serve", "--topology", str(topo)]
    rc, _, err = run_cli([*base, "--node", "B", "--pki", str(tmp_path / "nopki")], capsys)
    assert rc == 2 and "kme-B.pem" in err and "--cert" in err and len(err.strip().splitlines()) == 1
    rc, _, err = run_cli([*base, "--node", "Z"], capsys)
    assert rc == 2 and "no node 'Z'" in err
    run_cli(["qkd", "pki", "--dir", str(tmp_path / "pki"), "--topology", str(topo)], capsys)
    (tmp_path / "junk.pem").write_text("not a certificate")
    rc, _, err = run_cli([*base, "--node", "B", "--pki", str(tmp_path / "pki"),
                          "--cert", str(tmp_path / "junk.pem")], capsys)
    assert rc == 2 and "junk.pem" in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        rc, _, err = run_cli([*base, "--node", "B", "--pki", str(tmp_path / "pki"), "--port", str(port)],
                             capsys)
    assert rc == 2 and f"127.0.0.1:{port}" in err


# --- qvalley qkd demo -----------------------------------------------------------------------------


def test_demo_streams_messages_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(["qkd", "demo", "--messages", "400", "--otp-messages", "20", "--rotate", "50",
                            "--json"], capsys)
    assert rc == 0, err
    rep = json.loads(out)
    assert rep["route"][0] == "SSE" and rep["route"][-1] == "BOSH" and len(rep["route"]) >= 4
    aes, otp = rep["streams"]
    assert aes["mode"] == "aes-gcm" and aes["messages"] == 400 and aes["etsi_keys"] == 8
    assert aes["etsi_key_bits_per_message"] == 256 / 50 and aes["receiver_key_bits"] == aes["etsi_key_bits"]
    assert otp["messages"] == 20 and otp["etsi_keys"] == 20
    # a one-time pad spends at least the message plus a 256-bit Poly1305 key per message
    assert otp["etsi_key_bits"] >= 8 * (otp["payload_bytes"] + 32 * 20)
    assert aes["messages_per_s"] > 0 and otp["messages_per_s"] > 0
