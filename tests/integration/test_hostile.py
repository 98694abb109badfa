"""Hostile clients: the malformed-request corpus, a time-bounded random mutation run, clients that
stop reading or hold half-open connections. Throughout, a healthy ffmpeg client must keep its
frame rate, the server must stay up, RSS must stay bounded."""

from __future__ import annotations

import collections
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from camera_streaming.testing.rtsp_probe import RtspProbe
from support.fakes import decode_frames
from support.rtsp_corpus import SEEDS, Case, corpus, mutate

pytestmark = pytest.mark.integration
W, H, FPS = 320, 240, 30
STATUS = re.compile(rb"RTSP/1\.0 (\d{3}) ")
CASES = corpus()


@dataclass
class Outcome:
    statuses: list[int]
    closed_by_server: bool
    error: str = ""


def run_case(url: str, case: Case, settle: float = 0.3, cap: float = 2.0) -> Outcome:
    """Send one case on a fresh connection and collect the status codes answered."""
    host, port = url.split("://", 1)[1].split("/", 1)[0].split(":")
    ctl = url + "/stream=0"
    probe = RtspProbe(url, timeout=3.0)
    sock = probe.sock
    statuses: list[int] = []
    closed = False
    try:
        session = b""
        if case.setup:
            probe.setup_tcp(probe.control_url(probe.describe().body))
            session = (probe.session or "").encode()
        for chunk in case.chunks:
            data = chunk.replace(b"@CTL@", ctl.encode()).replace(b"@URL@", url.encode())
            sock.sendall(data.replace(b"@SESSION@", session))
        sock.settimeout(settle)
        data, end = b"", time.monotonic() + cap
        while time.monotonic() < end and len(data) < 1 << 20:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            data += chunk
        statuses = [int(m) for m in STATUS.findall(data)]
        return Outcome(statuses, closed)
    except OSError as exc:  # the server closed on us mid-send: an answer too
        return Outcome(statuses, True, type(exc).__name__)
    finally:
        if case.reset:
            probe.reset()
        else:
            probe.close()


class Healthy:
    """An ffmpeg client decoding the stream for the whole test, in a thread."""

    def __init__(self, url: str, seconds: float) -> None:
        self.frames: list = []
        self.seconds = seconds
        self.thread = threading.Thread(
            target=lambda: self.frames.extend(decode_frames(url, seconds, W, H)), name="healthy"
        )
        self.thread.start()

    def check(self) -> float:
        """Frame rate and the longest gap between decoded frames. The gap bound is
        loose: this 2-core machine is shared, and CPU starvation shows up as decode bursts."""
        self.thread.join(self.seconds + 30)
        times = [t for t, _ in self.frames]
        assert len(times) > FPS, len(times)
        fps = (len(times) - 1) / (times[-1] - times[0])
        gap = max(b - a for a, b in zip(times, times[1:]))
        print(f"healthy client: {len(times)} frames, {fps:.1f} fps, longest gap {gap:.2f} s")
        assert fps >= FPS * 0.9 and gap < 1.5, (fps, gap)
        return fps


class Server:
    """The CLI in a subprocess: its own GIL, so the load generator here cannot starve it, and
    its RSS is the server's alone. `clients()` reads the last stats line of its log."""

    def __init__(self, port: int, log: Path, *args: str) -> None:
        self.url = f"rtsp://127.0.0.1:{port}/stream"
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "camera_streaming",
                "--source",
                "test",
                "--width",
                str(W),
                "--height",
                str(H),
                "--fps",
                str(FPS),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--stats-interval",
                "0.5",
                *args,
            ],
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(log.read_text())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        return float(psutil.Process(self.proc.pid).memory_info().rss / 1e6)

    def clients(self) -> int:
        found = re.findall(r"clients=(\d+)", self.log.read_text(errors="replace"))
        return int(found[-1]) if found else -1

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        finally:
            self._out.close()


@pytest.fixture
def server(port: int, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    srv = Server(port, tmp_path / "server.log", *request.param)
    yield srv
    if srv.alive():
        assert srv.stop() == 0
    else:
        print(srv.log.read_text(errors="replace")[-3000:])


def test_corpus_size_and_names() -> None:
    assert len(CASES) >= 200
    assert not [c for c in CASES if c.crashes]  # none found on gst-rtsp-server 1.22.0


@pytest.mark.parametrize("server", [("--session-timeout", "3")], indirect=True)
def test_corpus_and_mutations_do_not_hurt_the_server_or_a_healthy_client(server: Server) -> None:
    mutation_s = 5.0
    url = server.url
    healthy = Healthy(url, 16.0)
    time.sleep(1.5)
    rss0 = server.rss_mb()
    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(lambda c: run_case(url, c), CASES))
    assert server.alive()
    codes: collections.Counter = collections.Counter()
    for o in outcomes:
        codes.update(o.statuses or ["closed" if o.closed_by_server else "none"])
    print(f"corpus: {len(CASES)} cases, responses {dict(sorted(codes.items(), key=str))}")

    # Random mutations of valid requests, for a fixed time, reproducible from the seed.
    seed = random.randrange(1 << 30)
    print(f"mutation seed {seed}")
    rnd = random.Random(seed)
    sent = 0
    mcodes: collections.Counter = collections.Counter()
    end = time.monotonic() + mutation_s
    with ThreadPoolExecutor(6) as pool:
        while time.monotonic() < end:
            batch = []
            for _ in range(12):
                seedreq = rnd.choice(SEEDS)
                data = mutate(seedreq, rnd)
                batch.append(Case("mut", "mutation", (data,), setup=b"@SESSION@" in seedreq))
            for o in pool.map(lambda c: run_case(url, c, settle=0.15, cap=0.5), batch):
                mcodes.update(o.statuses or ["closed" if o.closed_by_server else "none"])
            sent += len(batch)
    print(f"mutations: {sent} requests in {mutation_s:.0f} s, responses {dict(mcodes)}")
    assert server.alive()
    healthy.check()
    rss1 = server.rss_mb()
    print(f"server RSS {rss0:.1f} -> {rss1:.1f} MB")
    assert rss1 - rss0 < 60
    # Leftover connections (half requests, sessions never torn down) are closed by timeouts.
    deadline = time.monotonic() + 20
    while server.clients() != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    print(f"connections left after the timeouts: {server.clients()}")
    if server.clients():
        print(server.log.read_text(errors="replace")[-800:])
    assert server.clients() == 0
    assert "CRITICAL" not in server.log.read_text(errors="replace")  # see shutdown_client()


@pytest.mark.parametrize("server", [("--session-timeout", "2")], indirect=True)
def test_clients_that_stop_reading_or_hold_half_open_connections(server: Server) -> None:
    url = server.url
    healthy = Healthy(url, 18.0)
    time.sleep(1.5)
    rss0 = server.rss_mb()
    stuck: list[RtspProbe] = []
    for _ in range(4):  # PLAY over TCP, then never read again (tiny receive buffer)
        p = RtspProbe(url)
        p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        p.setup_tcp(p.control_url(p.describe().body))
        p.sock.sendall(f"PLAY {url} RTSP/1.0\r\nCSeq: 9\r\nSession: {p.session}\r\n\r\n".encode())
        stuck.append(p)
    for i in range(4):  # half a request, then silence
        p = RtspProbe(url)
        p.sock.sendall((b"DESCRIBE " + url.encode() + b" RTSP/1.0\r\nCSeq: 1")[: 10 + i * 5])
        stuck.append(p)
    for _ in range(4):  # connect and say nothing
        stuck.append(RtspProbe(url))
    time.sleep(0.8)  # (one stats line; the sessionless ones are closed after 2 s)
    assert server.clients() >= 13, server.log.read_text(errors="replace")[-1500:]
    deadline = time.monotonic() + 14
    while server.clients() > 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    left = server.clients()
    rss1 = server.rss_mb()
    healthy.check()
    for p in stuck:
        p.reset()
    print(f"stuck clients left: {max(0, left - 1)}; server RSS {rss0:.1f} -> {rss1:.1f} MB")
    assert left <= 1  # only the healthy client
    assert rss1 - rss0 < 40
