"""WebRTC over WHEP with real peers: aiortc in its own process, Debian's Chromium through
Playwright, and raw HTTP for the protocol's edges. The server runs in this process, so its
fds, threads, memory and viewers can be read directly."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time

import pytest

from camera_streaming.service import Streamer
from camera_streaming.web.webrtc import nice
from support.browser import chromium
from support.env import free_port, wait_for
from support.fakes import running
from support.web import USERS
from support.whep import (
    ServerProcess,
    candidates,
    offer_post,
    player_page,
    request,
    run_peer,
    serve_page,
    whep_config,
)

pytestmark = pytest.mark.integration


def whep_url(s: Streamer, path: str = "/stream") -> str:
    assert s.http is not None
    return f"http://127.0.0.1:{s.http.port}{path}/whep"


def stream_stats(s: Streamer, path: str = "/stream"):  # type: ignore[no-untyped-def]
    return next(x for c in s.snapshot().cameras for x in c.streams if x.path == path)


def test_aiortc_on_loopback_plays_then_deletes() -> None:
    """aiortc offering nothing but 127.0.0.1 connects (loopback host candidates), decodes at
    the stream's rate from the first frame on, and its DELETE ends the session; the UDP
    candidates sit in the configured port range."""
    first = 47000 + free_port() % 1000
    with running(whep_config(udp_ports=f"{first}-{first + 20}")) as s:
        (out,) = run_peer({"url": whep_url(s), "seconds": 3.0, "only": "127.0.0.1",
                           "keep_answer": True})  # fmt: skip
        assert out["status"] == 201, out
        assert out["location"].startswith("/stream/whep/")
        assert out["first_frame_s"] is not None and out["first_frame_s"] < 1.0, out
        assert out["frames_in_window"] >= 0.9 * 30 * 3, out  # 90 % of 30 fps over 3 s
        assert out["delete_status"] == 200
        answer = out["answer"]
        assert "a=sendonly" in answer and "m=video 9 UDP/TLS/RTP/SAVPF 99" in answer, answer
        found = candidates(answer)
        assert ("udp", "127.0.0.1") in {(t, a) for t, a, _ in found}, found
        assert all(first <= p <= first + 20 for t, _, p in found if t == "udp"), found
        assert wait_for(lambda: s.whep is not None and s.whep.viewers == 0, 5)
        x = stream_stats(s)
        assert (x.webrtc_joined, x.webrtc_left, x.webrtc_dropped) == (1, 1, 0)
        status, _, _ = request(s.http.port, "DELETE", out["location"])  # type: ignore[union-attr]
        assert status == 404  # the session is gone


def test_aiortc_with_audio_and_all_addresses() -> None:
    """A generic WHEP player's offer (video and audio, every host address) plays the video."""
    with running(whep_config()) as s:
        (out,) = run_peer({"url": whep_url(s), "seconds": 1.0, "audio": True})
        assert out["status"] == 201 and out["frames_in_window"] >= 25, out


def test_lan_peer_without_loopback() -> None:
    """A peer reaching the HTTP port on the machine's LAN address gets libnice's own host
    candidates (no loopback) and connects over them."""
    lan = next((a for a in nice.local_addresses() if "." in a and not a.startswith("127.")), None)
    if lan is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    cfg = whep_config()
    cfg = dataclasses.replace(cfg, http=dataclasses.replace(cfg.http, bind=lan))
    with running(cfg) as s:
        url = f"http://{lan}:{s.http.port}/stream/whep"  # type: ignore[union-attr]
        (out,) = run_peer({"url": url, "seconds": 1.0, "only": lan, "keep_answer": True})
        assert out["status"] == 201 and out["frames_in_window"] >= 25, out
        assert "127.0.0.1" not in {a for _, a, _ in candidates(out["answer"])}


def test_one_udp_port_serves_one_viewer_at_a_time() -> None:
    """`udp_ports = "N"`: the first viewer takes the port (on every address), the next gets
    503 with the reason until the first leaves."""
    port = 47000 + free_port() % 1000
    with running(whep_config(udp_ports=str(port), timeout_s=15.0)) as s:
        http = s.http.port  # type: ignore[union-attr]
        status, headers, answer = offer_post(http)
        assert status == 201, answer
        assert {p for t, _, p in candidates(answer.decode()) if t == "udp"} == {port}
        status2, _, reason = offer_post(http)
        assert status2 == 503 and b"udp_ports" in reason, reason
        assert s.whep.viewers == 1 and s.whep._pending == 0  # type: ignore[union-attr]
        assert request(http, "DELETE", headers["location"])[0] == 200
        status3, headers3, _ = offer_post(http)
        assert status3 == 201
        assert request(http, "DELETE", headers3["location"])[0] == 200


def test_whep_http_edges() -> None:
    """CORS preflight, the refusals with their reasons, Location and DELETE; nothing is left
    behind by a refused request."""
    with running(whep_config()) as s:
        port = s.http.port  # type: ignore[union-attr]
        status, headers, _ = request(port, "OPTIONS", "/stream/whep", headers={
            "Origin": "http://page.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization"})  # fmt: skip
        assert status == 204
        assert headers["access-control-allow-origin"] == "*"
        assert "POST" in headers["access-control-allow-methods"]
        assert "authorization" in headers["access-control-allow-headers"].lower()
        for method, path, body, ctype, code, reason in [
            ("POST", "/nope/whep", b"v=0", "application/sdp", 404, b"no stream at /nope"),
            ("POST", "/stream/whep", b"v=0", "text/plain", 415, b"application/sdp"),
            ("POST", "/stream/whep", b"hello", "application/sdp", 400, b"v=0"),
            ("POST", "/stream/whep", b"v=0\r\ns=-\r\n", "application/sdp", 400, b"no media"),
            ("POST", "/stream/whep", b"\xff\xfe", "application/sdp", 400, b"UTF-8"),
            ("POST", "/stream/whep/abc", b"", "application/sdp", 405, b""),
            ("DELETE", "/stream/whep", b"", "", 405, b""),
            ("DELETE", "/stream/whep/0123", b"", "", 404, b"no such session"),
            ("GET", "/stream/whep", b"", "", 405, b""),
            ("PATCH", "/stream/whep/0123", b"", "application/trickle-ice-sdpfrag", 405, b""),
        ]:
            status, headers, answer = request(port, method, path, body,
                                              {"Content-Type": ctype} if ctype else {})  # fmt: skip
            assert status == code and reason in answer, (method, path, status, answer)
            assert headers["access-control-allow-origin"] == "*"
        assert offer_post(port)[0] == 201  # the stored aiortc offer is answered ...
        assert wait_for(lambda: s.whep.viewers == 0, 8)  # type: ignore[union-attr]
        assert stream_stats(s).webrtc_dropped == 1  # ... and reaped: nobody connected
        status, headers, answer = offer_post(port)
        assert status == 201 and headers["content-type"] == "application/sdp"
        assert answer.startswith(b"v=0") and headers["location"].startswith("/stream/whep/")
        assert headers["access-control-expose-headers"] == "Location"
        assert request(port, "DELETE", headers["location"])[0] == 200
        assert request(port, "DELETE", headers["location"])[0] == 404
        assert s.whep.viewers == 0 and s.whep._pending == 0  # type: ignore[union-attr]


def test_whep_behind_the_users_and_allowed_origins() -> None:
    """With auth on, POST and DELETE need the RTSP users (Digest here), the preflight does
    not; a listed origin is echoed, another gets no CORS header."""
    cfg = whep_config(auth="digest")
    origins = "http://a.example, http://b.example"
    webrtc = dataclasses.replace(cfg.webrtc, allow_origin=origins)
    cfg = dataclasses.replace(cfg, rtsp=cfg.rtsp.with_users(USERS), webrtc=webrtc)
    with running(cfg) as s:
        port = s.http.port  # type: ignore[union-attr]
        status, headers, _ = request(port, "OPTIONS", "/stream/whep",
                                     headers={"Origin": "http://b.example"})  # fmt: skip
        assert status == 204 and headers["access-control-allow-origin"] == "http://b.example"
        assert headers["vary"] == "Origin"
        status, headers, _ = offer_post(port, Origin="http://evil.example")
        assert status == 401 and "access-control-allow-origin" not in headers
        assert headers["www-authenticate"].startswith("Digest ")
        status, headers, _ = offer_post(port, Origin="http://a.example")
        assert status == 401 and headers["access-control-allow-origin"] == "http://a.example"
        url = whep_url(s)
        (out,) = run_peer({"url": url, "seconds": 0.5, "only": "127.0.0.1",
                           "digest": ["alice", USERS["alice"]]})  # fmt: skip
        assert out["status"] == 201 and out["frames"] > 0 and out["delete_status"] == 200, out
        assert s.whep.viewers == 0  # type: ignore[union-attr]


def test_max_clients_counts_webrtc_viewers_with_rtsp_sessions() -> None:
    """--max-clients 1: a WebRTC viewer takes the place (RTSP SETUP gets 503, another POST
    503); once it is deleted, RTSP plays again."""
    with running(whep_config(max_clients=1)) as s:
        port = s.http.port  # type: ignore[union-attr]
        status, headers, _ = offer_post(port)
        assert status == 201
        status2, _, reason = offer_post(port)
        assert status2 == 503 and b"max-clients 1" in reason
        rtsp = s.config.rtsp.url()
        probe = ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_streams", rtsp]
        refused = subprocess.run(probe, capture_output=True, text=True, timeout=20)
        assert refused.returncode != 0 and "503" in refused.stderr, refused.stderr
        assert request(port, "DELETE", headers["location"])[0] == 200
        played = subprocess.run(probe, capture_output=True, text=True, timeout=20)
        assert played.returncode == 0, played.stderr
        assert s.whep.viewers == 0  # type: ignore[union-attr]


def test_vanished_peer_is_reaped_by_the_liveness_timeout() -> None:
    with running(whep_config(timeout_s=2.0)) as s:
        (out,) = run_peer({"url": whep_url(s), "seconds": 0.5, "only": "127.0.0.1",
                           "end": "vanish"})  # fmt: skip
        assert out["status"] == 201 and out["frames"] > 0
        assert s.whep.viewers == 1  # type: ignore[union-attr]
        t0 = time.monotonic()
        assert wait_for(lambda: s.whep.viewers == 0, 6)  # type: ignore[union-attr]
        assert time.monotonic() - t0 < 3.5
        assert stream_stats(s).webrtc_dropped == 1
        metrics = request(s.http.port, "GET", "/metrics")[2].decode()  # type: ignore[union-attr]
        assert 'stream_viewers{camera="camera",kind="webrtc",stream="/stream"} 0.0' in metrics
        status = json.loads(request(s.http.port, "GET", "/api/status")[2])  # type: ignore[union-attr]
        stream = status["stats"]["cameras"][0]["streams"][0]
        assert (stream["webrtc_joined"], stream["webrtc_dropped"]) == (1, 1)


def test_chromium_plays_at_the_stream_rate() -> None:
    """Debian's Chromium runs playWebRTC on a page from another origin: the promise resolves
    once frames flow, and it decodes at least 95 % of the stream's 30 fps over 10 s."""
    with running(whep_config(width=640, height=360)) as s:
        base = f"http://127.0.0.1:{s.http.port}"  # type: ignore[union-attr]
        with serve_page(player_page(base, "/stream")) as page_url, chromium() as browser:
            page = browser.new_page()
            t0 = time.monotonic()
            page.goto(page_url)
            page.wait_for_function("window.state !== 'starting'", timeout=15_000)
            assert page.evaluate("window.state") == "playing"
            assert time.monotonic() - t0 < 3.0
            assert s.whep.viewers == 1  # type: ignore[union-attr]
            quality = "document.getElementById('v').getVideoPlaybackQuality().totalVideoFrames"
            frames0, t1 = page.evaluate(quality), time.monotonic()
            page.wait_for_timeout(10_000)
            frames1, t2 = page.evaluate(quality), time.monotonic()
            fps = (frames1 - frames0) / (t2 - t1)
            assert fps >= 0.95 * 30, fps
            page.evaluate("window.player.close()")
            assert wait_for(lambda: s.whep.viewers == 0, 5)  # type: ignore[union-attr]
            assert stream_stats(s).webrtc_left == 1


def test_chromium_promise_rejects_for_an_unknown_stream() -> None:
    with running(whep_config()) as s:
        base = f"http://127.0.0.1:{s.http.port}"  # type: ignore[union-attr]
        with serve_page(player_page(base, "/nope")) as page_url, chromium() as browser:
            page = browser.new_page()
            page.goto(page_url)
            page.wait_for_function("window.state !== 'starting'", timeout=15_000)
            assert page.evaluate("window.state") == "failed: WHEP 404: no stream at /nope"


def _settled(server: ServerProcess) -> dict[str, int]:
    """A reading once no viewer is left and the fd count held still for a second (a
    pipeline's sockets close a moment after it stops)."""
    readings = [server.reading()]

    def still() -> bool:
        readings.append(server.reading())
        a, b = readings[-2], readings[-1]
        return b["viewers"] == b["pending"] == 0 and a["fds"] == b["fds"]

    assert wait_for(still, 15, step=1.0), readings[-1]
    return readings[-1]


@pytest.mark.timeout(600)
def test_200_connect_disconnect_cycles_leave_nothing_behind() -> None:
    """200 aiortc sessions, four at a time, half ended with DELETE and half by the peer just
    vanishing (reaped by the 3 s liveness timeout). The server runs alone in its process, as
    the CLI runs it (GLib slices on malloc, two arenas). After a warm-up of 150 sessions,
    fds, threads and viewers come back to idle, malloc's live allocations grow at most 1 MB
    and RSS at most 3.5 MB (gc and malloc_trim before each reading)."""
    with ServerProcess(timeout_s=3.0) as server:
        url = f"http://127.0.0.1:{server.http}/stream/whep"
        spec = {"url": url, "seconds": 0.2, "only": "127.0.0.1", "end": "mix", "parallel": 4}
        warm = run_peer({**spec, "cycles": 150}, timeout=300)
        assert all(o["status"] == 201 and o["frames"] > 0 for o in warm), warm
        before = _settled(server)
        results = run_peer({**spec, "cycles": 200}, timeout=500)
        failed = [o for o in results if o["status"] != 201 or not o["frames"]]
        assert not failed, failed[:3]
        assert sum(o["end"] == "vanish" for o in results) == 100
        after = _settled(server)
        assert after["joined"] == 350 and after["left"] + after["dropped"] == 350, after
        assert after["dropped"] >= 175, after  # the vanished ones, reaped by the timeout
        assert after["fds"] <= before["fds"], (before, after)
        assert after["threads"] <= before["threads"], (before, after)
        grown, live = after["rss"] - before["rss"], after["heap"] - before["heap"]
        print(f"200 sessions: RSS +{grown / 1e6:.2f} MB, malloc in use +{live / 1e6:.2f} MB")
        # Live allocations grow a little (+0.1..0.4 MB here): GnuTLS 3.7's per-thread
        # random-generator contexts, 224 bytes for each new thread libnice draws STUN ids
        # on, each pinning a page the viewer freed, so RSS creeps 4-8 KB a session
        # (1.5-2.2 MB here); docs/webrtc.md "Memory over many sessions". A viewer's
        # pipeline left behind would be ~1 MB each.
        assert live <= 1_000_000, f"malloc in use grew {live / 1e6:.2f} MB ({before} -> {after})"
        assert grown <= 3_500_000, f"RSS grew {grown / 1e6:.2f} MB ({before} -> {after})"
