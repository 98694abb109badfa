"""Figures for the stats line, /metrics and the API: FPS maths with an injected clock, process
memory (RSS and the allocator's in-use bytes), immutable snapshots."""

from __future__ import annotations

import ctypes
import os
import threading
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

Clock = Callable[[], float]


class FpsMeter:
    """Frames per second over a sliding window of `window` seconds. `tick()` from the frame
    thread and `fps` from stats/HTTP threads may run at once: a lock guards the trimming."""

    def __init__(self, window: float = 1.0, clock: Clock = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self) -> None:
        now = self.clock()
        with self._lock:
            self._times.append(now)
            self._trim(now)

    def _trim(self, now: float) -> None:
        times = self._times
        while times and now - times[0] > self.window:
            times.popleft()

    @property
    def fps(self) -> float:
        now = self.clock()
        with self._lock:
            self._trim(now)
            return len(self._times) / self.window


def average_fps(frames: int, seconds: float) -> float:
    return frames / seconds if seconds > 0 else 0.0


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _load_libc() -> ctypes.CDLL | None:
    """The C library the interpreter runs on: the symbols already loaded (`dlopen(NULL)`), so
    neither `ctypes.util` (its `find_library` runs `ldconfig` in a subprocess) nor a second
    handle is needed."""
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


_libc = _load_libc()
_mallinfo2 = getattr(_libc, "mallinfo2", None) if _libc is not None else None
if _mallinfo2 is not None:
    _mallinfo2.restype = _Mallinfo2


def allocator_in_use() -> int | None:
    """Bytes glibc malloc has handed out and not got back (`mallinfo2`), or None where the C
    library has no mallinfo2. RSS minus this is mostly free lists: fragmentation, not leaks."""
    if _mallinfo2 is None:
        return None
    info = _mallinfo2()
    return int(info.uordblks + info.hblkhd)


def malloc_trim() -> bool:
    """Give free heap memory back to the kernel; False where unavailable."""
    fn = getattr(_libc, "malloc_trim", None) if _libc is not None else None
    return bool(fn(0)) if fn is not None else False


_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """This process's resident set size, from /proc/self/statm (what psutil reads, without
    importing psutil: ~1.5 MB that a server without HTTP does not need)."""
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


@dataclass(frozen=True)
class OutputStatus:
    """One output (RTMP push, recording, RTSP publish) at one moment.

    state: `starting` (pipeline built, nothing confirmed yet), `connected` (data is flowing),
    `retrying` (failed; waiting `retry_in_s` before the next attempt) or `stopped`.
    """

    name: str
    target: str
    state: str
    bytes: int = 0  # bytes of access units handed to the output's pipeline
    buffers: int = 0
    dropped: int = 0  # access units dropped because the output's queue was full
    errors: int = 0
    reconnects: int = 0
    last_error: str = ""
    files: int = 0  # recording: segments closed
    deleted: int = 0  # recording: segments removed by retention

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    def short(self) -> str:
        return f"{self.name}={self.state}/{self.bytes / 1e6:.1f}MB/err{self.errors}"


@dataclass(frozen=True)
class StreamSnapshot:
    """One stream of a camera at one moment."""

    path: str
    video: str  # "640x360@5 500 kbps"
    frames: int  # frames given to its encoder (its share of the camera's)
    fps: float
    encoded: int
    keyframes: int
    dropped: int  # encoder input drops plus RTSP client queue drops
    clients: int  # RTSP medias playing it now
    medias: int  # RTSP medias alive now
    bytes_sent: int
    encoder: str
    outputs: tuple[OutputStatus, ...] = ()
    codec: str = "h264"
    mse_viewers: int = 0  # browsers watching it over MSE (WebSocket) now
    mse_joined: int = 0  # ... since start
    mse_left: int = 0
    mse_dropped: int = 0  # fragments dropped for browsers that fell behind (also in dropped)

    webrtc_viewers: int = 0  # WebRTC (WHEP) viewers now
    webrtc_joined: int = 0
    webrtc_left: int = 0  # ended by the viewer (DELETE)
    webrtc_dropped: int = 0  # ended by the server: silent, ICE failed, pipeline error

    def short(self) -> str:
        mse = f" mse={self.mse_viewers}" if self.mse_joined else ""
        webrtc = f" webrtc={self.webrtc_viewers}" if self.webrtc_joined else ""
        return (
            f"{self.path} fps={self.fps:.1f} encoded={self.encoded} clients={self.clients} "
            f"dropped={self.dropped}{mse}{webrtc}" + "".join(f" {o.short()}" for o in self.outputs)
        )


@dataclass(frozen=True)
class CameraSnapshot:
    """One camera and its streams at one moment."""

    name: str
    source: str
    frames: int  # frames captured (or pushed through the API)
    fps: float
    idle_frames: int  # frames not processed because no stream of the camera was wanted
    hook_errors: int
    hook_seconds: float
    last_frame_age_s: float | None
    streams: tuple[StreamSnapshot, ...]
    faults: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """The camera's stats line, prefixed with its name."""
        return (
            f"{self.name}: frames={self.frames} fps={self.fps:.1f} "
            + " | ".join(s.short() for s in self.streams)
            + "".join(f" {k}={v}" for k, v in self.faults.items() if v)
        )


@dataclass(frozen=True)
class Snapshot:
    """What the stats line shows, at one moment: process totals, and each camera."""

    uptime_s: float
    frames: int
    fps: float
    dropped: int
    clients: int
    sessions: int
    rss_bytes: int
    heap_bytes: int | None
    encoded: int
    hook_errors: int = 0
    medias: int = 0  # client medias alive now
    connected: int = 0  # RTSP connections accepted since start
    closed: int = 0  # ... and closed since start
    bytes_sent: int = 0  # encoded bytes handed to RTSP clients
    hook_seconds: float = 0.0  # total time in the user hook
    encoder: str = ""  # the encoder element in use
    source_restarts: int = 0  # times the source was re-opened
    idle_frames: int = 0  # frames not encoded because nobody watched
    keyframes: int = 0
    last_frame_age_s: float | None = None  # None before the first frame
    outputs: tuple[OutputStatus, ...] = ()  # RTMP / recording / publish of every stream
    faults: dict[str, int] = field(default_factory=dict)  # FaultCounters of every camera
    cameras: tuple[CameraSnapshot, ...] = ()
    mse_viewers: int = 0  # browsers watching over MSE now, every stream

    def lines(self) -> list[str]:
        """The stats lines: one per camera (when the process has more than one stream), then
        the process totals."""
        many = len(self.cameras) > 1 or any(len(c.streams) > 1 for c in self.cameras)
        return [*(c.line() for c in self.cameras if many), self.line()]

    def line(self) -> str:
        heap = "" if self.heap_bytes is None else f" heap={self.heap_bytes / 1e6:.2f}MB"
        return (
            f"frames={self.frames} fps={self.fps:.1f} uptime={format_uptime(self.uptime_s)} "
            f"rss={self.rss_bytes / 1e6:.1f}MB{heap} dropped={self.dropped} "
            f"clients={self.clients} sessions={self.sessions} medias={self.medias} "
            f"connected={self.connected} closed={self.closed} encoded={self.encoded}"
            + (f" mse={self.mse_viewers}" if self.mse_viewers else "")
            + "".join(f" {o.short()}" for o in self.outputs)
            + "".join(f" {k}={v}" for k, v in self.faults.items() if v)
        )


def format_uptime(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def summary_line(frames: int, seconds: float) -> str:
    return (
        f"total frames={frames} run time={format_uptime(seconds)} "
        f"average fps={average_fps(frames, seconds):.2f}"
    )


class MemoryHistory:
    """The last `capacity` (wall time, RSS, allocator in-use) samples, taken every `interval`
    seconds by whoever calls `maybe_sample()`: the status page's memory chart. Bounded and
    preallocated: three fixed arrays used as a ring, so filling it over the first hour adds
    nothing to the heap (a deque of tuples grew ~50 KB there and showed in the long-run
    slope; docs/memory.md)."""

    def __init__(
        self,
        capacity: int = 360,
        interval: float = 10.0,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
    ) -> None:
        self.interval = interval
        self.clock, self.wall = clock, wall
        self._wall = array("d", bytes(8 * capacity))
        self._rss = array("q", bytes(8 * capacity))
        self._heap = array("q", bytes(8 * capacity))  # -1: allocator figure unavailable
        self._next = 0  # slot the next sample goes to
        self._count = 0
        self._last = float("-inf")
        self._lock = threading.Lock()

    def maybe_sample(self, rss: int | None = None, heap: int | None = None) -> bool:
        now = self.clock()
        if now - self._last < self.interval:
            return False
        self._last = now
        if rss is None:
            rss, heap = rss_bytes(), allocator_in_use()
        with self._lock:
            i = self._next
            self._wall[i], self._rss[i] = self.wall(), rss
            self._heap[i] = -1 if heap is None else heap
            self._next = (i + 1) % len(self._wall)
            self._count = min(self._count + 1, len(self._wall))
        return True

    def samples(self) -> list[tuple[float, int, int | None]]:
        """Oldest first. A fresh list: the caller (the status page) serialises and drops it."""
        with self._lock:
            n, cap = self._count, len(self._wall)
            order = [(self._next - n + k) % cap for k in range(n)]
            return [
                (self._wall[i], self._rss[i], None if self._heap[i] < 0 else self._heap[i])
                for i in order
            ]
