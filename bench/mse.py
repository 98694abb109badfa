"""Browsers over MSE: glass-to-glass latency in Chromium over a long run, and the server's CPU
with 16 browser viewers against 1.

The server is the CLI (`ours+http`: `--source test`, x264enc as everywhere in the bench, its
HTTP port on loopback). Chromium is Debian's, driven by Playwright, headless, software
decoding (`--disable-gpu`), playing `/view/stream?mode=mse&latency=1`: the page reads the
capture time the test pattern codes into every frame it shows (in `requestVideoFrameCallback`,
at the frame's expected display time) and the bench turns it into latency with the offset
between the wall and monotonic clocks of this machine.

The 16 viewers are that one Chromium page and 15 plain WebSocket clients (Tornado's, in one
other process, counting fragments per second): 16 Chromium pages decoding 720p30 in software
would need more than the machine's two cores, and a viewer's cost to the server does not
depend on who reads the socket.

    python -m bench.mse clients URL N SETTLE WINDOW   # the WebSocket clients (the bench runs it)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from camera_streaming.testing.browser import CHROMIUM_ARGS, chromium_path

from .report import Row, verdict
from .servers import OURS_HTTP, ROOT, Server, Video

Progress = Callable[[str], None]
PLAYER = """() => { const p = window.__player;
  return Object.assign({}, p, {latency: p.latency.splice(0)}); }"""
PLAYING = "window.__player && window.__player.state === 'playing' && window.__player.frames > 0"


@dataclass(frozen=True)
class LatencyRun:
    """One long MSE run: latency samples (ms) of the first and the last window, and what the
    player reported."""

    video: Video
    seconds: float
    window_s: float
    first_ms: list[float]
    last_ms: list[float]
    fps: float  # frames the page decoded per second over the run
    buffered_max_s: float  # the SourceBuffer's span, its largest over the run
    buffered_end_s: float  # ... and at the end
    reconnects: int
    live_seeks: int
    rate_changes: int
    stalls: int  # times the playhead ran out of data while playing
    windows: list[tuple[float, float]]  # (p50, p95) of every window in turn


@dataclass(frozen=True)
class ViewersCpu:
    """The server's CPU with `viewers` viewers (1 Chromium page + the rest WebSocket clients)
    over one window, and the slowest viewer's rate."""

    viewers: int
    cpu_pct: float  # of one core
    fps_min: float  # the slowest viewer
    browser_fps: float  # frames the Chromium page decoded a second
    socket_fps_min: float | None  # the slowest WebSocket client's fragments a second


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def latencies(samples: list[list[float]], offset_ms: float) -> list[tuple[float, float]]:
    """(wall time shown in s, glass-to-glass ms) per sample [index, capture ms (monotonic,
    mod 2^32), shown (ms since the epoch), Date.now()]."""
    out = []
    for _index, captured, shown, _now in samples:
        delta = (shown - offset_ms - captured) % 2**32
        out.append((shown / 1000, delta - 2**32 if delta > 2**31 else delta))
    return out


class _Browser:
    """Chromium with one page on the server's /view/stream; closed on exit."""

    def __init__(self, server: Server) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(
                executable_path=chromium_path(),
                args=CHROMIUM_ARGS,
            )
            self.page = self.browser.new_page()
            self.page.goto(f"http://127.0.0.1:{server.http_port}/view/stream?mode=mse&latency=1")
            self.page.wait_for_function(PLAYING, timeout=30_000)
        except BaseException:
            self._pw.stop()
            raise

    def player(self) -> dict[str, Any]:
        """The player's report; its latency samples are taken out (each read once)."""
        return dict(self.page.evaluate(PLAYER))

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._pw.stop()


def latency_run(video: Video, minutes: float, progress: Progress) -> LatencyRun:
    """Play for `minutes`; the first and the last window (a minute, or half a short run)."""
    seconds = minutes * 60
    window = min(60.0, seconds / 2)
    with Server(OURS_HTTP, video, on_crash=progress) as server:
        browser = _Browser(server)
        try:
            time.sleep(2)  # past the start
            offset = (time.time() - time.monotonic()) * 1000
            p0 = browser.player()
            t0 = time.time()
            samples: list[tuple[float, float]] = []
            buffered_max = 0.0
            next_report = t0 + window
            while True:
                now = time.time()
                if now >= t0 + seconds:
                    break
                time.sleep(min(5.0, t0 + seconds - now))
                p = browser.player()
                new = latencies(p["latency"], offset)
                samples += new
                buffered_max = max(buffered_max, p["buffered"])
                if time.time() >= next_report and new:
                    ms = [x[1] for x in samples if x[0] >= next_report - window]
                    progress(
                        f"MSE {time.time() - t0:5.0f} s: p50 {statistics.median(ms):.0f} ms, "
                        f"p95 {percentile(ms, 95):.0f} ms, buffered {p['buffered']:.1f} s, "
                        f"{p['frames']} frames"
                    )
                    next_report += window
            elapsed = time.time() - t0
        finally:
            browser.close()
    first = [ms for t, ms in samples if t < t0 + window]
    last = [ms for t, ms in samples if t >= t0 + seconds - window]
    windows = []
    for k in range(max(1, round(seconds / window))):
        ms = [x for t, x in samples if t0 + k * window <= t < t0 + (k + 1) * window]
        if ms:
            windows.append((statistics.median(ms), percentile(ms, 95)))
    return LatencyRun(
        video, elapsed, window, first, last, (p["frames"] - p0["frames"]) / elapsed,
        buffered_max, p["buffered"], p["reconnects"], p["liveSeeks"], p["rateChanges"],
        p["stalls"], windows,
    )  # fmt: skip


def viewers_cpu(
    video: Video, counts: tuple[int, ...], window_s: float, rounds: int, progress: Progress
) -> list[ViewersCpu]:
    """One server and one Chromium page; for each count in turn (the order alternating by
    round) count - 1 WebSocket clients join; after a settle, the server's CPU and every
    viewer's rate over `window_s`."""
    settle = 3.0
    out: list[ViewersCpu] = []
    with Server(OURS_HTTP, video, on_crash=progress) as server:
        browser = _Browser(server)
        try:
            for r in range(rounds):
                for n in counts if r % 2 == 0 else tuple(reversed(counts)):
                    clients = start_clients(server.http_port, n - 1, settle, window_s)
                    time.sleep(settle)
                    f0, cpu0, t0 = browser.player()["frames"], server.cpu_seconds(), time.time()
                    time.sleep(window_s)
                    f1, cpu1, t1 = browser.player()["frames"], server.cpu_seconds(), time.time()
                    rates = finish_clients(clients)
                    bfps = (f1 - f0) / (t1 - t0)
                    x = ViewersCpu(
                        n, 100 * (cpu1 - cpu0) / (t1 - t0), min([bfps, *rates]), bfps,
                        min(rates) if rates else None,
                    )  # fmt: skip
                    progress(
                        f"MSE CPU round {r + 1}/{rounds}, {n} viewer(s): {x.cpu_pct:.1f} % of a "
                        f"core, Chromium {bfps:.1f} fps, slowest WebSocket client "
                        f"{x.socket_fps_min or 0:.1f} fps"
                    )
                    out.append(x)
        finally:
            browser.close()
    return out


def start_clients(port: int, n: int, settle: float, window: float) -> subprocess.Popen | None:
    if n <= 0:
        return None
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    url = f"ws://127.0.0.1:{port}/stream/ws"
    cmd = [sys.executable, "-m", "bench.mse", "clients", url, str(n), str(settle), str(window)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, cwd=ROOT)


def finish_clients(proc: subprocess.Popen | None) -> list[float]:
    """Each client's fragments a second over the window."""
    if proc is None:
        return []
    out, _ = proc.communicate(timeout=60)
    return list(json.loads(out))


# -- the table ------------------------------------------------------------------------------
P50_TARGET_MS = 150.0
P95_DRIFT_MS = 100.0  # the last minute's p95 at most this above the first's
BUFFERED_MAX_S = 10.0
CPU_TARGET = 1.3  # 16 viewers / 1
RATE_SHARE = 0.95  # every viewer at this share of the frame rate or more


def _span(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def rows(run: LatencyRun | None, cpu: list[ViewersCpu], video: Video) -> list[Row]:
    out: list[Row] = []
    if run is not None:
        v, w = run.video.label, _span(run.window_s)
        p50, p95 = statistics.median(run.first_ms), percentile(run.first_ms, 95)
        l50, l95 = statistics.median(run.last_ms), percentile(run.last_ms, 95)
        last = f"last {w} of {_span(run.seconds)}"
        out += [
            Row("mse", f"glass-to-glass p50, first {w}, {v}, Chromium", f"{p50:.0f} ms", "",
                None, f"<= {P50_TARGET_MS:.0f} ms", verdict(p50 <= P50_TARGET_MS)),
            Row("mse", f"glass-to-glass p95, first {w}", f"{p95:.0f} ms", "", None, "", ""),
            Row("mse", f"glass-to-glass p50 / p95, {last}", f"{l50:.0f} / {l95:.0f} ms", "",
                None, "", ""),
            Row("mse", f"p95 drift, {last} vs first {w}", f"{l95 - p95:+.0f} ms", "", None,
                f"<= +{P95_DRIFT_MS:.0f} ms", verdict(l95 - p95 <= P95_DRIFT_MS)),
            Row("mse", "SourceBuffer span, largest / at the end",
                f"{run.buffered_max_s:.1f} / {run.buffered_end_s:.1f} s", "", None,
                f"<= {BUFFERED_MAX_S:.0f} s", verdict(run.buffered_max_s <= BUFFERED_MAX_S)),
            Row("mse", f"frames decoded by the page over {_span(run.seconds)}",
                f"{run.fps:.1f} fps", f"{run.video.fps} fps", run.fps / run.video.fps, "", ""),
            Row("mse", f"p50 / p95 of every {w} in turn, ms",
                ", ".join(f"{a:.0f}/{b:.0f}" for a, b in run.windows), "", None, "", ""),
            Row("mse", "reconnects / live-edge seeks / playback-rate changes / stalls",
                f"{run.reconnects} / {run.live_seeks} / {run.rate_changes} / {run.stalls}", "",
                None, "", ""),
        ]  # fmt: skip
    counts = sorted({x.viewers for x in cpu})
    if len(counts) >= 2:
        one, many = counts[0], counts[-1]
        c1 = statistics.median(x.cpu_pct for x in cpu if x.viewers == one)
        cn = statistics.median(x.cpu_pct for x in cpu if x.viewers == many)
        page = min(x.browser_fps for x in cpu)
        sockets = [x.socket_fps_min for x in cpu if x.socket_fps_min is not None]
        ratio = cn / c1 if c1 > 0 else None
        what = f"1 Chromium + {many - 1} WebSocket clients" if many > 1 else "Chromium"
        out += [
            Row("mse", f"server CPU, {many} viewers ({what}) / {one}, {video.label}",
                f"{cn:.1f} %", f"{c1:.1f} %", ratio, f"<= {CPU_TARGET}",
                verdict(ratio is not None and ratio <= CPU_TARGET)),
            Row("mse", "Chromium: frames decoded, slowest window", f"{page:.1f} fps",
                f"{video.fps} fps", page / video.fps, f">= {RATE_SHARE:.2f}",
                verdict(page >= RATE_SHARE * video.fps)),
        ]  # fmt: skip
        if sockets:
            slowest = min(sockets)
            out.append(
                Row("mse", "WebSocket clients: fragments received, slowest client and window",
                    f"{slowest:.1f} /s", f"{video.fps} /s", slowest / video.fps,
                    f">= {RATE_SHARE:.2f}", verdict(slowest >= RATE_SHARE * video.fps))
            )  # fmt: skip
    return out


# -- the WebSocket clients' process ------------------------------------------------------------
async def _clients(url: str, n: int, settle: float, window: float) -> list[float]:
    import tornado.websocket

    counts = [0] * n
    counting = False

    async def one(i: int) -> None:
        conn = await tornado.websocket.websocket_connect(url)
        try:
            while True:
                msg = await conn.read_message()
                if msg is None:
                    return
                if counting and isinstance(msg, bytes):
                    counts[i] += 1
        finally:
            conn.close()

    tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
    await asyncio.sleep(settle)
    counting = True
    start = time.monotonic()
    await asyncio.sleep(window)
    counting = False
    seconds = time.monotonic() - start
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return [c / seconds for c in counts]


def main(argv: list[str]) -> int:
    if len(argv) != 5 or argv[0] != "clients":
        print(__doc__, file=sys.stderr)
        return 2
    url, n, settle, window = argv[1], int(argv[2]), float(argv[3]), float(argv[4])
    print(json.dumps(asyncio.run(_clients(url, n, settle, window))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
