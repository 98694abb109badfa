"""`make bench`: every benchmark in one run, each figure a ratio against a baseline measured
in the same run (the machines are shared and noisy; absolute figures mean little here).

    python -m bench                      # everything (about 45 minutes), writes docs/benchmarks.md
    python -m bench --only cpu join      # some sections (the page keeps the other tables)
    python -m bench --only mse --mse-minutes 2   # browsers over MSE, a shorter latency run
    python -m bench --quick --no-write   # the tiny smoke version (what make test runs)

Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from . import measure, report  # noqa: E402
from .doc import DOC, MAIN_SECTIONS, OWN_TABLES, write_doc  # noqa: E402
from .memory import memory_section  # noqa: E402
from .servers import (  # noqa: E402
    C_BASELINE,
    CRASHES,
    KINDS,
    NAIVE_APPSRC,
    OURS,
    OURS_CAMERAS,
    OURS_NATIVE,
    OURS_NATIVE_SHARED,
    SUB_ENCODE,
    Layout,
    Video,
)

SECTIONS = (*MAIN_SECTIONS, *OWN_TABLES)  # cameras, mse: each its own table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--quick", action="store_true", help="tiny sizes and short windows (smoke)")
    p.add_argument("--size", default="1280x720", help="CPU section frame size (1280x720)")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4, 32])
    p.add_argument("--window", type=float, default=8.0, help="CPU window per point, seconds")
    p.add_argument("--rounds", type=int, default=4, help="CPU rounds (median is reported)")
    p.add_argument(
        "--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="CPU: the servers to run"
    )
    p.add_argument("--join-tries", type=int, default=20)
    p.add_argument("--latency-sizes", nargs="+", default=["1280x720", "1920x1080"])
    p.add_argument("--latency-seconds", type=float, default=8.0)
    p.add_argument("--latency-rounds", type=int, default=2, help="samples pooled over rounds")
    p.add_argument("--ceiling-size", default="1920x1080")
    p.add_argument("--ceiling-frames", type=int, default=240)
    p.add_argument("--ceiling-rounds", type=int, default=3, help="best of N for each side")
    p.add_argument("--cameras-size", default="1280x720", help="cameras: main stream size")
    p.add_argument("--cameras-sub", default="640x360@10", help="cameras: sub stream size@fps")
    p.add_argument("--cameras-window", type=float, default=15.0, help="cameras: seconds")
    p.add_argument("--cameras-rounds", type=int, default=5, help="cameras: median over N")
    p.add_argument("--mse-size", default="1280x720", help="mse: frame size (1280x720)")
    p.add_argument("--mse-minutes", type=float, default=10.0, help="mse: latency run, minutes")
    p.add_argument("--mse-viewers", type=int, default=16, help="mse: viewers against 1")
    p.add_argument("--mse-window", type=float, default=20.0, help="mse: CPU window, seconds")
    p.add_argument("--mse-rounds", type=int, default=2, help="mse: CPU rounds (median)")
    p.add_argument("--webrtc-size", default="1280x720", help="webrtc: stream size")
    p.add_argument("--webrtc-latency", type=float, default=15.0, help="webrtc: seconds of frames")
    p.add_argument("--webrtc-window", type=float, default=10.0, help="webrtc: CPU window, s")
    p.add_argument("--webrtc-rounds", type=int, default=3, help="webrtc: CPU rounds (median)")
    p.add_argument("--webrtc-joins", type=int, default=20, help="webrtc: viewers timed to picture")
    p.add_argument("--out", type=Path, default=DOC, help="the docs page to write")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.clients, args.window, args.rounds = "320x240", [1, 2], 1.5, 1
        args.join_tries, args.latency_sizes, args.latency_seconds = 2, ["320x240"], 1.5
        args.latency_rounds = 1
        args.ceiling_size, args.ceiling_frames, args.ceiling_rounds = "320x240", 30, 1
        args.cameras_size, args.cameras_sub = "320x240", "160x120@10"
        args.cameras_window, args.cameras_rounds = 1.0, 1
        args.mse_size, args.mse_minutes, args.mse_viewers = "320x240", 0.2, 2
        args.mse_window, args.mse_rounds = 2.0, 1
        args.webrtc_size, args.webrtc_latency, args.webrtc_window = "320x240", 2.0, 1.5
        args.webrtc_rounds, args.webrtc_joins = 1, 3
    args.cameras_settle = 0.5 if args.quick else 2.0
    return args


def video_of(size: str, fps: int) -> Video:
    w, _, h = size.partition("x")
    return Video(int(w), int(h), fps)


class Progress:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f} s] {text}", file=sys.stderr, flush=True)


def cpu_section(args: argparse.Namespace, progress: Progress) -> list[report.Row]:
    video = video_of(args.size, args.fps)
    counts = tuple(args.clients)
    loads: list[measure.Load] = []
    for r in range(args.rounds):
        progress(f"CPU round {r + 1}/{args.rounds}: {video.label}, clients {counts}")
        kinds = tuple(k for k in KINDS if k in args.kinds)
        order = kinds if r % 2 == 0 else tuple(reversed(kinds))  # spread the drift
        for kind in order:
            loads += measure.fanout(kind, video, counts, args.window, progress=progress)
    return report.fanout_rows(loads, video)


def join_section(args: argparse.Namespace, progress: Progress) -> list[report.Row]:
    video = video_of(args.size, args.fps)
    progress(f"join time: {args.join_tries} tries each, {video.label}")
    joins = {
        kind: measure.join_times(kind, video, args.join_tries, progress=progress)
        for kind in (C_BASELINE, OURS, OURS_NATIVE, OURS_NATIVE_SHARED)
    }
    return report.join_rows(joins)


def latency_section(args: argparse.Namespace, progress: Progress) -> list[report.Row]:
    pooled: dict[tuple[str, str, str], measure.Latency] = {}
    for r in range(args.latency_rounds):
        for size in args.latency_sizes:
            video = video_of(size, args.fps)
            progress(
                f"glass-to-glass latency {r + 1}/{args.latency_rounds}: {video.label}, "
                f"{args.latency_seconds:.0f} s per client"
            )
            order = (NAIVE_APPSRC, OURS) if r % 2 == 0 else (OURS, NAIVE_APPSRC)
            for kind in order:
                for x in measure.latency(kind, video, args.latency_seconds, progress):
                    key = (x.kind, x.video.label, x.client)
                    old = pooled.get(key)
                    samples = (old.samples_ms if old else []) + x.samples_ms
                    pooled[key] = measure.Latency(x.kind, x.video, x.client, samples)
    return report.latency_rows(list(pooled.values()))


def ceiling_section(args: argparse.Namespace, progress: Progress) -> list[report.Row]:
    from camera_streaming.config import VideoConfig

    from .ceiling import frame_path_fps, raw_encoder_fps

    v = video_of(args.ceiling_size, args.fps)
    cfg = VideoConfig(width=v.width, height=v.height, fps=v.fps, bitrate_kbps=v.bitrate_kbps)
    ours, raw = [], []
    for r in range(args.ceiling_rounds):
        raw.append(raw_encoder_fps(cfg, args.ceiling_frames))
        ours.append(frame_path_fps(cfg, args.ceiling_frames))
        progress(
            f"ceiling {r + 1}/{args.ceiling_rounds} {v.width}x{v.height}: raw "
            f"{raw[-1]:.1f} fps, frame path {ours[-1]:.1f} fps"
        )
    return report.ceiling_rows(f"{v.width}x{v.height}", ours, raw)


def cameras_section(args: argparse.Namespace, progress: Progress) -> list[report.Row]:
    """A: 2 cameras x (main + sub) in one process; B1 + B2: two single-stream processes side
    by side; C: one camera with main + sub beside B3 (one more single-stream process) and S
    (the sub stream's resize + encode alone). Each group alone on the machine, one after the
    other; one client on every stream."""
    from camera_streaming.config.model import SUBSTREAM_BITRATE_KBPS

    from .measure import Setup
    from .report import B1, B2, B3, A, C, S

    main_video = video_of(args.cameras_size, args.fps)
    size, _, rate = args.cameras_sub.partition("@")
    sub_size = video_of(size, int(rate) if rate else args.fps)
    sub = Video(sub_size.width, sub_size.height, sub_size.fps, SUBSTREAM_BITRATE_KBPS)
    groups = (
        [Setup(A, OURS_CAMERAS, main_video, Layout(2, sub))],
        [Setup(B1, OURS, main_video), Setup(B2, OURS, main_video)],
        [
            Setup(C, OURS_CAMERAS, main_video, Layout(1, sub)),
            Setup(B3, OURS, main_video),
            Setup(S, SUB_ENCODE, main_video, Layout(1, sub)),
        ],
    )
    rounds = []
    for r in range(args.cameras_rounds):
        progress(
            f"cameras round {r + 1}/{args.cameras_rounds}: main {main_video.label}, "
            f"sub {sub.label}, {args.cameras_window:g} s window"
        )
        got: list[measure.Footprint] = []
        for group in groups if r % 2 == 0 else reversed(groups):  # spread the drift
            got += measure.footprints(group, args.cameras_window, args.cameras_settle, progress)
        rounds.append(got)
    return report.cameras_rows(rounds, args.cameras_window, main_video, sub)


def webrtc_section(args: argparse.Namespace, progress: Progress) -> list[report.Row]:
    """Chromium's glass-to-glass latency over WHEP, 16 viewers' CPU against 1, time to picture
    (bench/webrtc.py)."""
    from .webrtc import webrtc_rows

    video = video_of(args.webrtc_size, args.fps)
    progress(f"webrtc: {video.label}, Chromium and aiortc viewers over WHEP")
    return webrtc_rows(video, args.webrtc_latency, args.webrtc_window, args.webrtc_rounds,
                       args.webrtc_joins, progress)  # fmt: skip


def mse_section(args: argparse.Namespace, progress: Progress) -> list[report.Row]:
    """Chromium's glass-to-glass latency over MSE for `--mse-minutes`, then the server's CPU
    with 1 and `--mse-viewers` viewers (bench/mse.py)."""
    from . import mse

    video = video_of(args.mse_size, args.fps)
    progress(f"MSE latency in Chromium: {video.label}, {args.mse_minutes:g} min")
    run = mse.latency_run(video, args.mse_minutes, progress)
    counts = (1, args.mse_viewers)
    cpu = mse.viewers_cpu(video, counts, args.mse_window, args.mse_rounds, progress)
    return mse.rows(run, cpu, video)


SECTION_RUNNERS = {
    "cpu": cpu_section,
    "join": join_section,
    "latency": latency_section,
    "ceiling": ceiling_section,
    "memory": memory_section,
    "cameras": cameras_section,
    "mse": mse_section,
    "webrtc": webrtc_section,
}


def run(args: argparse.Namespace, progress: Progress) -> dict[str, list[report.Row]]:
    """Every selected section's rows, by section; one that fails is reported as an error row,
    the rest go on. A server that crashed is reported in the section that ran it."""
    rows: dict[str, list[report.Row]] = {}
    for section in SECTIONS:
        if section not in args.only:
            continue
        crashes = len(CRASHES)
        out = rows[section] = []
        try:
            out += SECTION_RUNNERS[section](args, progress)
        except Exception as exc:  # a benchmark that breaks must not lose the others' figures
            progress(f"{section} failed: {exc!r}")
            out.append(report.Row(section, f"failed: {exc!r}"[:120], "", "", None, "", "ERROR"))
        for kind, note in CRASHES[crashes:]:  # the figures were taken before SIGTERM came
            out.append(report.Row("crash", f"{kind} server {note}", "", "", None, "none", "CRASH"))
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    progress = Progress()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load0 = os.getloadavg()
    progress(f"bench: sections {', '.join(args.only)}; load average {load0[0]:.2f}")
    rows = run(args, progress)
    load1 = os.getloadavg()
    loads = " / ".join(" ".join(f"{x:.2f}" for x in avg) for avg in (load0, load1))
    flat = [r for section in rows.values() for r in section]
    print(report.text_table(flat))
    missed = [r for r in flat if r.verdict == "MISSED"]
    print(f"\n{len(flat)} figures, {len(missed)} targets missed; load average {loads}")
    if not args.no_write:
        write_doc(args.out, rows, argv, started, loads)
        progress(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
