"""The web portal: static routes (no browser), and the pages driven in headless Chromium with
Playwright against a real server (uvicorn in a thread, SQLite in a temporary directory, one worker).

The browser tests skip when no Chromium executable is found (Debian: ``apt install chromium``)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from qvalley.cloud.client import Client
from qvalley.cloud.errors import ClientError

from .conftest import BELL3, X2

T_GATE = ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nbit[1] c;\nh q[0];\nt q[0];\n'
          'c = measure q;\n')
HEAT = re.compile(r"^hsl\((\d+), 72%, 44%\)$")
TIMEOUT_MS = 10_000


def _chromium() -> str | None:
    for p in (os.environ.get("QVALLEY_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
              shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if p and os.path.exists(p):
            return p
    return None


# ---- without a browser ---------------------------------------------------------------------------
def test_portal_static_routes_need_no_auth(tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from qvalley.cloud.api import create_app
    from qvalley.cloud.store import Store

    store = Store.open(tmp_path)
    try:
        with TestClient(create_app(store)) as tc:
            r = tc.get("/", follow_redirects=False)
            assert r.status_code == 307 and r.headers["location"] == "/portal/"
            r = tc.get("/portal/")
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            assert '<script type="module" src="app.js">' in r.text and 'id="view"' in r.text
            assert "default-src 'self'" in r.headers["content-security-policy"]
            assert tc.get("/portal", follow_redirects=True).url.path == "/portal/"
            for name, ctype in [("app.js", "text/javascript"), ("api.js", "text/javascript"),
                                ("devices.js", "text/javascript"), ("jobs.js", "text/javascript"),
                                ("tokens.js", "text/javascript"), ("ui.js", "text/javascript"),
                                ("style.css", "text/css")]:
                r = tc.get(f"/portal/{name}")
                assert r.status_code == 200, name
                assert r.headers["content-type"].split(";")[0] == ctype, name
                assert r.headers["x-content-type-options"] == "nosniff"
            assert tc.get("/portal/__init__.py").status_code == 404  # only the static folder is served
            assert tc.get("/portal/nope.js").status_code == 404
            assert tc.get("/v1/devices").status_code == 401  # the API behind it still needs a token
            paths = tc.get("/openapi.json").json()["paths"]
            assert "/" not in paths and not any(p.startswith("/portal") for p in paths)
    finally:
        store.close()


# ---- the browser tests ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: Any) -> Iterator[SimpleNamespace]:
    import uvicorn

    from qvalley.cloud.api import create_app
    from qvalley.cloud.store import Store

    store = Store.open(tmp_path_factory.mktemp("portal-data"))
    alice, _ = store.create_token("alice", name="alice-main")
    app = create_app(store, workers=1, worker_poll=0.05)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    client = Client(url, alice)
    yield SimpleNamespace(url=url, store=store, token=alice, client=client)
    client.close()
    srv.should_exit = True
    thread.join(10)
    sock.close()
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium executable (looked for $QVALLEY_CHROMIUM, /usr/bin/chromium, chromium, "
                    "chromium-browser, google-chrome on PATH); install Debian's chromium to run portal tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (test extra)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True)
        yield b
        b.close()


class Page(SimpleNamespace):
    """A browser page plus what it logged: console errors and uncaught exceptions."""


@pytest.fixture
def page(browser: Any, server: SimpleNamespace) -> Iterator[Page]:
    ctx = browser.new_context(base_url=server.url, timezone_id="UTC", locale="en-GB")
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    out = Page(pg=pg, console=[], exceptions=[], allowed=[])
    pg.on("console", lambda m: out.console.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: out.exceptions.append(str(e)))
    yield out
    ctx.close()
    assert out.exceptions == [], f"uncaught exceptions in the portal: {out.exceptions}"
    # a browser logs every 4xx answer to fetch() as a console error; only the ones a test provoked
    unexpected = [m for m in out.console if not any(a in m for a in out.allowed)]
    assert unexpected == [], f"console errors: {unexpected}"


def login(p: Page, token: str) -> None:
    p.pg.goto("/portal/")
    p.pg.fill("#login-form input[name=token]", token)
    p.pg.click("#login-form button[type=submit]")
    p.pg.wait_for_selector("#devices-table tbody tr")


def test_devices_layout_heat_map_and_history(page: Page, server: SimpleNamespace) -> None:
    pg = page.pg
    login(page, server.token)
    assert pg.inner_text("#whoami") == "alice (user)"
    assert pg.evaluate("sessionStorage.getItem('qvalley.token')") == server.token
    names = [d["name"] for d in server.client.devices()]
    assert pg.eval_on_selector_all("#devices-table tbody tr", "rs => rs.map(r => r.dataset.device)") == names

    pg.click("#devices-table a:text-is('zuchongzhi-2.1')")
    pg.wait_for_selector("svg.layout circle.qubit")
    dev = server.client.device("zuchongzhi-2.1")
    assert pg.locator("svg.layout circle.qubit").count() == dev["num_qubits"] == 66
    lines = pg.eval_on_selector_all(
        "svg.layout line.coupler",
        "ls => ls.map(l => [l.dataset.qubits, l.getAttribute('stroke'), Number(l.dataset.value)])")
    assert sorted(q for q, _, _ in lines) == sorted(f"{min(a, b)}-{max(a, b)}" for a, b in dev["couplers"])
    assert all(HEAT.match(stroke) for _, stroke, _ in lines), lines[:3]
    assert len({stroke for _, stroke, _ in lines}) > 5  # a heat map, not one colour
    worst = max(lines, key=lambda x: x[2])
    best = min(lines, key=lambda x: x[2])
    assert worst[1] == "hsl(0, 72%, 44%)" and best[1] == "hsl(120, 72%, 44%)"
    c0 = dev["calibration"]["couplers"][0]
    key = "-".join(map(str, sorted(c0["qubits"])))
    assert abs(next(v for q, _, v in lines if q == key) - c0["error_2q"]) < 1e-12
    title = pg.text_content("svg.layout circle.qubit[data-qubit='3'] title") or ""
    assert title.startswith("qubit 3 (row") and "T1" in title and "1q error" in title
    assert "2q error" in (pg.text_content("svg.layout line.coupler title") or "")
    assert pg.locator("#legend .legend-row").count() == 2
    assert "2-qubit gate error" in pg.inner_text("#legend-couplers")

    pg.select_option("#qubit-metric", "t1")
    pg.wait_for_selector("svg.layout[data-qubit-metric='t1']")
    nodes = pg.eval_on_selector_all(
        "svg.layout circle.qubit", "cs => cs.map(c => [Number(c.dataset.value), c.getAttribute('fill')])")
    t1 = [q["t1"] for q in dev["calibration"]["qubits"]]
    assert [v for v, _ in nodes] == pytest.approx(t1)
    assert max(nodes)[1] == "hsl(120, 72%, 44%)" and min(nodes)[1] == "hsl(0, 72%, 44%)"  # long T1 is good

    rows = pg.locator("#history-table tbody tr")
    rows.nth(6).wait_for()
    assert rows.count() == 7
    assert rows.first.get_attribute("data-calibration") == dev["calibration_id"]
    pg.click("#history-older")
    rows.nth(13).wait_for()
    ids = pg.eval_on_selector_all("#history-table tbody tr", "rs => rs.map(r => r.dataset.calibration)")
    assert len(ids) == 14 and len(set(ids)) == 14 and ids == sorted(ids, reverse=True)

    pg.goto("/portal/#/devices/ideal")
    pg.wait_for_selector("text=No fixed layout")
    assert pg.locator("svg.layout").count() == 0


def test_jobs_filters_pagination_detail_histogram_timeline(page: Page, server: SimpleNamespace) -> None:
    c = server.client
    bell = c.submit(BELL3, "ideal", shots=300, options={"seed": 5}, tags=["portal", "bell"])
    x2 = c.submit([{"format": "openqasm2", "source": X2}, BELL3], "ideal", shots=50, tags=["other"])
    bad = c.submit(T_GATE, "ideal", shots=10, options={"method": "stabilizer"}, tags=["portal"])
    for j in (bell, x2, bad):
        c.wait(j["id"], timeout=20)
    counts = c.result(bell["id"], timeout=5)["results"][0]["counts"]
    x2_counts = [r["counts"] for r in c.result(x2["id"], timeout=5)["results"]]
    assert c.job(bad["id"])["status"] == "FAILED"
    mine = {bell["id"], x2["id"], bad["id"]}

    pg = page.pg
    login(page, server.token)
    pg.click("#nav a[data-section=jobs]")
    pg.wait_for_selector("#jobs-table")

    def listed() -> list[str]:
        return [j for j in pg.eval_on_selector_all("#jobs-table tbody tr", "rs => rs.map(r => r.dataset.job)")
                if j in mine]

    assert set(listed()) == mine
    pg.select_option("#job-filters select[name=status]", "FAILED")
    pg.click("#job-filters button[type=submit]")
    pg.wait_for_url(re.compile(r"status=FAILED"))
    pg.wait_for_function("() => { const rs = [...document.querySelectorAll('#jobs-table tbody tr')];"
                         " return rs.length > 0 && rs.every(r => r.dataset.status === 'FAILED'); }")
    assert listed() == [bad["id"]]
    assert set(pg.eval_on_selector_all("#jobs-table tbody tr", "rs => rs.map(r => r.dataset.status)")) \
        == {"FAILED"}

    pg.select_option("#job-filters select[name=status]", "")
    pg.fill("#job-filters input[name=tag]", "portal")
    pg.click("#job-filters button[type=submit]")
    pg.wait_for_url(re.compile(r"tag=portal"))
    pg.wait_for_selector(f"#jobs-table tr[data-job='{bell['id']}']")
    assert set(listed()) == {bell["id"], bad["id"]}
    assert pg.input_value("#job-filters input[name=tag]") == "portal"  # the filters survive the reload

    pg.fill("#job-filters input[name=created_before]", "2001-01-01T00:00")
    pg.click("#job-filters button[type=submit]")
    pg.wait_for_url(re.compile(r"created_before=2001"))
    pg.wait_for_selector("#jobs-empty:not([hidden])")
    assert pg.locator("#jobs-table tbody tr").count() == 0

    pg.goto("/portal/#/jobs?limit=2")  # cursor pagination with "More"
    pg.wait_for_selector("#jobs-table tbody tr")
    assert pg.locator("#jobs-table tbody tr").count() == 2
    pg.click("#jobs-more")
    pg.locator("#jobs-table tbody tr").nth(2).wait_for()
    total = len(c.jobs(limit=200)["jobs"])
    while pg.is_visible("#jobs-more"):
        n = pg.locator("#jobs-table tbody tr").count()
        pg.click("#jobs-more")
        pg.locator("#jobs-table tbody tr").nth(n).wait_for()
    got = pg.eval_on_selector_all("#jobs-table tbody tr", "rs => rs.map(r => r.dataset.job)")
    assert len(got) == len(set(got)) == total and mine <= set(got)

    pg.click(f"#jobs-table tr[data-job='{bell['id']}'] a")
    pg.wait_for_selector("svg.histogram rect.bar")
    bars = pg.eval_on_selector_all(
        "svg.histogram rect.bar",
        "bs => bs.map(b => [b.dataset.outcome, Number(b.dataset.count), Number(b.getAttribute('height'))])")
    assert {o: n for o, n, _ in bars} == counts and len(bars) == len(counts)
    assert [o for o, _, _ in bars] == sorted(counts)
    tallest = max(hgt for _, _, hgt in bars)
    for _, n, hgt in bars:
        assert hgt / tallest == pytest.approx(n / max(counts.values()), rel=1e-6)
    states = pg.eval_on_selector_all("#timeline li", "ls => ls.map(l => l.dataset.state)")
    assert states[:2] == ["created", "queued"] and states[-1] == "completed"
    for s in ("validating", "transpiling", "executing", "postprocessing"):
        assert s in states
    assert pg.locator("#timeline li time").count() == len(states)
    assert "COMPLETED" in pg.inner_text("#job-status")
    assert pg.locator("#job-cancel").count() == 0

    pg.goto(f"/portal/#/jobs/{x2['id']}")  # one histogram per circuit
    pg.wait_for_selector("svg.histogram[data-circuit='1'] rect.bar")
    for i, cc in enumerate(x2_counts):
        got_c = pg.eval_on_selector_all(f"svg.histogram[data-circuit='{i}'] rect.bar",
                                        "bs => bs.map(b => [b.dataset.outcome, Number(b.dataset.count)])")
        assert dict(got_c) == cc

    pg.goto(f"/portal/#/jobs/{bad['id']}")
    pg.wait_for_selector("#job-failure")
    assert pg.inner_text("#job-failure .failure-code") == "SimulationError"
    assert "Clifford" in pg.inner_text("#job-failure .failure-message")
    states = pg.eval_on_selector_all("#timeline li", "ls => ls.map(l => l.dataset.state)")
    assert states[0] == "created" and states[-1] == "failed"
    assert pg.locator("svg.histogram").count() == 0

    page.allowed.append("status of 404")
    pg.goto("/portal/#/jobs/0000-no-such-job")
    pg.wait_for_selector("#error[data-status='404']")
    assert "Not found" in pg.inner_text("#error") and "0000-no-such-job" in pg.inner_text("#error")
    pg.click("#error-close")
    assert not pg.is_visible("#error")


def test_tokens_create_show_once_and_revoke(page: Page, server: SimpleNamespace) -> None:
    pg = page.pg
    login(page, server.token)
    pg.click("#nav a[data-section=tokens]")
    pg.wait_for_selector("#tokens-table tbody tr")
    assert pg.inner_text("#account").count("alice") == 1
    n0 = len(server.client.request("GET", "/v1/tokens")["tokens"])
    assert pg.locator("#tokens-table tbody tr").count() == n0
    assert "this session" in pg.inner_text("#tokens-table tbody tr:first-child")

    pg.fill("#token-form input[name=name]", "ci-token")
    pg.click("#token-form button[type=submit]")
    pg.wait_for_selector("#new-token:not([hidden]) #new-token-value")
    secret = pg.inner_text("#new-token-value")
    assert secret.startswith("qv_") and len(secret) > 40
    pg.locator("#tokens-table tbody tr").nth(n0).wait_for()
    tokens = server.client.request("GET", "/v1/tokens")["tokens"]
    new = next(t for t in tokens if t["name"] == "ci-token")
    assert secret.startswith(new["prefix"]) and secret not in pg.inner_text("#tokens-table")
    with Client(server.url, secret) as other:
        assert other.me()["name"] == "alice"
        pg.click(f"#tokens-table button.revoke[data-token-id='{new['id']}']")
        pg.wait_for_selector(f"#tokens-table tr[data-token-id='{new['id']}'].revoked")
        with pytest.raises(ClientError) as e:
            other.me()
        assert e.value.status == 401
    assert "this session" in pg.inner_text("#tokens-table tbody tr:first-child")  # still signed in

    pg.click("#logout")
    pg.wait_for_selector("#login-form")
    assert pg.evaluate("sessionStorage.getItem('qvalley.token')") is None
    assert not pg.is_visible("#nav")


def test_bad_token_and_revoked_session_show_errors(page: Page, server: SimpleNamespace) -> None:
    pg = page.pg
    page.allowed.append("status of 401")
    pg.goto("/portal/#/jobs")
    pg.wait_for_selector("#login-form")  # no token: the pages send you to the login form
    pg.fill("#login-form input[name=token]", "qv_wrong")
    pg.click("#login-form button[type=submit]")
    pg.wait_for_selector("#error[data-status='401']")
    text = pg.inner_text("#error")
    assert "Not signed in" in text and "invalid or revoked token" in text
    assert pg.is_visible("#login-form") and pg.evaluate("sessionStorage.getItem('qvalley.token')") is None

    secret, row = server.store.create_token("alice", name="short-lived")
    login(page, secret)
    server.store.revoke_token(row["user_id"], row["id"])
    pg.click("#nav a[data-section=jobs]")
    pg.wait_for_selector("#login-form")
    pg.wait_for_selector("#error[data-status='401']")
    assert pg.evaluate("sessionStorage.getItem('qvalley.token')") is None
    assert pg.inner_text("#whoami") == ""


def test_rate_limit_unreachable_and_unknown_device_errors(page: Page, server: SimpleNamespace) -> None:
    pg = page.pg
    page.allowed += ["status of 429", "status of 404", "net::ERR_FAILED"]
    login(page, server.token)
    pg.route("**/v1/jobs?*", lambda route: route.fulfill(
        status=429, headers={"Retry-After": "3"},
        json={"error": {"code": "rate_limited", "message": "rate limit: 200 requests per second"}}))
    pg.click("#nav a[data-section=jobs]")
    pg.wait_for_selector("#error[data-status='429']")
    text = pg.inner_text("#error")
    assert "Too many requests (429 rate_limited)" in text and "Retry after 3 s" in text
    assert pg.evaluate("sessionStorage.getItem('qvalley.token')") == server.token  # still signed in
    pg.unroute("**/v1/jobs?*")

    pg.route("**/v1/devices", lambda route: route.abort())
    pg.click("#nav a[data-section=devices]")
    pg.wait_for_selector("#error[data-status='0']")
    assert "Service unreachable" in pg.inner_text("#error")
    pg.unroute("**/v1/devices")

    pg.goto("/portal/#/devices/no-such-device")
    pg.wait_for_selector("#error[data-status='404']")
    assert "device 'no-such-device' not found" in pg.inner_text("#error")
    pg.click("#nav a[data-section=devices]")  # the next page clears the banner
    pg.wait_for_selector("#devices-table")
    assert not pg.is_visible("#error")
