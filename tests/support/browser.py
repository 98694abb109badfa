"""The browser view's clients: Debian's Chromium through Playwright (never `playwright
install`), the player's own report (`window.__player`), glass-to-glass latency from the codes
the test pattern writes, and plain WebSocket clients (Tornado's, and rude raw sockets)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import statistics
import struct
import time
from collections.abc import Iterator
from typing import Any

from camera_streaming.testing import browser as testing_browser

from .env import require_tool


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's `Browser`), closed on exit; the test fails with what
    to install when Chromium is missing."""
    with testing_browser.chromium(require_tool("chromium")) as browser:
        yield browser


PLAYER = """() => { const p = window.__player; if (!p) return null;
  return Object.assign({}, p, {latency: p.latency.length}); }"""
DRAIN = "() => window.__player ? window.__player.latency.splice(0) : []"


def player(page: Any) -> dict[str, Any]:
    """The player's report without its latency samples (their count instead)."""
    return dict(page.evaluate(PLAYER) or {})


def drain_latency(page: Any) -> list[list[float]]:
    """The latency samples the player took since the last call: [index, capture ms, display
    ms since the epoch, Date.now() at the callback] each."""
    return list(page.evaluate(DRAIN))


def clock_offset_ms() -> float:
    """Wall clock minus the monotonic clock, in ms: turns the pattern's capture time
    (monotonic ms mod 2^32) into the browser's time (ms since the epoch), on this machine."""
    return (time.time() - time.monotonic()) * 1000


def latencies_ms(samples: list[list[float]], offset_ms: float) -> list[float]:
    """Glass-to-glass latency of each sample: when the frame was shown minus when it was
    captured (the capture time is mod 2^32 ms)."""
    out = []
    for _index, captured, shown, _now in samples:
        delta = (shown - offset_ms - captured) % 2**32
        out.append(delta - 2**32 if delta > 2**31 else delta)
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"n={len(values)} p50={statistics.median(values):.0f} p95={percentile(values, 95):.0f} "
        f"min={min(values):.0f} max={max(values):.0f} ms"
    )


# -- plain WebSocket clients ------------------------------------------------------------------
async def ws_watch(url: str, fragments: int, timeout: float = 10.0) -> list[Any]:
    """Tornado's client: connect, read the header, the init segment and `fragments`
    fragments, close politely. Returns the messages."""
    import tornado.websocket

    conn = await asyncio.wait_for(tornado.websocket.websocket_connect(url), timeout)
    got: list[Any] = []
    try:
        while len(got) < 2 + fragments:
            msg = await asyncio.wait_for(conn.read_message(), timeout)
            if msg is None:
                break
            got.append(msg)
    finally:
        conn.close(1000, "done")
        # until the server's close frame: the socket is closed when this returns
        with contextlib.suppress(asyncio.TimeoutError):
            while await asyncio.wait_for(conn.read_message(), timeout) is not None:
                pass
    return got


async def ws_closed(url: str, timeout: float = 10.0) -> tuple[int | None, str | None]:
    """Connect and wait for the server to close: (close code, reason)."""
    import tornado.websocket

    conn = await asyncio.wait_for(tornado.websocket.websocket_connect(url), timeout)
    while await asyncio.wait_for(conn.read_message(), timeout) is not None:
        pass
    return conn.close_code, conn.close_reason


def upgrade_request(path: str, port: int, key: bool = True, extra: str = "") -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
    ]
    if key:
        lines.append("Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode())
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


async def ws_vanish(port: int, path: str, read_bytes: int, reset: bool) -> bytes:
    """A raw client that upgrades, reads `read_bytes` and goes without a close frame: a
    reset (`reset`) or a plain FIN, as a killed tab or a lost network would."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = b""
    try:
        writer.write(upgrade_request(path, port))
        while len(data) < read_bytes:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            if not chunk:
                break
            data += chunk
    finally:
        sock = writer.get_extra_info("socket")
        if reset and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return data
