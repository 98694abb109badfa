"""Auth (basic, digest) and RTSPS against real clients: ffprobe and GStreamer rtspsrc."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from camera_streaming.config import Config
from camera_streaming.testing.clients import rtspsrc_played, run_rtspsrc
from camera_streaming.testing.rtsp_probe import RtspProbe
from support.fakes import make_config, running

pytestmark = pytest.mark.integration
USERS = {"alice": "s3cret:x", "bob": "hunter2"}


def with_auth(cfg: Config, method: str, **tls: str) -> Config:
    return replace(cfg, rtsp=replace(cfg.rtsp, auth=method, **tls).with_users(USERS))


def ffprobe_ok(url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            *extra,
            "-show_entries",
            "stream=codec_name,width",
            "-of",
            "csv=p=0",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )


def rtspsrc_tcp(url: str, *props: str) -> subprocess.CompletedProcess:
    """rtspsrc over TCP, decoding 10 buffers: judge with `rtspsrc_played`."""
    return run_rtspsrc(url, "protocols=tcp", *props, buffers=10, decode=True)


def with_creds(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password.replace(':', '%3A')}@{rest}"


@pytest.mark.parametrize("method", ["basic", "digest"])
def test_auth_401_without_or_with_wrong_credentials_and_real_clients_play(
    port: int, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = with_auth(make_config(port), method)
    with running(cfg):
        url = cfg.rtsp.url()
        with RtspProbe(url) as p:
            r = p.request("DESCRIBE", check=False)
            assert r.status == 401
            assert r.headers["www-authenticate"].lower().startswith(method)
        with RtspProbe(url, user="alice", password="wrong") as p:
            assert p.request("DESCRIBE", check=False).status == 401
        with RtspProbe(url, user="mallory", password="hunter2") as p:
            assert p.request("DESCRIBE", check=False).status == 401
        with RtspProbe(url, user="alice", password=USERS["alice"]) as p:
            p.setup_tcp(p.control_url(p.describe().body))
            assert p.play_until_idr().first_idr is not None
        out = ffprobe_ok(with_creds(url, "bob", USERS["bob"]), "-rtsp_transport", "tcp")
        assert out.returncode == 0 and out.stdout.strip() == "h264,320", out.stderr
        assert ffprobe_ok(url, "-rtsp_transport", "tcp").returncode != 0
        out = rtspsrc_tcp(url, "user-id=alice", f"user-pw={USERS['alice']}")
        assert rtspsrc_played(out), out.stderr
        assert not rtspsrc_played(rtspsrc_tcp(url, "user-id=alice", "user-pw=nope"))
    logged = "\n".join(r.getMessage() for r in caplog.records) + repr(cfg)
    assert all(pw not in logged for pw in USERS.values())


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return str(cert), str(key)


@pytest.mark.parametrize("method", ["none", "digest"])
def test_rtsps_with_a_self_signed_certificate(
    port: int, method: str, self_signed: tuple[str, str]
) -> None:
    cert, key = self_signed
    cfg = with_auth(make_config(port), method, tls_cert=cert, tls_key=key)
    with running(cfg):
        url = cfg.rtsp.url()
        assert url.startswith("rtsps://")
        creds = with_creds(url, "alice", USERS["alice"]) if method != "none" else url
        # ffmpeg does not verify certificates unless asked (-tls_verify 1).
        out = ffprobe_ok(creds, "-rtsp_transport", "tcp")
        assert out.returncode == 0 and out.stdout.strip() == "h264,320", out.stderr
        # UDP is refused (461) over RTSPS; ffmpeg then falls back to TCP by itself.
        assert ffprobe_ok(creds).returncode == 0
        props = ["tls-validation-flags=0"]
        if method != "none":
            props += ["user-id=alice", f"user-pw={USERS['alice']}"]
        out = rtspsrc_tcp(url, *props)
        assert rtspsrc_played(out), out.stderr
        # Validation on (the default) rejects the self-signed certificate.
        assert not rtspsrc_played(rtspsrc_tcp(url, *props[1:]))
        # Plain RTSP to the TLS port fails.
        assert ffprobe_ok(url.replace("rtsps://", "rtsp://"), "-rtsp_transport", "tcp").returncode


def test_bad_tls_files_are_a_config_error(port: int, tmp_path: Path) -> None:
    from camera_streaming.errors import ConfigError

    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    cfg = with_auth(make_config(port), "basic", tls_cert=str(junk), tls_key=str(junk))
    with pytest.raises(ConfigError, match="tls-cert"), running(cfg):
        pass
