"""The HTTP side behind the RTSP users (Basic, Digest) and over TLS, with real clients: urllib's
auth handlers, curl and Debian's Chromium (through Playwright). A fake status source, no
GStreamer."""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_streaming.config import HttpConfig
from camera_streaming.errors import ConfigError
from camera_streaming.web.http import HttpServer
from support.browser import chromium
from support.web import (
    ROUTES,
    USERS,
    FakeStatus,
    curl,
    get,
    http_threads,
    self_signed,
    serving,
    settled_fds,
    tiny_jpeg,
    url,
)

pytestmark = pytest.mark.integration
PROTECTED = tuple(r for r in ROUTES if r != "/healthz")


@pytest.fixture(params=["basic", "digest"])
def method(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def status() -> FakeStatus:
    s = FakeStatus()
    s.jpeg = tiny_jpeg()
    return s


@pytest.fixture
def server(method: str, status: FakeStatus) -> Iterator[HttpServer]:
    with serving(status, auth=method, users=USERS) as srv:
        yield srv


def basic_header(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_every_route_needs_the_users_with_urllib(server: HttpServer, method: str) -> None:
    scheme = method.capitalize()
    for path in PROTECTED:
        code, body, headers = get(url(server, path))
        assert (code, body) == (401, b"unauthorized\n"), path
        assert headers["WWW-Authenticate"].startswith(f'{scheme} realm="camera-streaming"')
        assert headers["Cache-Control"] == "no-store"
        assert get(url(server, path), "alice", "wrong", method)[0] == 401, path
        assert get(url(server, path), "mallory", "s3cret:x", method)[0] == 401, path
        code, body, headers = get(url(server, path), "alice", USERS["alice"], method)
        assert code == 200, path
        assert body and "WWW-Authenticate" not in headers
    code, body, _ = get(url(server, "/api/status"), "bob", USERS["bob"], method)
    assert json.loads(body)["stats"]["clients"] == 2
    # unknown paths too: 401 first, 404 once authenticated
    assert get(url(server, "/nope"))[0] == 401
    assert get(url(server, "/nope"), "alice", USERS["alice"], method)[0] == 404


def test_every_route_needs_the_users_with_curl(server: HttpServer, method: str) -> None:
    flag = f"--{method}"
    for path in PROTECTED:
        assert curl(url(server, path))[0] == 401, path
        assert curl(url(server, path), flag, "-u", "alice:wrong")[0] == 401, path
        code, body = curl(url(server, path), flag, "-u", f"alice:{USERS['alice']}")
        assert code == 200 and body, path
    # a user and password beyond ASCII (curl sends UTF-8)
    assert curl(url(server, "/api/status"), flag, "-u", "zoë:pässword")[0] == 200
    assert curl(url(server, "/api/status"), flag, "-u", "zoë:passwort")[0] == 401
    # HEAD is authenticated the same way
    code, body = curl(url(server, "/snapshot.jpg"), flag, "-u", f"bob:{USERS['bob']}", "-I")
    assert code == 200 and b"Content-Type: image/jpeg" in body


def test_healthz_tells_strangers_only_ok_or_not(
    server: HttpServer, status: FakeStatus, method: str
) -> None:
    address = url(server, "/healthz")
    code, body, headers = get(address)
    assert (code, body) == (200, b"ok\n") and "WWW-Authenticate" not in headers
    assert get(address, headers=basic_header("alice", "wrong"))[:2] == (200, b"ok\n")
    assert curl(address, f"--{method}", "-u", "alice:wrong") == (200, b"ok\n")
    status.age = 60.0
    assert get(address)[:2] == (503, b"not ok\n")
    if method == "basic":  # Basic can be sent up front: the authenticated get the detail
        code, body, _ = get(address, headers=basic_header("alice", USERS["alice"]))
        assert code == 503 and body.startswith(b"unhealthy: no frame for 5 s")


def test_metrics_takes_basic_beside_digest(status: FakeStatus) -> None:
    with serving(status, auth="digest", users=USERS) as srv:
        address = url(srv, "/metrics")
        code, body, _ = get(address, headers=basic_header("alice", USERS["alice"]))
        assert code == 200 and b"camera_streaming_frames_total" in body
        assert curl(address, "--basic", "-u", f"bob:{USERS['bob']}")[0] == 200
        code, _, headers = get(address, headers=basic_header("alice", "wrong"))
        assert code == 401 and headers["WWW-Authenticate"].startswith("Digest ")
        # nowhere else
        code, _, headers = get(url(srv, "/api/status"), headers=basic_header("alice", "s3cret:x"))
        assert code == 401 and headers["WWW-Authenticate"].startswith("Digest ")


BROKEN = {
    "basic": ("Basic !!!", "Basic bm8tY29sb24="),  # not base64; no ':'
    "digest": ('Digest username="alice"', 'Digest username="unterminated'),
}


def test_broken_credentials_get_400(server: HttpServer, method: str) -> None:
    for header in BROKEN[method]:
        code, body, _ = get(url(server, "/api/status"), headers={"Authorization": header})
        assert (code, body) == (400, b"bad credentials\n")
    other = BROKEN["digest" if method == "basic" else "basic"][0]
    assert get(url(server, "/api/status"), headers={"Authorization": other})[0] == 401


def test_passwords_are_never_logged(
    method: str, status: FakeStatus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serving(status, auth=method, users=USERS) as srv:
        get(url(srv, "/api/status"), "alice", USERS["alice"], method)
        get(url(srv, "/api/status"), "alice", "wrong-one", method)
        curl(url(srv, "/"), "--basic", "-u", "bob:hunter2")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "http 127.0.0.1 GET /api/status 200" in logged
    assert all(pw not in logged for pw in (*USERS.values(), "wrong-one"))


def test_bad_arguments_are_refused() -> None:
    cfg = HttpConfig(port=0, bind="127.0.0.1")
    with pytest.raises(ConfigError, match="auth"):
        HttpServer(cfg, FakeStatus(), auth="ntlm", users=USERS)
    with pytest.raises(ConfigError, match="needs users"):
        HttpServer(cfg, FakeStatus(), auth="digest")
    with pytest.raises(ConfigError, match="tls-key go together"):
        HttpServer(cfg, FakeStatus(), tls_cert="cert.pem")


# -- Chromium --------------------------------------------------------------------------------
def test_status_page_in_chromium_with_credentials(server: HttpServer, status: FakeStatus) -> None:
    from playwright.sync_api import Error

    with chromium() as browser:
        ctx = browser.new_context(http_credentials={"username": "zoë", "password": "pässword"})
        page = ctx.new_page()
        answer = page.goto(url(server, "/"))
        assert answer is not None and answer.status == 200
        # the image loads, then one refresh (the page polls /api/status and reloads the
        # snapshot every 2 s) goes through with the same credentials
        page.wait_for_function("document.getElementById('snap').dataset.loaded === '1'")
        calls = status.jpeg_calls
        page.wait_for_function("document.getElementById('snap').src.includes('?t=')")
        page.wait_for_timeout(500)
        assert status.jpeg_calls > calls
        api = page.goto(url(server, "/api/status"))
        assert api is not None and api.status == 200 and json.loads(api.text())["healthy"]
        ctx.close()

        ctx = browser.new_context(http_credentials={"username": "alice", "password": "no"})
        answer = ctx.new_page().goto(url(server, "/"))
        assert answer is not None and answer.status == 401
        ctx.close()

        ctx = browser.new_context()  # no credentials: Chromium gives up at the challenge
        try:
            answer = ctx.new_page().goto(url(server, "/"))
            assert answer is not None and answer.status == 401
        except Error as exc:
            assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc)
        ctx.close()


# -- TLS -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_https_with_a_self_signed_certificate(cert: tuple[str, str], status: FakeStatus) -> None:
    fds = settled_fds()
    with serving(status, tls_cert=cert[0], tls_key=cert[1]) as srv:
        assert srv.scheme == "https"
        for path in ROUTES:
            assert get(url(srv, path))[0] == 200, path
            assert curl(url(srv, path), "-k")[0] == 200, path
        # a client that checks the certificate refuses it; plain http gets nothing
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(url(srv, "/healthz"), timeout=5)
        plain = f"http://127.0.0.1:{srv.port}/healthz"
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(plain, timeout=5)
        assert get(url(srv, "/healthz"))[:2] == (200, b"ok: last frame 0.1 s ago\n")
    assert settled_fds() == fds and http_threads() == []


def test_https_with_digest(cert: tuple[str, str], status: FakeStatus) -> None:
    with serving(status, auth="digest", users=USERS, tls_cert=cert[0], tls_key=cert[1]) as srv:
        assert get(url(srv, "/api/status"))[0] == 401
        assert get(url(srv, "/api/status"), "alice", USERS["alice"])[0] == 200
        assert curl(url(srv, "/"), "-k", "--digest", "-u", f"bob:{USERS['bob']}")[0] == 200
        assert curl(url(srv, "/"), "-k", "--digest", "-u", "bob:nope")[0] == 401


def test_an_unreadable_certificate_is_a_config_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    srv = HttpServer(
        HttpConfig(port=0, bind="127.0.0.1"), FakeStatus(), tls_cert=missing, tls_key=missing
    )
    with pytest.raises(ConfigError, match="tls-cert: cannot load"):
        srv.start()
    assert http_threads() == []
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    srv = HttpServer(
        HttpConfig(port=0, bind="127.0.0.1"),
        FakeStatus(),
        tls_cert=str(garbage),
        tls_key=str(garbage),
    )
    with pytest.raises(ConfigError, match="tls-cert"):
        srv.start()
