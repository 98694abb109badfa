"""The short soak that runs in CI: a few hundred mixed raw sessions against the in-process
server, judged on the allocator's in-use bytes per session after warm-up.

The bound must catch a leak of 30 KB per session (a naive Python appsrc server leaked about
43 KB per session here) without flaking; the second test injects exactly that leak into
the real server and checks the same measurement flags it."""

from __future__ import annotations

import time

import psutil
import pytest

from camera_streaming.config import FANOUTS
from camera_streaming.gst.rtsp.server import RtspServer
from camera_streaming.telemetry.memory import growth_after
from camera_streaming.telemetry.stats import allocator_in_use
from camera_streaming.testing.clients import RAW_MIX
from camera_streaming.testing.soak import Churn, Sampler, idle_medias, wait_idle
from support.fakes import make_config, running

pytestmark = pytest.mark.integration

WARMUP, SESSIONS = 80, 240
LIMIT_KB_PER_SESSION = 10.0  # a 30 KB/session leak measures 23-26 here, six at a time


def in_process_figures(streamer) -> callable:  # type: ignore[valid-type]
    proc = psutil.Process()

    def figures() -> dict:
        snap = streamer.snapshot()
        return {
            "rss_mb": proc.memory_info().rss / 1e6,
            "heap_mb": (allocator_in_use() or 0) / 1e6,
            "fds": proc.num_fds(),
            "threads": proc.num_threads(),
            "rtsp_sessions": snap.sessions,
            "clients": snap.clients,
            "medias": snap.medias,
            "connected": snap.connected,
            "closed": snap.closed,
            "fps": snap.fps,
        }

    return figures


def heap_kb_per_session(port: int, fanout: str = "per-client") -> tuple[float, dict, dict]:
    cfg = make_config(
        port, 320, 240, 30, session_timeout_s=2, post_session_timeout_s=1, fanout=fanout
    )
    with running(cfg) as s:
        figures = in_process_figures(s)
        churn = Churn(s.config.rtsp.url(), RAW_MIX, concurrency=6)
        sampler = Sampler(figures, churn, interval_s=0.5)
        sampler.start()
        churn.run(WARMUP)
        churn.run(SESSIONS)
        idle = wait_idle(figures, 0, 15, fanout)
        time.sleep(1)
        sampler.stop()
    rows = sampler.rows
    assert not churn.errors, churn.errors[:3]
    g = growth_after([r["sessions_done"] for r in rows], [r["heap_mb"] for r in rows], WARMUP)
    return g.slope * 1000, idle, rows[-1]


@pytest.mark.parametrize("fanout", FANOUTS)
def test_short_soak_heap_flat_per_session(port: int, fanout: str) -> None:
    t0 = time.monotonic()
    kb, idle, last = heap_kb_per_session(port, fanout)
    assert idle["rtsp_sessions"] == 0 and idle["clients"] == 0
    assert idle["medias"] == idle_medias(fanout, 0)
    assert idle["connected"] == idle["closed"]
    print(f"heap growth after warm-up: {kb:.2f} KB/session")
    assert kb < LIMIT_KB_PER_SESSION, f"heap grows {kb:.1f} KB/session"
    assert time.monotonic() - t0 < 180


def test_short_soak_catches_an_injected_30kb_per_session_leak(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaked: list[bytearray] = []
    original = RtspServer._on_client_connected

    def leaky(self, server, client) -> None:  # type: ignore[no-untyped-def]
        leaked.append(bytearray(b"x" * 30_000))  # touched, so it is really allocated
        original(self, server, client)

    monkeypatch.setattr(RtspServer, "_on_client_connected", leaky)
    kb, _idle, _last = heap_kb_per_session(port)
    print(f"with an injected 30 KB/session leak: {kb:.2f} KB/session")
    assert len(leaked) >= SESSIONS
    assert kb >= LIMIT_KB_PER_SESSION, f"a 30 KB/session leak measured only {kb:.1f} KB/session"
