"""`make bench`: every benchmark in one run, each figure a ratio against a baseline measured
in the same run (the machines are shared and noisy; absolute figures mean little here).

    python -m bench                      # everything (about 23 minutes), writes docs/benchmarks.md
    python -m bench --only cpu join      # some sections (the page keeps the other table)
    python -m bench --quick --no-write   # the tiny smoke version (what make test runs)

Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from . import measure, report  # noqa: E402
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

MAIN_SECTIONS = ("cpu", "join", "latency", "ceiling")  # the page's "Results" table
SECTIONS = (*MAIN_SECTIONS, "cameras", "webrtc")  # cameras, webrtc: a table each
DOC = ROOT / "docs" / "benchmarks.md"
FINDINGS = "## Findings"
CAMERAS_HEADING = "## Several cameras in one process"
WEBRTC_HEADING = "## WebRTC viewers"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--quick", action="store_true", help="tiny sizes and short windows (smoke)")
    p.add_argument("--size", default="1280x720", help="CPU section frame size (1280x720)")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4, 32])
    p.add_argument("--window", type=float, default=8.0, help="CPU window per point, seconds")
    p.add_argument("--rounds", type=int, default=2, help="CPU rounds (median is reported)")
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
        order = KINDS if r % 2 == 0 else tuple(reversed(KINDS))  # spread the drift
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
    from .webrtc import webrtc_rows

    video = video_of(args.webrtc_size, args.fps)
    progress(f"webrtc: {video.label}, Chromium and aiortc viewers over WHEP")
    return webrtc_rows(video, args.webrtc_latency, args.webrtc_window, args.webrtc_rounds,
                       args.webrtc_joins, progress)  # fmt: skip


SECTION_RUNNERS = {
    "cpu": cpu_section,
    "join": join_section,
    "latency": latency_section,
    "ceiling": ceiling_section,
    "cameras": cameras_section,
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


def _body(text: str, heading: str) -> str | None:
    """What follows `heading` in a page, up to the next heading of its level."""
    i = text.find(f"\n{heading}\n")
    if i < 0:
        return None
    start = i + len(heading) + 2
    end = text.find("\n## ", start)
    return text[start : end if end >= 0 else len(text)].strip("\n")


def old_parts(old: str) -> dict[str, str]:
    """The figures of a page written before, by part: the main run's command, date, machine
    and results table (`command`, `started`, `machine`, `results`), the cameras and webrtc
    sections' (`cameras`, `webrtc`) and the findings written by hand (`findings`, from its
    heading on)."""
    parts: dict[str, str] = {}
    m = re.search(r"Generated by `make bench` \(`([^`]*)`\) on ([^.]*)\.", old)
    if m:
        parts["command"], parts["started"] = m.group(1), m.group(2)
    for key, heading in (
        ("machine", "## Machine"),
        ("results", "## Results"),
        ("cameras", CAMERAS_HEADING),
        ("webrtc", WEBRTC_HEADING),
    ):
        body = _body(old, heading)
        if body:
            parts[key] = body
    if FINDINGS in old:
        parts["findings"] = old[old.index(FINDINGS) :]
    return parts


def write_doc(
    path: Path, rows: dict[str, list[report.Row]], argv: list[str], started: str, loads: str
) -> None:
    """Write the page: the text describing the benchmarks as this code runs them, the figures
    of the sections in `rows`, and, for the main table (cpu, join, latency, ceiling), the
    cameras or the webrtc table when none of its sections ran, the figures the page already
    had. The findings are kept as they are."""
    old = old_parts(path.read_text() if path.exists() else "")
    m = report.machine()
    command = " ".join(["python -m bench", *argv]).strip()
    if any(s in rows for s in MAIN_SECTIONS):
        main_rows = [r for s in MAIN_SECTIONS for r in rows.get(s, [])]
        results = report.markdown_table(main_rows)
        machine = f"""- CPU: {m["cpu"]}
- Memory: {m["memory"]}
- OS: {m["os"]}
- {m["gstreamer"]}, Python {m["python"]}
- Load average (1, 5, 15 min) at start / end: {loads}"""
        main_command, main_started = command, started
    else:
        results = old.get("results", "(not run yet)")
        machine = old.get("machine", "(not run yet)")
        main_command = old.get("command", "python -m bench --only cpu join latency ceiling")
        main_started = old.get("started", "(not run yet)")
    if "cameras" in rows:
        cameras = (
            f"Generated by `{command}` on {started}\n({m['cpu']}; load average (1, 5, 15 min) "
            f"at start / end: {loads}).\n\n{report.markdown_table(rows['cameras'])}"
        )
    else:
        cameras = old.get("cameras", "(not run yet: `python -m bench --only cameras`)")
    if "webrtc" in rows:
        webrtc = (
            f"Generated by `{command}` on {started}\n({m['cpu']}; load average (1, 5, 15 min) "
            f"at start / end: {loads}).\n\n{report.markdown_table(rows['webrtc'])}"
        )
    else:
        webrtc = old.get("webrtc", "(not run yet: `python -m bench --only webrtc`)")
    findings = old.get("findings", f"{FINDINGS}\n\n(none recorded)\n")
    text = f"""# Benchmarks

Generated by `make bench` (`{main_command}`) on {main_started}. The machines are shared and noisy,
so every figure is compared with a baseline measured in the same run, one server after the
other at the same size, rate and x264enc properties (tune=zerolatency speed-preset=superfast
bitrate=2000 key-int-max=fps bframes=0).

## Machine

{machine}

## Commands

- `make bench` (`.venv/bin/python -m bench`): everything, about 23 minutes, progress on stderr.
- `python -m bench --only cpu join latency ceiling cameras webrtc`, `--rounds`, `--window`,
  `--size`, `--clients`, `--cameras-rounds`, ...: see `python -m bench --help`. The page has
  three tables, the results of cpu, join, latency and ceiling, the cameras table and the
  webrtc table: a run rewrites the tables of the sections it ran and keeps the others as
  they were.
  `--quick --no-write`: a one-minute smoke run; `make test` runs a 30 s one
  (`tests/integration/test_bench_smoke.py`).
- The C baseline is built by the bench into `bench/c/build/` (ignored):
  `gcc -O2 -Wall -o bench/c/build/baseline_server bench/c/baseline_server.c
  $(pkg-config --cflags --libs gstreamer-rtsp-server-1.0)` (needs `gcc`, `pkg-config`,
  `libgstrtspserver-1.0-dev`: `make setup-dev`).

## What is measured

- **Servers**: `c-baseline` is `bench/c/baseline_server.c`, stock gst-rtsp-server with one
  shared media (`videotestsrc is-live=true pattern=ball ! I420 ! x264enc ! h264parse !
  rtph264pay`). `naive-appsrc` is `bench/naive_appsrc.py`: our test pattern (same NumPy
  frames as ours), `cv2.cvtColor` to I420 and `Gst.Buffer.new_wrapped(bytes)` into the appsrc
  of one stock shared media: the frame-path baseline on equal content. `ours-native` is
  `python -m camera_streaming --source 'gst:videotestsrc is-live=true pattern=ball'`: the C
  baseline's frames, no hook, so no Python per frame (docs/sources.md). `ours` is
  `--source test` (our NumPy pattern: the NumPy frame path without a hook); `ours+hook` adds
  `--hook examples/hook_draw_time.py:draw`. Each of the three also runs with
  `--fanout shared` (`.../shared`: one media for every client, docs/rtsp.md) beside the
  default per-client media.
- **Targets**: against C, frames that need no hook (`ours-native`) at most 1.05x
  and frames through the NumPy path (`ours`, `ours+hook`) at most 1.25x; 32 clients at most
  1.5x the CPU of 1 client, every client at full rate. The C server's own CPU hardly moves
  from 1 to 32 clients, so a "1.05x of C at 32 clients" would also demand a fan-out ratio of
  about 1.05 and leave the 1.5x fan-out target nothing to say: the frame-path targets are
  read at 1 client (where the frame path is all that differs) and the fan-out target judges
  the growth with clients. The 4- and 32-client ratios against C are printed and judged
  against the same limits anyway; their misses are the fan-out cost, explained below.
- **CPU, RSS, client FPS**: each server in turn gets 1, then 4, then 32 interleaved-TCP RTSP
  clients (one Python thread reading them all with `RtspProbe` sessions, counting RTP
  marker bits per client); after 2 s to settle, server CPU (user+system, % of one core),
  RSS and every client's frame rate over the window. Median over rounds; rounds alternate
  the server order.
- **Join**: a raw client measures PLAY -> first IDR NAL unit (`RtspProbe.play_until_idr`),
  as the only client after the server was idle, and as a late joiner while another client
  plays; p95 (nearest rank).
- **Latency**: a client decodes the stream and compares the capture time coded in the
  pattern with its own `time.monotonic()`; the first second is skipped; frames are pooled
  over two rounds that alternate the server order. Two clients, one
  after the other: GStreamer (`rtspsrc latency=0 protocols=tcp ! rtph264depay ! avdec_h264 !
  GRAY8 appsink`, in the bench process; the target applies to it) and ffmpeg (`-fflags
  nobuffer -flags low_delay`, gray rawvideo on a pipe), which holds about two frames more
  whatever the server (see the naive baseline's figure).
- **Ceiling**: test pattern -> `FrameProcessor` -> `H264Encoder` as fast as the encoder
  takes frames, against `videotestsrc pattern=ball ! I420 ! queue ! x264enc (same) !
  fakesink`, in one process, frames/s between the 10th and the last frame; best of N.
- **Cameras** (its own table, below the results): every server serves our test pattern with
  x264enc (same properties) and gets one interleaved-TCP client on each of its streams, so
  every encoder runs. `A` is `bench/cameras.py`: one process, 2 cameras built in Python
  (`Config.cameras`), each a main stream (1280x720@30, 2000 kbps) and a sub stream
  (640x360@10, 500 kbps as `--substream`) resized from its frames. `B1` and `B2` are two
  `camera-streaming --source test --width 1280 --height 720 --fps 30` processes side by side:
  the two main streams served the other way. `C` is one camera with main + sub
  (`bench/cameras.py`), side by side with `B3` (one more such single-stream process) and `S`
  (`bench/sub_encode.py`: the sub stream's own work alone: pattern frames drawn beforehand,
  `cv2.resize` INTER_AREA and `cv2.cvtColor` to I420 at 10 fps, an appsrc into x264enc at
  640x360@10 500 kbps, a fakesink). The three groups (A; B1 + B2; C + B3 + S) run one after
  the other, each alone on the machine, alternating the order by round; within a group every
  figure is taken over the same window. CPU: user+system seconds over the window; RSS, PSS
  and USS (psutil's `memory_full_info`, from /proc/PID/smaps) at its end; medians over
  rounds. PSS splits each shared page between the processes mapping it (B1 and B2 share
  their libraries' code), so PSS of B1 + B2 is what the two take together; USS is what a
  process holds alone. Targets: A's RSS at most 1.2x one single-stream process (the mean of
  B1 and B2); the sub stream's marginal CPU, C - B3 (side by side, so the machine's load
  hits both alike), at most 1.1x its own resize + encode S: the rest of what a sub stream
  costs (its share of the frames, the push into its encoder pipeline, the encoded access
  units through Python to its RTSP mount, payloading and sending) must stay small. A / (B1 +
  B2) in RSS, PSS, USS and CPU is shown, not judged.
- **WebRTC** (its own table, last): `bench/webrtc.py`. The CLI (`--source test`, HTTP on,
  1280x720@30, 2000 kbps) on loopback. Glass-to-glass: Debian's Chromium (Playwright) plays
  it with `playWebRTC` (web/webrtc/player_js.py) and, for each frame it is about to show
  (`requestVideoFrameCallback`), reads the pattern's capture-time code off a canvas and
  notes the frame's expected display time; capture time is the server's monotonic ms,
  mapped to wall time with the bench's own `time.time() - time.monotonic()`; the first
  second is skipped; target p50 <= 100 ms. CPU: the server's user+system CPU over the
  window with 16 WebRTC viewers against 1 (aiortc, `tests/support/whep_peer.py`, in
  another process: frames reassembled, none decoded), median over rounds that alternate the
  order; target at most 1.3x. Time to picture: POST of the offer to the first frame aiortc
  decodes, viewers one at a time on a warm server; target p95 <= 1 s.

## Results

{results}

{CAMERAS_HEADING}

{cameras}

{WEBRTC_HEADING}

{webrtc}

"""
    path.write_text(text + findings)


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
