"""The `webrtc` section: camera-streaming (the CLI, `--source test`, HTTP on) to WebRTC viewers
over WHEP, on loopback.

- Glass-to-glass in Chromium: a page runs playWebRTC and, for every frame it is about to
  show (requestVideoFrameCallback), reads the test pattern's capture-time code from a canvas
  (the cells of sources/pattern.py) and notes the frame's expected display time. Capture
  time is the server's monotonic ms; the bench maps it to wall time with its own
  time.time() - time.monotonic() (one machine, one monotonic clock). Target p50 <= 100 ms.
- CPU: the server's user+system CPU with 16 WebRTC viewers against 1 (aiortc peers in
  another process that reassemble frames but decode none, so two cores can hold them).
  Target at most 1.3x.
- Time to picture: POST of the offer to the first frame decoded by aiortc, one viewer at a
  time on a warm server. Target p95 <= 1 s.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Any, Callable

from camera_streaming.testing.browser import chromium, serve_page

from .measure import p95
from .report import Row, verdict
from .servers import OURS_HTTP, ROOT, Server, Video

PEER = ROOT / "tests" / "support" / "whep_peer.py"  # the tests' aiortc WHEP client
LATENCY_TARGET_MS = 100.0
CPU_TARGET = 1.3
FIRST_FRAME_TARGET_S = 1.0
Progress = Callable[[str], None]

# Reads sources/pattern.py's code (row 1: capture time, monotonic ms mod 2**32) from each
# frame the video element is about to show, with the frame's expected display time.
LATENCY_PAGE_JS = r"""
window.samples = [];
window.startLatency = (video) => {
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  const onFrame = (now, meta) => {
    const w = video.videoWidth, h = video.videoHeight;
    const cell = Math.max(2, Math.min(Math.floor(w / 36), Math.floor(h / 8)));
    canvas.width = 32 * cell; canvas.height = 2 * cell;
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height, 0, 0, canvas.width, canvas.height);
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const half = Math.max(1, Math.floor(cell / 4));
    let value = 0, ok = true;
    for (let bit = 0; bit < 32 && ok; bit++) {
      const cx = bit * cell + Math.floor(cell / 2), cy = cell + Math.floor(cell / 2);
      let sum = 0, n = 0;
      for (let y = cy - half + 1; y < cy + half; y++) {
        for (let x = cx - half + 1; x < cx + half; x++) {
          sum += px[(y * canvas.width + x) * 4 + 1]; n++;
        }
      }
      const v = sum / n;
      if (v > 60 && v < 195) ok = false;
      value = value * 2 + (v >= 128 ? 1 : 0);
    }
    if (ok) window.samples.push([performance.timeOrigin + meta.expectedDisplayTime, value]);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
};
"""


class WebRtcServer(Server):
    """The CLI with its HTTP port on loopback (`servers.OURS_HTTP`), ready once /api/status
    answers."""

    def __init__(self, video: Video) -> None:
        super().__init__(OURS_HTTP, video)
        self.http = self.http_port

    def wait_ready(self, timeout: float = 30) -> None:
        super().wait_ready(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.status()
                return
            except OSError:
                if time.monotonic() >= deadline:
                    raise RuntimeError("the server's HTTP side did not answer") from None
                time.sleep(0.2)

    def whep_url(self, path: str = "/stream") -> str:
        return f"http://127.0.0.1:{self.http}{path}/whep"

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/api/status", timeout=5) as r:
            return dict(json.load(r))

    def viewers(self) -> int:
        return int(self.status()["stats"]["cameras"][0]["streams"][0]["webrtc_viewers"])


def start_peer(spec: dict[str, Any]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(PEER), json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def peer_results(proc: subprocess.Popen, timeout: float) -> list[dict[str, Any]]:
    out, _ = proc.communicate(timeout=timeout)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    if not lines or not lines[-1].get("done"):
        raise RuntimeError("the aiortc peer failed")
    return lines[:-1]


# -- glass-to-glass in Chromium --------------------------------------------------------------


def chromium_latency(server: WebRtcServer, seconds: float) -> list[float]:
    """Latency samples in ms, the first second skipped."""
    from camera_streaming.web.webrtc.player_js import PLAY_WEBRTC_JS

    html = f"""<!doctype html><html><body><video id="v" muted autoplay playsinline></video>
<script>{PLAY_WEBRTC_JS}</script><script>{LATENCY_PAGE_JS}</script><script>
window.state = "starting";
const video = document.getElementById("v");
playWebRTC(video, "/stream", {{base: "http://127.0.0.1:{server.http}"}})
  .then(() => {{ window.state = "playing"; startLatency(video); }})
  .catch((e) => {{ window.state = "failed: " + e.message; }});
</script></body></html>"""
    with serve_page(html, "latency.html") as page_url, chromium() as browser:
        page = browser.new_page()
        page.goto(page_url)
        page.wait_for_function("window.state !== 'starting'", timeout=20_000)
        state = page.evaluate("window.state")
        if state != "playing":
            raise RuntimeError(f"Chromium: {state}")
        page.wait_for_timeout(1000)
        page.evaluate("window.samples = []")
        page.wait_for_timeout(int(seconds * 1000))
        samples = page.evaluate("window.samples")
    offset_ms = (time.time() - time.monotonic()) * 1000
    now_ms = time.monotonic() * 1000
    out = []
    for display_ms, code in samples:
        # The code is monotonic ms mod 2**32: unwrap it near the bench's own monotonic time.
        capture = now_ms - ((int(now_ms) - code) % (1 << 32))
        out.append(display_ms - (capture + offset_ms))
    return out


# -- CPU: 16 viewers against 1 ---------------------------------------------------------------
def viewers_cpu(server: WebRtcServer, viewers: int, window: float, settle: float) -> tuple:
    """Server CPU (% of one core) over `window` with `viewers` aiortc peers, and the lowest
    frame rate one of them received."""
    spec = {"url": server.whep_url(), "cycles": viewers, "parallel": viewers, "decode": False,
            "only": "127.0.0.1", "seconds": settle + window + 4, "first_timeout": 10}  # fmt: skip
    proc = start_peer(spec)
    try:
        deadline = time.monotonic() + 30
        while server.viewers() < viewers and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(settle)
        c0, t0 = server.cpu_seconds(), time.monotonic()
        time.sleep(window)
        c1, t1 = server.cpu_seconds(), time.monotonic()
        results = peer_results(proc, settle + window + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rates = [r["frames_in_window"] / (settle + window + 4) for r in results if r["status"] == 201]
    if len(rates) < viewers:
        raise RuntimeError(f"only {len(rates)} of {viewers} viewers were answered")
    return 100 * (c1 - c0) / (t1 - t0), min(rates)


# -- the section -----------------------------------------------------------------------------
def webrtc_rows(
    video: Video,
    latency_s: float,
    window: float,
    rounds: int,
    joins: int,
    progress: Progress,
    settle: float = 3.0,
) -> list[Row]:
    rows: list[Row] = []
    with WebRtcServer(video) as server:
        # A first viewer warms the server (DTLS certificate, encoder) before anything is timed.
        peer_results(start_peer({"url": server.whep_url(), "seconds": 1, "only": "127.0.0.1"}), 60)

        latency = chromium_latency(server, latency_s)
        p50 = statistics.median(latency) if latency else float("nan")
        progress(f"  webrtc latency {video.label}: p50 {p50:.0f} ms ({len(latency)} frames)")
        rows.append(Row(
            "webrtc", f"glass-to-glass p50, Chromium, {video.label} ({len(latency)} frames; "
            f"p95 {p95(latency) if latency else float('nan'):.0f} ms)",
            f"{p50:.0f} ms", "", None, f"<= {LATENCY_TARGET_MS:.0f} ms",
            verdict(p50 <= LATENCY_TARGET_MS),
        ))  # fmt: skip

        one, many, fps = [], [], []
        for r in range(rounds):
            for n in (1, 16) if r % 2 == 0 else (16, 1):
                cpu, low = viewers_cpu(server, n, window, settle)
                (one if n == 1 else many).append(cpu)
                fps.append((n, low))
                progress(f"  webrtc CPU round {r + 1}: {n:2d} viewers {cpu:5.1f} % "
                         f"(slowest viewer {low:.1f} fps)")  # fmt: skip
        c1, c16 = statistics.median(one), statistics.median(many)
        slowest = min(f for n, f in fps if n == 16)
        rows.append(Row(
            "webrtc", f"server CPU, 16 WebRTC viewers / 1, {video.label} (aiortc; slowest of "
            f"16 at {slowest:.1f} fps)", f"{c16:.1f} %", f"{c1:.1f} %", c16 / c1 if c1 else None,
            f"<= {CPU_TARGET}x", verdict(c16 <= CPU_TARGET * c1),
        ))  # fmt: skip

        results = peer_results(start_peer({
            "url": server.whep_url(), "cycles": joins, "seconds": 0.2, "only": "127.0.0.1",
        }), 30 + 5 * joins)  # fmt: skip
        firsts = [r["first_frame_s"] for r in results if r.get("first_frame_s") is not None]
        missing = joins - len(firsts)
        worst = p95(firsts) if firsts and not missing else float("inf")
        progress(f"  webrtc POST -> first frame: p95 {worst:.2f} s over {joins}")
        rows.append(Row(
            "webrtc", f"POST -> first decoded frame p95, aiortc, {joins} viewers one at a time"
            + (f" ({missing} without a frame)" if missing else "")
            + (f" (p50 {statistics.median(firsts):.2f} s)" if firsts else ""),
            f"{worst:.2f} s", "", None, f"<= {FIRST_FRAME_TARGET_S:.0f} s",
            verdict(worst <= FIRST_FRAME_TARGET_S),
        ))  # fmt: skip
    return rows
