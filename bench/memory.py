"""Memory: what the server holds, against the C baseline measured in the same run.

    python -m bench --only memory --no-write     # the section (idle, 4 clients, sub streams)
    python -m bench.memory breakdown             # where a 720p30 server's memory goes
    python -m bench.memory breakdown --source gst --clients 4 --substreams 1
    python -m bench.memory imports               # what each import costs a fresh interpreter

The section starts each server in turn (C baseline, ours with the NumPy frame path
`--source test`, ours with a `gst:` source): RSS, PSS, USS and anonymous RSS with no client,
then with 4 TCP clients; then ours with 0, 1 and 2 extra 640x360@10 sub streams (one client
on every stream) for the cost of one sub stream. Figures are medians of readings taken every
0.5 s over the window (RSS dips for a second after each 30-s `malloc_trim`).

The breakdown runs the server in this process (so tracemalloc, mallinfo2 and the objects
themselves can be read), with the clients in a subprocess, and prints markdown.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

Progress = Callable[[str], None]
MB = 1024 * 1024
SUB = (640, 360, 10)  # the sub stream whose cost is a target
SUB_BITRATE_KBPS = 500
TARGETS = {  # (figure, limit): ratios against C at 4 clients, and absolute MB
    "rss_numpy": 1.75,
    "rss_native": 1.4,
    "idle_numpy_mb": 70.0,
    "per_substream_mb": 8.0,
}


# -- reading a process -----------------------------------------------------------------------
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


# -- the bench section -----------------------------------------------------------------------
def _sub_config(path: Path, video: Any, port: int, subs: int) -> None:
    """A TOML file: one test-pattern camera at `video` on /a with `subs` sub streams."""
    w, h, fps = SUB
    text = f"""
[rtsp]
port = {port}
bind = "127.0.0.1"

[[cameras]]
name = "a"
source = "test"

  [[cameras.streams]]
  path = "/a"
  width = {video.width}
  height = {video.height}
  fps = {video.fps}
  bitrate = {video.bitrate_kbps}
"""
    for i in range(subs):
        text += f"""
  [[cameras.streams]]
  path = "/a/sub{i}"
  width = {w}
  height = {h}
  fps = {fps}
  bitrate = {SUB_BITRATE_KBPS}
"""
    path.write_text(text)


def _config_server(video: Any, subs: int, tmp: Path, progress: Progress) -> Any:
    """Our server from a config file with `subs` sub streams (bench.servers.Server's
    bookkeeping, another command)."""
    from .servers import OURS, Server, free_port

    port = free_port()
    cfg = tmp / f"subs{subs}.toml"
    _sub_config(cfg, video, port, subs)
    cmd = [sys.executable, "-m", "camera_streaming", "--config", str(cfg), "--no-http"]
    cmd += ["--stats-interval", "3600", "--log-level", "warning"]

    class ConfigServer(Server):
        def __init__(self) -> None:
            import bench.servers as servers

            saved = servers.server_command
            servers.server_command = lambda *_a: cmd
            try:
                super().__init__(OURS, video, on_crash=progress)
            finally:
                servers.server_command = saved
            self.port = port
            self.url = f"rtsp://127.0.0.1:{port}/a"

    return ConfigServer()


def _sample(server: Any, counter: Any, window_s: float) -> tuple[Mem, float]:
    """Median memory over the window while the clients are read; CPU % over it."""
    readings = []
    cpu0, t0 = server.cpu_seconds(), time.monotonic()
    end = t0 + window_s
    while time.monotonic() < end:
        readings.append(read_mem(server.proc.pid))
        if counter is not None:
            counter.pump(0.5)
        else:
            time.sleep(0.5)
    cpu = 100.0 * (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
    return Mem.median(readings), cpu


@dataclass(frozen=True)
class MemLoad:
    kind: str
    clients: int
    mem: Mem
    cpu_pct: float


def measure_kind(
    kind: str, video: Any, clients: int, window_s: float, progress: Progress
) -> list[MemLoad]:
    """Idle (no client) and with `clients` TCP clients."""
    from .clients import FrameCounter, start_playing
    from .servers import Server

    out = []
    with Server(kind, video, on_crash=progress) as server:
        time.sleep(3.0)  # the start-up's transients (element registry, first trims)
        mem, cpu = _sample(server, None, window_s)
        out.append(MemLoad(kind, 0, mem, cpu))
        counter = FrameCounter()
        try:
            while len(counter.probes) < clients:
                counter.add(start_playing(server.url))
                counter.pump(0.01)
            counter.pump(3.0)
            mem, cpu = _sample(server, counter, window_s)
            out.append(MemLoad(kind, clients, mem, cpu))
        finally:
            counter.close()
    for x in out:
        progress(f"  {kind:12s} {x.clients:2d} clients: {x.mem.text()}, cpu {x.cpu_pct:5.1f} %")
    return out


def measure_substreams(
    video: Any, counts: tuple[int, ...], window_s: float, progress: Progress
) -> dict[int, Mem]:
    """Ours with each number of extra sub streams, one client on every stream."""
    from .clients import FrameCounter, start_playing

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for subs in counts:
            with _config_server(video, subs, Path(tmp), progress) as server:
                counter = FrameCounter()
                try:
                    urls = [server.url] + [f"{server.url}/sub{i}" for i in range(subs)]
                    for url in urls:
                        counter.add(start_playing(url))
                        counter.pump(0.01)
                    counter.pump(3.0)
                    mem, cpu = _sample(server, counter, window_s)
                finally:
                    counter.close()
            out[subs] = mem
            progress(f"  ours + {subs} sub streams, a client each: {mem.text()}, cpu {cpu:.1f} %")
    return out


def memory_section(args: argparse.Namespace, progress: Progress) -> list[Any]:
    from . import report
    from .servers import C_BASELINE, OURS, OURS_NATIVE, Video

    w, _, h = args.size.partition("x")
    video = Video(int(w), int(h), args.fps)
    clients = 4 if not args.quick else 2
    window = max(2.0, args.window / 2)
    loads: list[MemLoad] = []
    kinds = (C_BASELINE, OURS, OURS_NATIVE)
    for r in range(args.rounds):
        progress(f"memory round {r + 1}/{args.rounds}: {video.label}, 0 and {clients} clients")
        for kind in kinds if r % 2 == 0 else tuple(reversed(kinds)):
            loads += measure_kind(kind, video, clients, window, progress)
    subs = measure_substreams(video, (0, 1, 2, 3), window, progress)

    def med(kind: str, n: int) -> Mem:
        return Mem.median([x.mem for x in loads if x.kind == kind and x.clients == n])

    rows: list[report.Row] = []
    label = f"{video.label} {clients} clients"
    c = med(C_BASELINE, clients)
    for kind, limit in ((OURS, TARGETS["rss_numpy"]), (OURS_NATIVE, TARGETS["rss_native"])):
        us = med(kind, clients)
        for name, attr in (("RSS", "rss"), ("PSS", "pss"), ("USS", "uss"), ("anon", "anon")):
            a, b = getattr(us, attr), getattr(c, attr)
            judged = attr == "rss"
            rows.append(
                report.Row(
                    "memory",
                    f"{name} {label}, {kind} / {C_BASELINE}",
                    f"{a:.1f} MB",
                    f"{b:.1f} MB",
                    a / b if b else None,
                    f"<= {limit}" if judged else "",
                    report.verdict(a / b <= limit if judged and b else None),
                )  # fmt: skip
            )
    for kind in (OURS, OURS_NATIVE, C_BASELINE):
        idle = med(kind, 0)
        limit = TARGETS["idle_numpy_mb"] if kind == OURS else None
        rows.append(
            report.Row(
                "memory",
                f"RSS {video.label} no client, {kind} (PSS {idle.pss:.1f}, "
                f"USS {idle.uss:.1f}, anon {idle.anon:.1f} MB)",
                f"{idle.rss:.1f} MB",
                f"{c.rss:.1f} MB (C, {clients} clients)",
                idle.rss / c.rss if c.rss else None,
                f"<= {limit:.0f} MB" if limit else "",
                report.verdict(idle.rss <= limit if limit else None),
            )  # fmt: skip
        )
    if len(subs) > 2:
        # The first sub stream also loads OpenCV for its resize (none of the main stream's
        # frames needs it): judged is each one after it; the first is shown beside it.
        most = max(subs)
        each = (subs[most].rss - subs[1].rss) / (most - 1)
        first = subs[1].rss - subs[0].rss
        limit = TARGETS["per_substream_mb"]
        steps = ", ".join(f"{n}: {m.rss:.1f}" for n, m in sorted(subs.items()))
        rows.append(
            report.Row(
                "memory",
                f"RSS of each extra {SUB[0]}x{SUB[1]}@{SUB[2]} sub stream, ours {video.label} "
                f"(1..{most} subs, a client on every stream; RSS MB by subs {steps}; the "
                f"first sub stream +{first:.1f} MB with OpenCV for its resize)",
                f"{each:.1f} MB",
                "",
                None,
                f"<= {limit:.0f} MB",
                report.verdict(each <= limit),
            )
        )
    return rows


# -- the breakdown (in this process) ---------------------------------------------------------
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


def mallinfo() -> dict[str, float]:
    from camera_streaming.telemetry.stats import _mallinfo2

    if _mallinfo2 is None:
        return {}
    i = _mallinfo2()
    return {
        "arena (heap bytes from brk and the other arenas)": i.arena / MB,
        "in use in the arenas (uordblks)": i.uordblks / MB,
        "free in the arenas (fordblks)": i.fordblks / MB,
        "mmapped chunks (hblkhd)": i.hblkhd / MB,
        "mmapped chunk count (hblks)": float(i.hblks),
    }


def frame_buffers(streamer: Any) -> list[tuple[str, int, bool]]:
    """(what, bytes, touched) of every NumPy frame buffer the frame path holds."""
    import numpy as np

    out: list[tuple[str, int, bool]] = []

    def add(what: str, arr: Any) -> None:
        if isinstance(arr, np.ndarray):
            out.append((what, int(arr.nbytes), bool(arr.any())))

    for cam in streamer.cameras:
        p = cam.processor
        if p is not None:
            for name in ("_bgr", "_i420"):
                add(f"{cam.name}: FrameProcessor.{name}", getattr(p, name, None))
        src = cam._source
        add(f"{cam.name}: {type(src).__name__}._frame", getattr(src, "_frame", None))
        for name in ("_i420", "_background"):  # the test pattern drawn in I420
            frame = getattr(src, name, None)
            add(f"{cam.name}: {type(src).__name__}.{name}", getattr(frame, "data", None))
        sup = cam.supervisor
        slate = getattr(sup, "_slate", None) if sup is not None else None  # if ever shown
        if slate is not None:
            for name in ("frame", "_clean"):
                add(f"{cam.name}: Slate.{name}", getattr(slate, name, None))
        add(f"{cam.name}: LatestFrame._kept", cam.latest._kept)
        for s in cam.streams:
            for name in ("_bgr", "_i420"):
                add(f"{s.path}: StreamScaler.{name}", getattr(s.scaler, name, None))
    return out


def gst_queues(streamer: Any) -> list[tuple[str, str]]:
    """Bounds and current levels of the encoder inputs and every client's queue."""
    from camera_streaming.gst.runtime import Gst

    out = []
    for s in streamer.streams:
        enc = s.pipeline
        if enc is None:
            continue
        appsrc = getattr(enc, "_appsrc", None)
        if appsrc is not None:
            out.append(
                (
                    f"{s.path}: encoder appsrc",
                    f"level {appsrc.get_property('current-level-bytes') / 1024:.0f} KB, bound "
                    f"{appsrc.get_property('max-buffers')} frames",
                )
            )
        pool = getattr(enc, "_pool", None)
        if pool is not None:
            cfg = pool.get_config()
            _ok, _caps, size, lo, hi = Gst.BufferPool.config_get_params(cfg)
            out.append(
                (
                    f"{s.path}: encoder buffer pool",
                    f"{lo}..{hi} buffers of {size / MB:.2f} MB (allocated on demand up to the max)",
                )
            )
        mount = s.mount
        if mount is not None:
            levels = [f.appsrc.get_property("current-level-bytes") for f in mount._feed_list]
            out.append(
                (
                    f"{s.path}: client queues ({len(levels)})",
                    f"levels {sum(levels) / 1024:.0f} KB in all (max "
                    f"{max(levels, default=0) / 1024:.0f} KB), bound "
                    f"{mount._queue_bytes / 1024:.0f} KB each",
                )
            )
    return out


def x264_cost(video: tuple[int, int, int], properties: str, frames: int = 90) -> float:
    """Anonymous MB that one x264enc holds at this size, in a fresh interpreter: a
    `videotestsrc ! x264enc ! fakesink` pipeline's anonymous RSS, running minus built."""
    w, h, fps = video
    code = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from bench.memory import read_mem
from camera_streaming.telemetry.memory import disable_huge_pages
disable_huge_pages()  # as the CLI does
from camera_streaming.gst.runtime import Gst, init
init()
p = Gst.parse_launch("videotestsrc is-live=true pattern=ball num-buffers={frames} "
    "! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1 "
    "! x264enc {properties} ! fakesink sync=false")
p.set_state(Gst.State.PAUSED); p.get_state(Gst.SECOND * 5)
before = read_mem().anon
p.set_state(Gst.State.PLAYING)
time.sleep({frames / fps * 0.8})
print(read_mem().anon - before)
p.set_state(Gst.State.NULL)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env()
    )
    return float(out.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), str(ROOT)) if p)
    env.setdefault("GST_DEBUG", "1")
    return env


IMPORTS = (
    ("python alone", ""),
    ("numpy", "import numpy"),
    ("cv2 (with numpy)", "import numpy, cv2"),
    ("psutil", "import psutil"),
    ("gi + Gst.init + GstRtspServer", "from camera_streaming.gst.runtime import init; init()"),
    ("prometheus_client", "import prometheus_client"),
    ("camera_streaming.service", "import camera_streaming.service"),
    ("camera_streaming.web.http", "import camera_streaming.web.http"),
    ("camera_streaming.cli (before a Streamer)", "import camera_streaming.cli"),
)


def imports() -> list[tuple[str, Mem, bool]]:
    """Each import in a fresh interpreter: (what, memory, cv2 loaded)."""
    out = []
    for what, stmt in IMPORTS:
        code = (
            f"{stmt}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
            "from bench.memory import read_mem\nm = read_mem()\n"
            "print(m.rss, m.pss, m.uss, m.anon, 'cv2' in sys.modules)"
        )
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env()
        )
        if res.returncode != 0:
            raise RuntimeError(f"{what}: {res.stderr.strip()[-300:]}")
        *vals, cv = res.stdout.split()
        out.append((what, Mem(*(float(v) for v in vals)), cv == "True"))
    return out


def print_imports() -> None:
    rows = imports()
    base = rows[0][1]
    print("| import (fresh interpreter) | RSS MB | PSS | USS | anon | +RSS over python | cv2 |")
    print("|---|---|---|---|---|---|---|")
    for what, m, cv in rows:
        print(
            f"| {what} | {m.rss:.1f} | {m.pss:.1f} | {m.uss:.1f} | {m.anon:.1f} | "
            f"{m.rss - base.rss:+.1f} | {'loaded' if cv else '-'} |"
        )


def breakdown(args: argparse.Namespace) -> None:
    import tracemalloc

    if args.tracemalloc:
        tracemalloc.start(1)
    from camera_streaming.config.model import (
        CameraConfig,
        Config,
        HttpConfig,
        RtspConfig,
        SourceSpec,
        StreamConfig,
        VideoConfig,
    )
    from camera_streaming.service import Streamer
    from camera_streaming.telemetry.memory import (
        disable_huge_pages,
        fix_mmap_threshold,
        limit_arenas,
    )
    from camera_streaming.telemetry.stats import malloc_trim

    from .servers import NATIVE_SOURCE, free_port

    if os.environ.get("MALLOC_ARENA_MAX") is None:
        limit_arenas(2)  # as the CLI does
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
        fix_mmap_threshold()
    if os.environ.get("CAMERA_STREAMING_HUGE_PAGES") != "1":
        disable_huge_pages()
    w, _, h = args.size.partition("x")
    video = VideoConfig(int(w), int(h), args.fps, 2000, encoder="x264enc")
    source = SourceSpec.parse(NATIVE_SOURCE if args.source == "gst" else args.source)
    streams = [StreamConfig("/a", video)]
    streams += [
        StreamConfig(f"/a/sub{i}", VideoConfig(*SUB, SUB_BITRATE_KBPS, encoder="x264enc"))
        for i in range(args.substreams)
    ]
    port = free_port()
    config = Config(
        rtsp=RtspConfig(port=port, bind="127.0.0.1", fanout=args.fanout),
        http=HttpConfig(enabled=False),
        stats_interval_s=3600,
        cameras=(CameraConfig("a", source, tuple(streams)),),
    )
    streamer = Streamer(config, log_stats=False, notify_systemd=False)
    streamer.start()
    urls = [f"rtsp://127.0.0.1:{port}/a"] * args.clients
    urls += [f"rtsp://127.0.0.1:{port}/a/sub{i}" for i in range(args.substreams) if args.clients]
    clients = subprocess.Popen(
        [sys.executable, "-m", "bench.memory", "play", str(args.seconds + 60), *urls],
        cwd=ROOT,
        env=_env(),
    )
    try:
        time.sleep(args.seconds)
        malloc_trim()  # as the upkeep loop does every 30 s: what is in use, not free lists
        time.sleep(1.0)
        report_breakdown(streamer, args)
    finally:
        clients.terminate()
        clients.wait(10)
        streamer.stop()


def report_breakdown(streamer: Any, args: argparse.Namespace) -> None:
    import tracemalloc

    mem = read_mem()
    stacks = thread_stacks()
    groups = group_mappings(read_smaps(), stacks)
    print(
        f"### {args.size}@{args.fps}, source {args.source}, {args.clients} clients, "
        f"{args.substreams} sub streams, {args.fanout} fan-out\n"
    )
    print(f"Totals (smaps_rollup): {mem.text()}\n")
    print("| what (from /proc/self/smaps) | RSS MB | PSS | USS | anon |")
    print("|---|---|---|---|---|")
    for key, (rss, pss, uss, anon) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        if rss >= 100:
            print(f"| {key} | {rss / 1024:.1f} | {pss / 1024:.1f} | {uss / 1024:.1f} | "
                  f"{anon / 1024:.1f} |")  # fmt: skip
    names = thread_names()
    print(
        f"\nThreads: {sum(names.values())} ("
        + ", ".join(f"{n} x{c}" if c > 1 else n for n, c in sorted(names.items()))
        + f"); their stacks: {len(stacks)} found, resident "
        f"{groups.get('thread stacks (Python and GLib threads)', [0])[0] / 1024:.2f} MB\n"
    )
    print("| malloc (mallinfo2, after malloc_trim) | MB |")
    print("|---|---|")
    for k, v in mallinfo().items():
        print(f"| {k} | {v:.0f} |" if "count" in k else f"| {k} | {v:.1f} |")
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot()
        cur, _peak = tracemalloc.get_traced_memory()
        print(f"\ntracemalloc: {cur / MB:.1f} MB traced (Python objects and NumPy arrays)\n")
        print("| top files (tracemalloc) | MB |")
        print("|---|---|")
        for stat in snap.statistics("filename")[:10]:
            name = stat.traceback[0].filename
            name = name.split("site-packages/")[-1].split("/src/")[-1]
            print(f"| {name} | {stat.size / MB:.2f} |")
    bufs = frame_buffers(streamer)
    if bufs:
        print("\n| frame buffers (NumPy) | MB | written |")
        print("|---|---|---|")
        for what, size, touched in bufs:
            print(f"| {what} | {size / MB:.2f} | {'yes' if touched else 'no (not resident)'} |")
    print("\n| GStreamer queues and pools | now |")
    print("|---|---|")
    for what, text in gst_queues(streamer):
        print(f"| {what} | {text} |")
    print()


def play(seconds: float, urls: list[str]) -> None:
    """The breakdown's clients: PLAY every URL over TCP and read until killed."""
    from .clients import FrameCounter, start_playing

    counter = FrameCounter()
    for url in urls:
        counter.add(start_playing(url))
    counter.pump(seconds)
    counter.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("breakdown", help="where a running server's memory goes (markdown)")
    b.add_argument("--size", default="1280x720")
    b.add_argument("--fps", type=int, default=30)
    b.add_argument("--source", default="test", help="test, or gst (videotestsrc pattern=ball)")
    b.add_argument("--clients", type=int, default=4)
    b.add_argument("--substreams", type=int, default=0)
    b.add_argument("--fanout", default="per-client")
    b.add_argument("--seconds", type=float, default=8.0, help="settle before reading")
    b.add_argument("--no-tracemalloc", dest="tracemalloc", action="store_false")
    sub.add_parser("imports", help="what each import costs a fresh interpreter")
    x = sub.add_parser("x264", help="anonymous MB one x264enc holds, per property set")
    x.add_argument("--size", default="1280x720")
    x.add_argument("--fps", type=int, default=30)
    x.add_argument("properties", nargs="*")
    pl = sub.add_parser("play")
    pl.add_argument("seconds", type=float)
    pl.add_argument("urls", nargs="+")
    args = p.parse_args(argv)
    if args.cmd == "breakdown":
        breakdown(args)
    elif args.cmd == "imports":
        print_imports()
    elif args.cmd == "x264":
        w, _, h = args.size.partition("x")
        for props in args.properties:
            mb = x264_cost((int(w), int(h), args.fps), props)
            print(f"| `{props}` | {mb:.1f} |")
    else:
        play(args.seconds, args.urls)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
