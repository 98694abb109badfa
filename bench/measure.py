"""The measurements: fan-out CPU/RSS/FPS, join time, glass-to-glass latency, and the footprint
of servers running side by side (the cameras section). Each takes server kinds
(bench.servers) and returns plain figures; bench.report turns them into ratios against the
baseline measured in the same run."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Callable

from camera_streaming.testing.rtsp_probe import RtspProbeError

from .clients import FrameCounter, ffmpeg_latencies, gst_latencies, play, start_playing
from .servers import SUB_ENCODE, Layout, Server, Video

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Load:
    """One server with N clients over one window."""

    kind: str
    clients: int
    cpu_pct: float  # of one core
    rss_mb: float
    fps_min: float
    fps_median: float
    closed: int = 0  # clients whose connection the server closed during the run


def fanout(
    kind: str,
    video: Video,
    client_counts: tuple[int, ...],
    window_s: float,
    settle_s: float = 2.0,
    progress: Progress = print,
) -> list[Load]:
    """Start the server, add clients up to each count in turn (1, then 4, then 32...), let it
    settle, then measure server CPU and RSS and every client's frame rate over `window_s`."""
    out: list[Load] = []
    with Server(kind, video, on_crash=progress) as server:
        counter = FrameCounter()
        try:
            for n in client_counts:
                while len(counter.probes) < n:
                    counter.add(start_playing(server.url))
                    counter.pump(0.01)
                counter.pump(settle_s)
                counter.reset()
                cpu0, t0 = server.cpu_seconds(), time.monotonic()
                counter.pump(window_s)
                cpu1, t1 = server.cpu_seconds(), time.monotonic()
                if not server.alive():
                    raise RuntimeError(f"{kind} died: {server.stderr_tail()}")
                rates = [c / (t1 - t0) for c in counter.counts]
                load = Load(
                    kind=kind,
                    clients=n,
                    cpu_pct=100.0 * (cpu1 - cpu0) / (t1 - t0),
                    rss_mb=server.rss_mb(),
                    fps_min=min(rates, default=0.0),
                    fps_median=statistics.median(rates) if rates else 0.0,
                    closed=len(counter.closed),
                )
                progress(
                    f"  {kind:12s} {n:3d} clients: cpu {load.cpu_pct:5.1f} %  "
                    f"rss {load.rss_mb:5.1f} MB  fps min {load.fps_min:4.1f} "
                    f"median {load.fps_median:4.1f}"
                    + (f"  ({load.closed} connections closed by the server)" if load.closed else "")
                )
                if load.fps_min < 0.5 * video.fps and n:
                    slow = [i for i, r in enumerate(rates) if r < 0.5 * video.fps]
                    progress(f"    slow clients {slow}; closed {sorted(counter.closed)}")
                out.append(load)
        finally:
            counter.close()
    return out


@dataclass(frozen=True)
class Joins:
    kind: str
    after_idle: list[float]  # seconds from PLAY to the first IDR
    late: list[float]
    after_idle_connect: list[float]  # seconds from connecting (before DESCRIBE) to it
    late_connect: list[float]
    failures: int = 0  # tries with no IDR within JOIN_TIMEOUT_S (counted as that long)


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank): with 20 tries, the second-worst."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(0.95 * len(s) + 0.5) - 1))]


JOIN_TIMEOUT_S = 10.0


def _join_once(url: str, delays: list[float], connects: list[float], progress: Progress) -> int:
    """One PLAY -> IDR try; a failure is recorded as JOIN_TIMEOUT_S and returns 1."""
    try:
        probe, result, connect = play(url, timeout=JOIN_TIMEOUT_S)
    except (OSError, RuntimeError, RtspProbeError) as exc:
        progress(f"    join failed: {exc!r}")
        delays.append(JOIN_TIMEOUT_S)
        connects.append(JOIN_TIMEOUT_S)
        return 1
    delays.append(float(result.idr_delay or 0.0))
    connects.append(connect)
    try:
        probe.teardown()
    except (OSError, RtspProbeError):
        pass
    probe.close()
    return 0


def join_times(
    kind: str, video: Video, tries: int, idle_gap_s: float = 0.7, progress: Progress = print
) -> Joins:
    """PLAY -> first IDR NAL unit, measured by a raw client: `tries` times as the only client
    after the server has been idle (nobody watching for `idle_gap_s`), then `tries` times as a
    late joiner while another client is playing."""
    after_idle: list[float] = []
    late: list[float] = []
    after_idle_connect: list[float] = []
    late_connect: list[float] = []
    with Server(kind, video, on_crash=progress) as server:
        time.sleep(1.0)
        failures = 0
        for _ in range(tries):
            failures += _join_once(server.url, after_idle, after_idle_connect, progress)
            time.sleep(idle_gap_s)
        holder = FrameCounter()
        stop = threading.Event()
        holder.add(start_playing(server.url))

        def keep_reading() -> None:  # the playing client drains its socket meanwhile
            while not stop.is_set():
                holder.pump(0.1)

        pump = threading.Thread(target=keep_reading, name="holder", daemon=True)
        pump.start()
        try:
            time.sleep(1.0)
            for i in range(tries):
                # Spread the joins over the GOP so a stream with a 1 s GOP is not flattered.
                time.sleep(0.3 + (i * 0.37) % 0.5)
                failures += _join_once(server.url, late, late_connect, progress)
        finally:
            stop.set()
            pump.join(2)
            holder.close()
    progress(
        f"  {kind:12s} PLAY -> IDR p95: after idle {p95(after_idle) * 1000:5.0f} ms, "
        f"late joiner {p95(late) * 1000:5.0f} ms; connect -> IDR p95: "
        f"{p95(after_idle_connect) * 1000:5.0f} ms, {p95(late_connect) * 1000:5.0f} ms"
        + (f"; {failures} tries without an IDR" if failures else "")
    )
    return Joins(kind, after_idle, late, after_idle_connect, late_connect, failures)


@dataclass(frozen=True)
class Latency:
    kind: str
    video: Video
    client: str  # "gst" or "ffmpeg"
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms) if self.samples_ms else float("nan")

    @property
    def p95(self) -> float:
        return p95(self.samples_ms) if self.samples_ms else float("nan")


def latency(kind: str, video: Video, seconds: float, progress: Progress = print) -> list[Latency]:
    """Glass-to-glass: capture time coded in the test pattern vs the decoder's clock, with a
    GStreamer client and then an ffmpeg client."""
    results = []
    with Server(kind, video, on_crash=progress) as server:
        for client, decode in (("gst", gst_latencies), ("ffmpeg", ffmpeg_latencies)):
            samples = decode(server.url, seconds, video.width, video.height)
            r = Latency(kind, video, client, samples)
            progress(
                f"  {kind:12s} {video.label} {client:6s}: latency p50 {r.p50:5.1f} ms  "
                f"p95 {r.p95:5.1f} ms ({len(samples)} frames)"
            )
            results.append(r)
    return results


@dataclass(frozen=True)
class Setup:
    """One server of a footprint measurement: `name` labels it in the figures."""

    name: str
    kind: str
    video: Video
    layout: Layout | None = None


@dataclass(frozen=True)
class Footprint:
    """One server over one window, one client reading each of its streams."""

    name: str
    cpu_s: float  # user+system CPU seconds, scaled to exactly the window
    rss_mb: float
    pss_mb: float | None  # None where /proc/PID/smaps is not readable
    uss_mb: float | None
    fps: tuple[float, ...]  # each stream's client, in the order of Server.urls
    expected_fps: tuple[int, ...]  # each stream's configured rate
    closed: int = 0  # its clients whose connection it closed during the run


def _stream_rates(setup: Setup) -> tuple[int, ...]:
    lay = setup.layout
    if setup.kind == SUB_ENCODE:
        return ()
    if lay is None or lay.sub is None:
        return (setup.video.fps,) * (lay.cameras if lay else 1)
    return (setup.video.fps, lay.sub.fps) * lay.cameras


def footprints(
    setups: Sequence[Setup], window_s: float, settle_s: float = 2.0, progress: Progress = print
) -> list[Footprint]:
    """Start these servers side by side and one interleaved-TCP client on every stream of
    each (so every encoder runs); after `settle_s`, each server's CPU seconds over the same
    `window_s`, its memory at the end, and each client's frame rate."""
    out: list[Footprint] = []
    with ExitStack() as stack:
        servers = []
        for s in setups:  # all start at once; each is stopped however this ends
            server = Server(s.kind, s.video, on_crash=progress, layout=s.layout)
            stack.push(server)
            servers.append(server)
        for server in servers:
            server.wait_ready()
        counter = FrameCounter()
        stack.callback(counter.close)
        first: list[int] = []  # each server's first client in the counter
        for server in servers:
            first.append(len(counter.probes))
            for url in server.urls:
                counter.add(start_playing(url))
                counter.pump(0.01)
        counter.pump(settle_s)
        counter.reset()
        cpu0, t0 = [s.cpu_seconds() for s in servers], time.monotonic()
        counter.pump(window_s)
        cpu1, t1 = [s.cpu_seconds() for s in servers], time.monotonic()
        for s, server, c0, c1, i in zip(setups, servers, cpu0, cpu1, first):
            if not server.alive():
                raise RuntimeError(f"{s.name} died: {server.stderr_tail()}")
            rss, pss, uss = server.memory_mb()
            mine = range(i, i + len(server.urls))
            counts = [counter.counts[j] for j in mine]
            fp = Footprint(
                name=s.name,
                cpu_s=(c1 - c0) * window_s / (t1 - t0),
                rss_mb=rss,
                pss_mb=pss,
                uss_mb=uss,
                fps=tuple(n / (t1 - t0) for n in counts),
                expected_fps=_stream_rates(s),
                closed=len(counter.closed.intersection(mine)),
            )
            progress(
                f"  {s.name:4s} cpu {fp.cpu_s:5.2f} s  rss {rss:5.1f} MB"
                + (f"  pss {pss:5.1f} MB" if pss is not None else "")
                + (f"  uss {uss:5.1f} MB" if uss is not None else "")
                + (f"  fps {' '.join(f'{x:4.1f}' for x in fp.fps)}" if fp.fps else "")
                + (f"  ({fp.closed} connections closed by the server)" if fp.closed else "")
            )
            out.append(fp)
    return out
