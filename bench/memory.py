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
themselves can be read), with the clients in a subprocess, and prints markdown: it and the
import and x264 costs are in bench/memory_breakdown.py, the reading of /proc in bench/smaps.py.
This module holds the section and the command line.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .memory_breakdown import SUB, SUB_BITRATE_KBPS, breakdown, play, print_imports, x264_cost
from .smaps import Mem, read_mem

Progress = Callable[[str], None]
TARGETS = {  # (figure, limit): ratios against C at 4 clients, and absolute MB
    "rss_numpy": 1.75,
    "rss_native": 1.4,
    "idle_numpy_mb": 70.0,
    "per_substream_mb": 8.0,
}


# -- the bench section -----------------------------------------------------------------------
def sub_size(video: Any) -> tuple[int, int, int]:
    """The sub stream measured beside `video`: SUB, or half the main size when SUB does not
    fit in it (`--quick`'s 320x240)."""
    w, h, fps = SUB
    if w <= video.width and h <= video.height:
        return w, h, fps
    return video.width // 4 * 2, video.height // 4 * 2, fps


def _sub_config(path: Path, video: Any, port: int, subs: int) -> None:
    """A TOML file: one test-pattern camera at `video` on /a with `subs` sub streams."""
    w, h, fps = sub_size(video)
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
    from .servers import C_BASELINE, OURS_NATIVE_SHARED, OURS_SHARED, Video

    w, _, h = args.size.partition("x")
    video = Video(int(w), int(h), args.fps)
    clients = 4 if not args.quick else 2
    window = max(2.0, args.window / 2)
    loads: list[MemLoad] = []
    kinds = (C_BASELINE, OURS_SHARED, OURS_NATIVE_SHARED)  # ours with the default settings
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
    for kind, limit in (
        (OURS_SHARED, TARGETS["rss_numpy"]),
        (OURS_NATIVE_SHARED, TARGETS["rss_native"]),
    ):
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
    for kind in (OURS_SHARED, OURS_NATIVE_SHARED, C_BASELINE):
        idle = med(kind, 0)
        limit = TARGETS["idle_numpy_mb"] if kind == OURS_SHARED else None
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
        sw, sh, sfps = sub_size(video)
        steps = ", ".join(f"{n}: {m.rss:.1f}" for n, m in sorted(subs.items()))
        rows.append(
            report.Row(
                "memory",
                f"RSS of each extra {sw}x{sh}@{sfps} sub stream, ours {video.label} "
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
