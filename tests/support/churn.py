"""Hostile client churn, as the churn tests run it: many short client lives at once over TCP
and UDP, with TEARDOWN, reset, vanish, DESCRIBE only and SETUP without PLAY."""

from __future__ import annotations

import threading
from typing import Any

import psutil

from camera_streaming.testing import clients
from camera_streaming.testing.rtsp_probe import RtspProbeError
from support.env import wait_for

SESSIONS = (
    clients.raw_teardown_session,
    clients.raw_reset_session,
    clients.raw_udp_teardown_session,
    clients.raw_udp_vanish_session,
    clients.raw_describe_only_session,
    clients.raw_never_play_session,
)


def one_session(url: str, mode: int) -> None:
    """One client life: TCP + TEARDOWN, TCP reset, UDP + TEARDOWN, UDP vanish, DESCRIBE
    only, SETUP never PLAY."""
    SESSIONS[mode % len(SESSIONS)](url)


def churn(url: str | list[str], sessions: int, workers: int, errors: list) -> None:
    """`sessions` client lives on `workers` threads; with several URLs, life i goes to
    URL i mod len(urls). Failures are appended to `errors` as (i, repr)."""
    urls = [url] if isinstance(url, str) else url
    counter = iter(range(sessions))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                one_session(urls[i % len(urls)], i // len(urls) % 6)
            except (OSError, RtspProbeError, AssertionError) as exc:
                errors.append((i, repr(exc)))

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


def settled_baseline(s: Any, proc: psutil.Process, anchored: int) -> tuple[int, int]:
    """fds and threads once the warm-up's sessions, connections and medias are gone and the fd
    count has held still for a second: a media's UDP sockets close a moment after its session
    ends, and a baseline taken in between made the final comparison flaky (24 vs 22 in CI)."""
    assert wait_for(
        lambda: s.rtsp.sessions == 0 and s.rtsp.clients == 0 and s.rtsp.feeds == anchored,
        15,
        step=0.2,
    ), (s.rtsp.sessions, s.rtsp.clients, s.rtsp.feeds)
    readings: list[int] = []

    def held_still() -> bool:  # six equal readings, 0.2 s apart (the step below)
        readings.append(proc.num_fds())
        return len(readings) >= 6 and len(set(readings[-6:])) == 1

    wait_for(held_still, 10, step=0.2)  # if it never settles, the test's own final checks decide
    return proc.num_fds(), proc.num_threads()
