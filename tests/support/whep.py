"""WHEP peers for the tests: aiortc in its own process (whep_peer.py), Debian's Chromium through
Playwright on a page served from another loopback origin, and raw HTTP requests."""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from camera_streaming.config import (
    Config,
    HttpConfig,
    OnvifConfig,
    RtspConfig,
    SourceSpec,
    VideoConfig,
    WebRtcConfig,
)
from camera_streaming.testing import browser as testing_browser
from camera_streaming.web.webrtc.player_js import PLAY_WEBRTC_JS

from .env import free_port

PEER = Path(__file__).with_name("whep_peer.py")
SERVER = Path(__file__).with_name("whep_server.py")
AIORTC_OFFER = Path(__file__).with_name("aiortc_offer.sdp").read_text()


def whep_config(
    width: int = 320,
    height: int = 240,
    fps: int = 30,
    timeout_s: float = 3.0,
    udp_ports: str = "",
    **rtsp: Any,
) -> Config:
    """A test pattern on loopback with the HTTP port on (a free one) and ONVIF off."""
    return Config(
        video=VideoConfig(width=width, height=height, fps=fps, bitrate_kbps=1000),
        rtsp=RtspConfig(port=free_port(), bind="127.0.0.1", **rtsp),
        source=SourceSpec("test"),
        stats_interval_s=1.0,
        http=HttpConfig(port=free_port(), bind="127.0.0.1"),
        onvif=OnvifConfig(enabled=False, discovery=False),
        webrtc=WebRtcConfig(timeout_s=timeout_s, udp_ports=udp_ports),
    )


def run_peer(spec: dict[str, Any], timeout: float = 120) -> list[dict[str, Any]]:
    """Run aiortc sessions (whep_peer.py) to the end; one dict per session."""
    out = subprocess.run(
        [sys.executable, str(PEER), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[-1].get("done"), f"the aiortc peer failed:\n{out.stderr[-3000:]}"
    return lines[:-1]


class ServerProcess:
    """whep_server.py: the server alone in a process, its readings on request."""

    def __init__(self, **config: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("{"), "the WHEP server did not start"
        self.http = int(json.loads(line)["http"])

    def reading(self) -> dict[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("reading\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def offer_post(port: int, path: str = "/stream", **headers: str) -> tuple[int, dict, bytes]:
    """POST the stored aiortc offer (nobody will connect: the session is reaped or deleted)."""
    return request(port, "POST", f"{path}/whep", AIORTC_OFFER.encode(),
                   {"Content-Type": "application/sdp", **headers})  # fmt: skip


def candidates(answer: str) -> list[tuple[str, str, int]]:
    """(transport, address, port) of every candidate in an SDP."""
    out = []
    for line in answer.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            out.append((parts[2].lower(), parts[4], int(parts[5])))
    return out


def player_page(base: str, path: str, timeout_ms: int = 5000) -> str:
    """A page that plays `path` from the server at `base` with playWebRTC, and exposes the
    outcome as window.state ("starting", "playing" or "failed: ...")."""
    return f"""<!doctype html><html><body>
<video id="v" muted autoplay playsinline></video>
<script>{PLAY_WEBRTC_JS}</script>
<script>
window.state = "starting";
playWebRTC(document.getElementById("v"), {json.dumps(path)},
           {{base: {json.dumps(base)}, timeout: {timeout_ms}}})
  .then((p) => {{ window.player = p; window.state = "playing"; }})
  .catch((e) => {{ window.state = "failed: " + e.message; }});
</script></body></html>"""


def serve_page(html: str) -> contextlib.AbstractContextManager[str]:
    """Serve `html` at http://127.0.0.1:<free port>/play.html: another origin than the camera's
    (the page's requests are cross-origin, so CORS is exercised)."""
    return testing_browser.serve_page(html, "play.html")
