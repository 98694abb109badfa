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
from typing import TYPE_CHECKING

from .stats import _libc

if TYPE_CHECKING:  # imported by ProcessWatcher (monitor, soak): a server does not need it
    import psutil

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter numbers (glibc malloc.h)
M_MMAP_THRESHOLD = -3
PR_SET_THP_DISABLE = 41  # prctl option (linux/prctl.h)
MMAP_THRESHOLD = 256 * 1024  # chunks this large are mmapped, and unmapped when freed


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
        import psutil

        self.process: psutil.Process = psutil.Process(pid)
        self.process.cpu_percent(None)

    def sample(self) -> ProcessSample:
        """Raises `psutil.NoSuchProcess` once the process has exited (zombies included)."""
        import psutil

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


def _mallopt(param: int, value: int) -> bool:
    """glibc's mallopt(param, value); False where there is no glibc or it refused."""
    fn = getattr(_libc, "mallopt", None) if _libc is not None else None
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(fn(param, value))


def limit_arenas(count: int = 2) -> bool:
    """Cap glibc malloc arenas (like MALLOC_ARENA_MAX). Call before threads start. Each
    thread that mallocs otherwise may get its own 64 MB arena whose free lists grow RSS."""
    return _mallopt(M_ARENA_MAX, count)


def fix_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold (like MALLOC_MMAP_THRESHOLD_): every chunk of `size` bytes
    or more is mmapped and goes back to the kernel when freed. By default the threshold rises
    to the size of each mmapped chunk freed (up to 32 MB), after which frame-sized chunks
    come from the heap and stay resident as free lists: an encoder parked and restarted
    would leave its ~26 MB (x264, 720p) there. Safe to call at any time."""
    return _mallopt(M_MMAP_THRESHOLD, size)


def disable_huge_pages() -> bool:
    """No transparent huge pages for this process (prctl PR_SET_THP_DISABLE; inherited by
    children). x264 and NumPy ask for huge pages for their large buffers (madvise), and a
    2 MB huge page is resident as a whole however little of it is touched: 4-18 MB of RSS
    at 720p (docs/memory.md). Call before the large buffers are allocated."""
    fn = getattr(_libc, "prctl", None) if _libc is not None else None
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return bool(fn(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0)
