"""Where memory is measured: leak-slope maths (pure), process samples (RSS, VSZ, CPU, fds,
threads), and the allocator policy (arena limit, periodic trim).

RSS alone cannot tell a leak from glibc fragmentation (docs/gstreamer.md, fact 16): a leak grows
the allocator's in-use bytes (`stats.allocator_in_use`, mallinfo2); fragmentation grows RSS
with in-use flat. Both are sampled and reported side by side.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from .stats import _libc

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter number (glibc malloc.h)


def linear_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (0.0 with fewer than two distinct xs)."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var


def median_slope(xs: Sequence[float], ys: Sequence[float], max_points: int = 400) -> float:
    """Theil-Sen slope: the median of the slopes between every pair of samples (evenly thinned
    to `max_points` first). Unlike least squares it is not tipped by a few minutes of
    samples lifted by a transient (another job loading the machine holds one more frame in
    flight: +3 MB at 1080p). 0.0 with fewer than two distinct xs."""
    n = min(len(xs), len(ys))
    step = max(1, -(-n // max_points))
    pts = list(zip(xs[:n:step], ys[:n:step]))
    slopes = sorted(
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(pts)
        for x2, y2 in pts[i + 1 :]
        if x2 != x1
    )
    if not slopes:
        return 0.0
    mid = len(slopes) // 2
    return slopes[mid] if len(slopes) % 2 else (slopes[mid - 1] + slopes[mid]) / 2


@dataclass(frozen=True)
class Growth:
    """Growth of one series after warm-up: `delta` end minus warm-up, `slope` per unit of x
    (least squares), `median_slope` the same by Theil-Sen."""

    start: float
    end: float
    slope: float
    median_slope: float

    @property
    def delta(self) -> float:
        return self.end - self.start


def growth_after(
    xs: Sequence[float], ys: Sequence[float], warmup_x: float, tail: int = 3
) -> Growth:
    """Growth of ys after the first x >= warmup_x; start and end are medians of `tail`
    samples so one noisy sample does not decide."""
    pairs = [(x, y) for x, y in zip(xs, ys) if x >= warmup_x]
    if len(pairs) < 2:
        raise ValueError("not enough samples after warm-up")
    head = sorted(y for _, y in pairs[:tail])
    last = sorted(y for _, y in pairs[-tail:])
    after_x, after_y = [x for x, _ in pairs], [y for _, y in pairs]
    return Growth(
        start=head[len(head) // 2],
        end=last[len(last) // 2],
        slope=linear_slope(after_x, after_y),
        median_slope=median_slope(after_x, after_y),
    )


@dataclass(frozen=True)
class ProcessSample:
    rss_mb: float
    vsz_mb: float
    cpu_percent: float
    fds: int
    threads: int


class ProcessWatcher:
    """Samples one process (default: this one). `cpu_percent` is since the previous sample."""

    def __init__(self, pid: int | None = None) -> None:
        self.process = psutil.Process(pid)
        self.process.cpu_percent(None)

    def sample(self) -> ProcessSample:
        """Raises `psutil.NoSuchProcess` once the process has exited (zombies included)."""
        p = self.process
        with p.oneshot():
            if p.status() == psutil.STATUS_ZOMBIE:
                raise psutil.NoSuchProcess(p.pid)
            mem = p.memory_info()
            return ProcessSample(
                rss_mb=mem.rss / 1e6,
                vsz_mb=mem.vms / 1e6,
                cpu_percent=p.cpu_percent(None),
                fds=p.num_fds(),
                threads=p.num_threads(),
            )


def slices_on_malloc() -> None:
    """GLib's slice allocator on plain malloc (G_SLICE=always-malloc, what GLib 2.76+ does
    anyway) unless G_SLICE is set: Debian 12's GLib 2.74 keeps freed slices in its own
    magazines and slabs, which malloc_trim cannot return, and which grew with each burst of
    WebRTC viewers (docs/webrtc.md). Only works before GLib is loaded (before `import gi`)."""
    os.environ.setdefault("G_SLICE", "always-malloc")


def limit_arenas(count: int = 2) -> bool:
    """Cap glibc malloc arenas (like MALLOC_ARENA_MAX). Call before threads start. Each
    thread that mallocs otherwise may get its own 64 MB arena whose free lists grow RSS."""
    fn = getattr(_libc, "mallopt", None) if _libc is not None else None
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(fn(M_ARENA_MAX, count))
