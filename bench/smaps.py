"""A process's memory as /proc shows it: the totals of smaps_rollup (`Mem`), every mapping
of smaps grouped by what holds it (libraries, malloc arenas, thread stacks), and the names of
its threads. Reads files only: no GStreamer, no camera_streaming."""

from __future__ import annotations

import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class Mem:
    """One reading of /proc/PID/smaps_rollup, in MB (2**20 bytes)."""

    rss: float
    pss: float
    uss: float  # Private_Clean + Private_Dirty: what the process alone holds
    anon: float  # Anonymous: heap, stacks, mmapped buffers (no file behind them)

    @staticmethod
    def median(readings: list[Mem]) -> Mem:
        return Mem(
            *(statistics.median(getattr(r, f) for r in readings) for f in Mem.__annotations__)
        )

    def text(self) -> str:
        return (
            f"RSS {self.rss:.1f} / PSS {self.pss:.1f} / USS {self.uss:.1f} / "
            f"anon {self.anon:.1f} MB"
        )


def read_mem(pid: int | str = "self") -> Mem:
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])

    def mb(*keys: str) -> float:
        return sum(fields.get(k, 0) for k in keys) / 1024

    return Mem(mb("Rss"), mb("Pss"), mb("Private_Clean", "Private_Dirty"), mb("Anonymous"))


@dataclass
class Mapping:
    start: int
    size: int
    perms: str
    path: str
    fields: dict[str, int]


def read_smaps(pid: int | str = "self") -> list[Mapping]:
    maps: list[Mapping] = []
    head = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = head.match(line)
            if m:
                a, b = int(m.group(1), 16), int(m.group(2), 16)
                maps.append(Mapping(a, b - a, m.group(3), m.group(4).strip(), {}))
                continue
            parts = line.split()
            if maps and len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                maps[-1].fields[parts[0][:-1]] = int(parts[1])
    return maps


ARENA = 64 * MB  # glibc's non-main arenas: 64 MiB reservations aligned to their size
STACK = 8 * MB  # default thread stack (ulimit -s) for Python and GLib threads


def library_group(path: str) -> str:
    low = path.lower()
    for key, name in (
        ("cv2", "OpenCV (cv2 and its bundled libraries)"),
        ("opencv", "OpenCV (cv2 and its bundled libraries)"),
        ("numpy", "NumPy (and its OpenBLAS)"),
        ("x264", "libx264"),
        ("gstreamer-1.0/", "GStreamer plugins"),
        ("libgst", "GStreamer libraries"),
        ("libglib", "GLib, GObject, GIO"),
        ("libgobject", "GLib, GObject, GIO"),
        ("libgio", "GLib, GObject, GIO"),
        ("libgmodule", "GLib, GObject, GIO"),
        ("gi/", "PyGObject and typelibs"),
        (".typelib", "PyGObject and typelibs"),
        ("libgirepository", "PyGObject and typelibs"),
        ("prometheus", "prometheus-client"),
        ("psutil", "psutil"),
        ("python3", "Python (interpreter and stdlib extensions)"),
        ("libpython", "Python (interpreter and stdlib extensions)"),
    ):
        if key in low:
            return name
    return "other libraries and files"


def group_mappings(maps: list[Mapping], stacks: set[int]) -> dict[str, list[float]]:
    """RSS, PSS, USS and anonymous KB by what the mapping holds."""
    out: dict[str, list[float]] = {}
    for m in maps:
        if m.path == "[heap]":
            key = "malloc main arena ([heap], brk)"
        elif m.path == "[stack]":
            key = "main thread stack"
        elif m.path.startswith("["):
            key = "kernel ([vdso], [vvar], ...)"
        elif m.path:
            key = library_group(m.path)
        elif m.start in stacks:
            key = "thread stacks (Python and GLib threads)"
        elif m.start % ARENA == 0 or any(s <= m.start < s + ARENA for s in _arenas(maps)):
            key = "malloc arenas 2+ (64 MiB reservations)"
        else:
            key = "other anonymous (large malloc chunks: frames, pools; Python object arenas)"
        f = m.fields
        row = out.setdefault(key, [0.0, 0.0, 0.0, 0.0])
        row[0] += f.get("Rss", 0)
        row[1] += f.get("Pss", 0)
        row[2] += f.get("Private_Clean", 0) + f.get("Private_Dirty", 0)
        row[3] += f.get("Anonymous", 0)
    return out


def _arenas(maps: list[Mapping]) -> list[int]:
    return [m.start for m in maps if not m.path and m.start % ARENA == 0]


def thread_stacks() -> set[int]:
    """Start addresses of every thread's stack mapping, from each thread's stack pointer
    (/proc/self/task/TID/stat field 29 is only set for the main thread, so read `syscall`)."""
    starts: set[int] = set()
    maps = read_smaps()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/syscall") as f:
                parts = f.read().split()
        except OSError:
            continue
        if len(parts) < 2 or parts[0] == "running":
            continue
        sp = int(parts[-2], 16)
        for m in maps:
            if m.start <= sp < m.start + m.size and not m.path:
                starts.add(m.start)
    return starts


def thread_names() -> Counter[str]:
    names: Counter[str] = Counter()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                names[re.sub(r"\d+$", "N", f.read().strip())] += 1
        except OSError:
            pass
    return names
