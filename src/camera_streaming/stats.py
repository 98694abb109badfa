"""Figures for the stats line, /metrics and the API: FPS maths with an injected clock, process
memory (RSS and the allocator's in-use bytes), immutable snapshots."""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import psutil

Clock = Callable[[], float]


class FpsMeter:
    """Frames per second over a sliding window of `window` seconds."""

    def __init__(self, window: float = 1.0, clock: Clock = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._times: deque[float] = deque()

    def tick(self) -> None:
        now = self.clock()
        self._times.append(now)
        self._trim(now)

    def _trim(self, now: float) -> None:
        times = self._times
        while times and now - times[0] > self.window:
            times.popleft()

    @property
    def fps(self) -> float:
        now = self.clock()
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
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name)
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


_process = psutil.Process()


def rss_bytes() -> int:
    return int(_process.memory_info().rss)


@dataclass(frozen=True)
class Snapshot:
    """What the stats line shows, at one moment."""

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
    faults: dict[str, int] = field(default_factory=dict)  # capture.FaultCounters as a dict

    def line(self) -> str:
        heap = "" if self.heap_bytes is None else f" heap={self.heap_bytes / 1e6:.1f}MB"
        return (
            f"frames={self.frames} fps={self.fps:.1f} uptime={format_uptime(self.uptime_s)} "
            f"rss={self.rss_bytes / 1e6:.1f}MB{heap} dropped={self.dropped} "
            f"clients={self.clients} sessions={self.sessions} encoded={self.encoded}"
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
