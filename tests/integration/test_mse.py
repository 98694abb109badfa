"""The browser view over MSE with a real Streamer in-process and real clients: Debian's
Chromium through Playwright (frames decoded, glass-to-glass latency read from the test
pattern's pixels, Digest credentials on the page and the WebSocket), Tornado's WebSocket
client and raw sockets (bad upgrades, unknown streams, 500 viewer lives without a leak)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import re
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import psutil
import pytest

from camera_streaming.config import HttpConfig
from camera_streaming.service import Streamer
from camera_streaming.telemetry.stats import malloc_trim
from camera_streaming.web.mse import feed, websocket
from support.browser import (
    chromium,
    clock_offset_ms,
    drain_latency,
    latencies_ms,
    player,
    summary,
    upgrade_request,
    ws_closed,
    ws_vanish,
    ws_watch,
)
from support.env import free_port, wait_for
from support.fakes import make_config, running
from support.web import get, raw, settled_fds

pytestmark = pytest.mark.integration
FPS = 25
USERS = (("alice", "s3cret"),)
PLAYING = "window.__player && window.__player.state === 'playing'"


@contextlib.contextmanager
def streaming(port: int, width: int = 640, height: int = 360, **rtsp: Any) -> Iterator[Streamer]:
    """A test pattern at width x height @ FPS with the HTTP port on 127.0.0.1."""
    http = HttpConfig(port=free_port(), bind="127.0.0.1")
    with running(make_config(port, width, height, FPS, http=http, **rtsp)) as streamer:
        yield streamer


def base(streamer: Streamer) -> str:
    assert streamer.http is not None
    return f"http://127.0.0.1:{streamer.http.port}"


def idle(streamer: Streamer) -> bool:
    """No viewer left and nothing wants the encode."""
    stream = streamer.streams[0]
    return streamer.snapshot().mse_viewers == 0 and not stream.wanted


WATCH_S = 10  # seconds of playback judged (250 frames)


def test_view_page_plays_at_full_rate_with_low_latency(port: int) -> None:
    with streaming(port) as streamer, chromium() as browser:
        page = browser.new_page()
        answer = page.goto(base(streamer) + "/view/stream?mode=mse&latency=1")
        assert answer is not None and answer.status == 200
        assert page.locator("video").count() == 1
        page.wait_for_function(PLAYING, timeout=15_000)
        offset = clock_offset_ms()
        page.wait_for_timeout(2000)  # past the start
        drain_latency(page)
        encoder = streamer.streams[0].encoder
        assert encoder is not None
        before, encoded0, t0 = player(page), encoder.frames_out, time.monotonic()
        page.wait_for_timeout(WATCH_S * 1000)
        after, encoded, seconds = player(page), encoder.frames_out, time.monotonic() - t0
        lat = latencies_ms(drain_latency(page), offset)
        frames, encoded = after["frames"] - before["frames"], encoded - encoded0
        print(f"MSE {frames} frames decoded, {encoded} encoded in {seconds:.1f} s; latency "
              f"{summary(lat)}; {after}")  # fmt: skip
        assert after["tech"] == "mse" and after["codec"].startswith("avc1.64")
        # the stream's rate is what the encoder put out meanwhile (the machine is shared: a
        # busy one can slow the source itself, which is not the browser's doing)
        assert frames >= 0.95 * encoded and encoded >= 0.9 * FPS * seconds, after
        assert len(lat) >= 0.9 * FPS * WATCH_S and statistics.median(lat) < 400
        assert after["reconnects"] == 0 and after["bufferedMax"] < 12  # trimmed

        # while it plays the viewer is counted in the figures
        snap = streamer.snapshot()
        s = snap.cameras[0].streams[0]
        assert (snap.mse_viewers, s.mse_viewers, s.mse_joined, s.mse_left) == (1, 1, 1, 0)
        assert "mse=1" in snap.line() and "mse=1" in s.short()
        _, body, _ = get(base(streamer) + "/metrics")
        metrics = body.decode()
        assert re.search(r'stream_viewers\{camera="[^"]+",kind="mse",stream="/stream"\} 1\.0',
                         metrics), metrics  # fmt: skip
        assert "camera_streaming_stream_viewer_dropped_fragments_total{" in metrics
        _, body, _ = get(base(streamer) + "/api/status")
        assert json.loads(body)["stats"]["cameras"][0]["streams"][0]["mse_viewers"] == 1

        page.close()  # a closed tab frees everything: the encode stops
        assert wait_for(lambda: idle(streamer), 5), streamer.snapshot()
        s = streamer.snapshot().cameras[0].streams[0]
        assert (s.mse_joined, s.mse_left) == (1, 1)

        # the status page plays every stream beside the snapshot
        page = browser.new_page()
        page.goto(base(streamer) + "/")
        assert page.locator('.tile[data-path="/stream"] video').count() == 1
        page.wait_for_function("window.__players.length === 1 && window.__players[0].frames > 10",
                               timeout=15_000)  # fmt: skip
        s = streamer.snapshot().cameras[0].streams[0]
        assert s.mse_viewers + s.webrtc_viewers == 1  # auto: WebRTC first, else MSE
        page.close()
        assert wait_for(lambda: idle(streamer), 5)


@pytest.mark.parametrize("method", ["digest", "basic"])
def test_credentials_on_the_page_and_the_websocket(port: int, method: str) -> None:
    """Chromium plays with the credentials it was given for the page (it sends them on the
    WebSocket upgrade too); without them there is no page and no picture."""
    with streaming(port, 320, 240, auth=method, users=USERS) as streamer, chromium() as browser:
        ctx = browser.new_context(http_credentials={"username": "alice", "password": "s3cret"})
        page = ctx.new_page()
        answer = page.goto(base(streamer) + "/view/stream?mode=mse")
        assert answer is not None and answer.status == 200
        page.wait_for_function("window.__player && window.__player.frames > 25", timeout=15_000)
        assert player(page)["connects"] == 1
        # the upgrade without credentials: 401 and the challenge, before any upgrade
        ws = "ws" + base(streamer)[4:]
        port_http = streamer.http.port  # type: ignore[union-attr]
        reply = raw(port_http, upgrade_request("/stream/ws", port_http)).decode().lower()
        assert reply.startswith("http/1.1 401") and f'www-authenticate: {method} realm="' in reply
        ctx.close()
        assert wait_for(lambda: idle(streamer), 5)
        joined = streamer.snapshot().cameras[0].streams[0].mse_joined

        ctx = browser.new_context()  # no credentials
        page = ctx.new_page()
        with contextlib.suppress(Exception):  # 401, or Chromium gives up at the challenge
            answer = page.goto(base(streamer) + "/view/stream")
            assert answer is not None and answer.status == 401
        code = ctx.new_page().evaluate(  # from a blank page: no page credentials to reuse
            """url => new Promise(done => { const ws = new WebSocket(url);
                 ws.onmessage = () => done("message"); ws.onclose = e => done(e.code); })""",
            ws + "/stream/ws",
        )
        assert code == 1006  # the handshake failed
        ctx.close()
        s = streamer.snapshot().cameras[0].streams[0]
        assert s.mse_joined == joined and idle(streamer)


def test_auto_falls_back_to_mse_and_the_player_reconnects(port: int) -> None:
    """`auto` tries WebRTC first and falls back to MSE when WHEP fails (here: the POST is
    refused by the browser); `webrtc` plays over WHEP at the stream's rate. A dropped
    WebSocket is reopened (backoff 0.5 s)."""
    with streaming(port, 320, 240) as streamer, chromium() as browser:
        page = browser.new_page()
        page.route("**/whep", lambda route: route.abort())  # no WebRTC session possible
        page.goto(base(streamer) + "/view/stream")
        page.wait_for_function(PLAYING, timeout=15_000)
        p = player(page)
        assert p["tech"] == "mse" and "webrtc" in p["error"], p
        assert streamer.snapshot().mse_viewers == 1

        http = streamer.http
        assert http is not None and http._loop is not None
        http._loop.call_soon_threadsafe(
            lambda: [ws.close(1011, "test") for ws in list(http.websockets)]
        )
        again = "p => p.reconnects === 1 && p.connects === 2 && p.state === 'playing'"
        page.wait_for_function(f"({again})(window.__player)", timeout=10_000)
        frames = player(page)["frames"]
        page.wait_for_timeout(1000)
        assert player(page)["frames"] > frames + 15
        page.close()

        page = browser.new_page()
        page.goto(base(streamer) + "/view/stream?mode=webrtc")
        page.wait_for_function(PLAYING, timeout=15_000)
        assert player(page)["tech"] == "webrtc"
        decoded = "document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames"
        frames0, t0 = page.evaluate(decoded), time.monotonic()
        page.wait_for_timeout(5000)
        rate = (page.evaluate(decoded) - frames0) / (time.monotonic() - t0)
        assert rate >= 0.95 * FPS, rate  # over WHEP, the stream's own encode
        page.goto(base(streamer) + "/view/nope?mode=mse")
        assert page.locator("video").count() == 0
        page.close()
        assert wait_for(lambda: idle(streamer), 5)


def test_bad_websockets_close_with_a_reason(port: int) -> None:
    with streaming(port, 320, 240) as streamer:
        http = streamer.http
        assert http is not None
        ws = f"ws://127.0.0.1:{http.port}"
        assert asyncio.run(ws_closed(ws + "/nope/ws")) == (4404, "no such stream")
        assert asyncio.run(ws_closed(ws + "/stream/sub/ws")) == (4404, "no such stream")
        # malformed upgrades: 400, and the connection is closed
        reply = raw(http.port, upgrade_request("/stream/ws", http.port, key=False))
        assert reply.startswith(b"HTTP/1.1 400 ")
        plain = f"GET /stream/ws HTTP/1.1\r\nHost: 127.0.0.1:{http.port}\r\n\r\n".encode()
        assert raw(http.port, plain).startswith(b"HTTP/1.1 400 ")
        assert get(base(streamer) + "/stream/ws", method="POST")[0] == 405
        code, body, _ = get(base(streamer) + "/view/nope")
        assert code == 404 and b'<a href="/view/stream">' in body
        # a good one, to see the protocol: JSON header, init segment, keyframe fragment
        header, init, first, *rest = asyncio.run(ws_watch(ws + "/stream/ws", 3))
        info = json.loads(header)
        assert info["codec"].startswith("avc1.") and (info["width"], info["height"]) == (320, 240)
        assert info["path"] == "/stream" and init[4:8] == b"ftyp" and first[4:8] == b"moof"
        assert first[-len(first) :].find(b"mdat") > 0 and len(rest) == 2
        assert wait_for(lambda: idle(streamer), 5)
        s = streamer.snapshot().cameras[0].streams[0]
        assert (s.mse_joined, s.mse_left) == (1, 1)  # the 4404s joined nothing

        # stop() closes the viewers' WebSockets (they are no longer the HTTP server's)
        closed: list[tuple[int | None, str | None]] = []
        watcher = threading.Thread(target=lambda: closed.append(asyncio.run(ws_closed(
            ws + "/stream/ws", timeout=30))))  # fmt: skip
        watcher.start()
        assert wait_for(lambda: streamer.snapshot().mse_viewers == 1, 10)
        t0 = time.monotonic()
        streamer.stop()
        watcher.join(10)
        assert closed == [(1001, "server stopping")] and time.monotonic() - t0 < 3
        assert [t.name for t in threading.enumerate() if t.name.startswith("http")] == []


def test_an_h265_stream_is_refused_with_a_reason(port: int) -> None:
    http = HttpConfig(port=free_port(), bind="127.0.0.1")
    config = make_config(port, 320, 240, FPS, http=http)
    config = replace(config, video=replace(config.video, encoder="x265enc", codec="h265"))
    with running(config) as streamer:
        code, reason = asyncio.run(ws_closed(f"ws://127.0.0.1:{http.port}/stream/ws"))
        assert code == 4415 and reason is not None and "H.264" in reason
        # (the shared RTSP media prerolls at start: the encode is wanted until it has)
        assert wait_for(lambda: idle(streamer), 10), streamer.snapshot()


def test_a_stalled_viewer_holds_up_nobody(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A viewer that never reads (a tiny receive window, nothing read) loses fragments, counted,
    and is closed when it does not answer the ping; a viewer beside it gets every frame. Here
    the viewer queue holds 10 fragments (90 in the product) and the ping comes every 4 s (10):
    the same sequence in a third of the time."""
    monkeypatch.setattr(feed, "VIEWER_QUEUE_UNITS", 10)
    monkeypatch.setattr(websocket, "PING_S", 4.0)
    with streaming(port) as streamer:
        http_port = streamer.http.port  # type: ignore[union-attr]
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", http_port))
        stalled.sendall(upgrade_request("/stream/ws", http_port))
        assert wait_for(lambda: streamer.snapshot().mse_viewers == 1, 10)
        rss0 = psutil.Process().memory_info().rss
        t0 = time.monotonic()
        got = asyncio.run(ws_watch(f"ws://127.0.0.1:{http_port}/stream/ws", 10 * FPS, 25))
        rate = (len(got) - 2) / (time.monotonic() - t0)
        s = streamer.snapshot().cameras[0].streams[0]
        print(f"beside a stalled viewer: {rate:.1f} fragments/s; {s.mse_dropped} dropped; "
              f"RSS +{(psutil.Process().memory_info().rss - rss0) / 1e6:.1f} MB")  # fmt: skip
        assert rate >= 0.95 * FPS
        assert s.mse_dropped > 0  # the stalled viewer's queue overflowed and skipped
        # the stalled one does not answer the ping (sent after 4 s, 4 s to answer): closed
        assert wait_for(lambda: idle(streamer), 15), streamer.snapshot()
        stalled.close()


# -- 500 viewer lives -------------------------------------------------------------------------
CYCLES, WARM_UP, AT_ONCE = 500, 50, 8


async def lives(port: int, first: int, count: int) -> list[str]:
    """Viewer lives `first` .. `first + count - 1`, AT_ONCE at a time: most read the header,
    the init segment and three fragments and close; every 4th vanishes (a reset or a FIN
    without a close frame) after some bytes; every 10th right after the upgrade."""
    url = f"ws://127.0.0.1:{port}/stream/ws"
    errors: list[str] = []
    todo = iter(range(first, first + count))

    async def worker() -> None:
        for i in todo:
            try:
                if i % 10 == 9:
                    await ws_vanish(port, "/stream/ws", 1, reset=i % 20 == 19)
                elif i % 4 == 3:
                    await ws_vanish(port, "/stream/ws", 20_000, reset=i % 8 == 7)
                else:
                    got = await ws_watch(url, 3)
                    assert len(got) == 5 and isinstance(got[0], str), f"{len(got)} messages"
            except Exception as exc:  # noqa: BLE001 - counted and shown
                errors.append(f"{i}: {exc!r}")

    await asyncio.gather(*(worker() for _ in range(AT_ONCE)))
    return errors


def open_files() -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            out.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sorted(out)


def settled(streamer: Streamer) -> tuple[int, list[str], int]:
    """RSS (after gc and malloc_trim), open files and threads, once the viewers are gone."""
    assert wait_for(lambda: idle(streamer), 10), streamer.snapshot()
    settled_fds()
    gc.collect()
    malloc_trim()
    return psutil.Process().memory_info().rss, open_files(), threading.active_count()


def test_500_viewer_lives_leak_nothing(port: int) -> None:
    with streaming(port, 320, 240) as streamer:
        http_port = streamer.http.port  # type: ignore[union-attr]
        assert asyncio.run(lives(http_port, 0, WARM_UP)) == []
        rss0, fds0, threads0 = settled(streamer)
        t0 = time.monotonic()
        errors = asyncio.run(lives(http_port, WARM_UP, CYCLES - WARM_UP))
        seconds = time.monotonic() - t0
        rss1, fds1, threads1 = settled(streamer)
        s = streamer.snapshot().cameras[0].streams[0]
        print(f"{CYCLES - WARM_UP} lives in {seconds:.1f} s; RSS {rss0 / 1e6:.2f} -> "
              f"{rss1 / 1e6:.2f} MB; fds {len(fds0)} -> {len(fds1)}; threads {threads0} -> "
              f"{threads1}; {s.mse_joined} joined, {s.mse_dropped} dropped")  # fmt: skip
        assert errors == []
        assert (s.mse_viewers, s.mse_joined, s.mse_left) == (0, CYCLES, CYCLES)
        assert rss1 - rss0 <= 2_000_000
        assert fds1 == fds0 and threads1 == threads0
        assert http_port and not streamer.streams[0].wanted  # the feed has left the encoder
        assert streamer.http is not None and not streamer.http.websockets
