"""Soak run: the real server (CLI in a subprocess) under a churning client population.

    python bench/soak.py --sessions 10000                       # growth over sessions
    python bench/soak.py --minutes 120 --width 1920 --height 1080 --interval 2   # slope
    python bench/soak.py --sessions 1000 --leaks-tracer         # live GStreamer objects at exit

Prints progress, a report with PASS/FAIL against the targets, writes a CSV and a PNG.
Exit code 0 when every verdict passes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from bench.servers import free_port  # noqa: E402
from camera_streaming.config import FANOUTS  # noqa: E402
from camera_streaming.testing.clients import MIX, RAW_MIX  # noqa: E402
from camera_streaming.testing.soak import (  # noqa: E402
    Churn,
    Sampler,
    ServerProcess,
    idle_medias,
    settled_threads,
    wait_idle,
)
from camera_streaming.testing.soak_report import Verdict, growth_report, plot  # noqa: E402


def start_watchers(url: str, n: int) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                "ffmpeg",
                "-v",
                "quiet",
                "-rtsp_transport",
                "tcp",
                "-i",
                url,
                "-c",
                "copy",
                "-f",
                "null",
                "-",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]


def leaked_objects(stderr_lines: list[str]) -> list[str]:
    """Records of the leaks tracer for objects alive at `Gst.deinit()` (not its format line)."""
    return [
        ln
        for ln in stderr_lines
        if "object-alive, type-name=(string)" in ln and "(string)%s" not in ln
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--minutes", type=float, default=0, help="run for time instead of sessions")
    ap.add_argument(
        "--warmup",
        type=float,
        default=0,
        help="warm-up sessions (default 10%% of --sessions, or 10 min of a timed run)",
    )
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--watchers", type=int, default=2, help="ffmpeg clients watching throughout")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--interval", type=float, default=0, help="pause per worker between sessions")
    ap.add_argument("--mix", choices=["all", "raw"], default="all")
    ap.add_argument("--session-timeout", type=int, default=5)
    ap.add_argument("--sample-interval", type=float, default=5)
    ap.add_argument("--max-growth-mb", type=float, default=2.0)
    ap.add_argument("--max-slope-mb-h", type=float, default=0.1)
    ap.add_argument(
        "--leaks-tracer",
        action="store_true",
        help="run the server under GStreamer's leaks tracer and count live objects",
    )
    ap.add_argument("--out", default="out/soak", help="prefix for the CSV and PNG")
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the server (e.g. MALLOC_ARENA_MAX=16)",
    )
    ap.add_argument("--fanout", choices=FANOUTS, default="per-client", help="the server's --fanout")
    a = ap.parse_args()

    timed = a.minutes > 0
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    env = {}
    if a.leaks_tracer:
        env = {
            "GST_TRACERS": 'leaks(filters="GstPipeline,GstElement,GstPad,GstBuffer,GstCaps")',
            "GST_DEBUG": "GST_TRACER:7",
        }
    env.update(kv.split("=", 1) for kv in a.env)
    port = free_port()
    server = ServerProcess(
        port, a.width, a.height, a.fps, a.session_timeout, extra_env=env,
        extra_args=("--fanout", a.fanout),
    )  # fmt: skip
    time.sleep(1.5)  # first stats line
    watchers = start_watchers(server.url, a.watchers)
    churn = Churn(server.url, list(MIX) if a.mix == "all" else RAW_MIX, a.concurrency, a.interval)
    sampler = Sampler(server.figures, churn, a.sample_interval, f"{a.out}.csv", rss=server.rss_mb)
    t_start = time.monotonic()

    def progress(row: dict) -> None:
        print(
            f"[{row['t_s']:7.0f}s] sessions={row['sessions_done']:6d} "
            f"rss={row['rss_mb']:7.2f}MB heap={row['heap_mb']:6.2f}MB fds={row['fds']} "
            f"threads={row['threads']} rtsp_sessions={row['rtsp_sessions']:.0f} "
            f"errors={row['errors']}",
            file=sys.stderr,
            flush=True,
        )

    orig_sample = sampler.sample

    def sample_and_show() -> dict:
        row = orig_sample()
        progress(row)
        return row

    sampler.sample = sample_and_show  # type: ignore[method-assign]
    sampler.start()
    try:
        time.sleep(3)  # watchers connect
        if timed:
            warm_s = a.warmup * 60 if a.warmup else min(600.0, a.minutes * 60 / 6)
            churn.run(10**9, deadline=time.monotonic() + warm_s)
        else:
            churn.run(int(a.warmup or max(50, a.sessions // 10)))
        wait_idle(server.figures, a.watchers, a.session_timeout + 20, a.fanout)
        names_before = settled_threads(server.proc.pid)
        baseline = sampler.sample()
        warmup_done = churn.done
        if timed:
            churn.run(10**9, deadline=t_start + a.minutes * 60)
        else:
            churn.run(a.sessions - warmup_done)
        wait_idle(server.figures, a.watchers, a.session_timeout + 20, a.fanout)
        names_after = settled_threads(server.proc.pid)
        final = sampler.sample()
        for w in watchers:
            w.kill()
            w.wait()
        idle = wait_idle(server.figures, 0, a.session_timeout + 20, a.fanout)
        time.sleep(2)
        end = sampler.sample()
    finally:
        sampler.stop()
        for w in watchers:
            if w.poll() is None:
                w.kill()
        code = server.stop()

    rows = [r for r in sampler.rows if r["t_s"] >= baseline["t_s"] and r["t_s"] <= final["t_s"]]
    g = growth_report(rows, warmup_done)
    verdicts = [
        Verdict("fds after churn minus warm-up", final["fds"] - baseline["fds"], 0, "fds"),
        Verdict(
            "threads after churn minus warm-up",
            final["threads"] - baseline["threads"],
            0,
            "threads",
        ),
        Verdict("RTSP sessions when idle", idle["rtsp_sessions"], 0, "sessions"),
        Verdict(
            "client medias when idle (shared: the anchored one)",
            idle["medias"] - idle_medias(a.fanout, 0),
            0,
            "medias",
        ),
        Verdict(
            "connected minus closed when idle", end["connected"] - end["closed"], 0, "connections"
        ),
        Verdict("server exit code", code, 0, ""),
    ]
    if timed:
        verdicts.append(
            Verdict(  # Theil-Sen: a bounded transient (a pool that grew for 30 s) is no trend
                "RSS slope after warm-up (median of pairwise slopes)",
                g["rss_mb"]["mb_per_hour_median"],
                a.max_slope_mb_h,
                "MB/hour",
            )
        )
    else:
        verdicts.append(
            Verdict(
                "RSS growth after warm-up",
                final["rss_mb"] - baseline["rss_mb"],
                a.max_growth_mb,
                "MB",
            )
        )
    if a.leaks_tracer:
        leaks = leaked_objects(server.stderr_tail)
        verdicts.append(Verdict("live GStreamer objects at exit", len(leaks), 0, "objects"))
    minutes = (time.monotonic() - t_start) / 60
    print(
        f"\nsoak: {churn.done} sessions in {minutes:.1f} min, {len(churn.errors)} client "
        f"errors; mix: {churn.by_kind}"
    )
    print(
        f"warm-up at {warmup_done} sessions: rss={baseline['rss_mb']:.2f}MB "
        f"heap={baseline['heap_mb']:.2f}MB fds={baseline['fds']} threads={baseline['threads']}"
    )
    print(
        f"after churn: rss={final['rss_mb']:.2f}MB heap={final['heap_mb']:.2f}MB "
        f"fds={final['fds']} threads={final['threads']}"
    )
    for key in ("rss_mb", "heap_mb"):
        r = g[key]
        print(
            f"{key}: {r['start']:.2f} -> {r['end']:.2f} MB ({r['delta_mb']:+.2f} MB), "
            f"slope {r['kb_per_session']:.3f} KB/session, {r['mb_per_hour']:.3f} MB/hour "
            f"(least squares; median of pairwise slopes: {r['mb_per_hour_median']:.3f})"
        )
    if names_after != names_before:
        more, fewer = names_after - names_before, names_before - names_after
        print(f"threads by name, after churn minus warm-up: +{dict(more)} -{dict(fewer)}")
    for err in churn.errors[:10]:
        print(f"client error: {err}")
    for v in verdicts:
        print(v.line())
    if plot(
        sampler.rows,
        f"{a.out}.png",
        f"soak: {churn.done} sessions, {minutes:.0f} min, {a.width}x{a.height}@{a.fps}",
    ):
        print(f"plot: {a.out}.png")
    print(f"csv: {a.out}.csv")
    return 0 if all(v.ok for v in verdicts) else 1


if __name__ == "__main__":
    os.environ.setdefault("GST_DEBUG", "1")
    raise SystemExit(main())
