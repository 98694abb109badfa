"""Where a server's memory goes: the server run in this process (so tracemalloc, mallinfo2
and the objects themselves can be read), with its clients in a subprocess
(`python -m bench.memory play`), printed as markdown; and what each import, or one x264enc,
costs a fresh interpreter."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .smaps import MB, Mem, group_mappings, read_mem, read_smaps, thread_names, thread_stacks

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

SUB = (640, 360, 10)  # the sub stream whose cost is a target (bench.memory.TARGETS)
SUB_BITRATE_KBPS = 500


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), str(ROOT)) if p)
    env.setdefault("GST_DEBUG", "1")
    return env


# -- the breakdown (in this process) ---------------------------------------------------------
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


# -- what a piece costs a fresh interpreter --------------------------------------------------
def x264_cost(video: tuple[int, int, int], properties: str, frames: int = 90) -> float:
    """Anonymous MB that one x264enc holds at this size, in a fresh interpreter: a
    `videotestsrc ! x264enc ! fakesink` pipeline's anonymous RSS, running minus built."""
    w, h, fps = video
    code = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from bench.smaps import read_mem
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
            "from bench.smaps import read_mem\nm = read_mem()\n"
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
