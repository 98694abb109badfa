"""The servers a benchmark runs, one after the other, at the same size, rate and encoder
settings: the C baseline (stock gst-rtsp-server, videotestsrc), the naive Python appsrc
baseline (our test pattern pushed into a stock shared media) and camera-streaming itself
(with and without a frame hook; or several cameras with main and sub streams in one process,
bench/cameras.py), and a sub stream's resize + encode alone (bench/sub_encode.py). Each runs
as a subprocess whose CPU and memory we sample."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import psutil

from .cameras import stream_paths

ROOT = Path(__file__).resolve().parents[1]
C_SOURCE = ROOT / "bench" / "c" / "baseline_server.c"
C_BINARY = ROOT / "bench" / "c" / "build" / "baseline_server"
HOOK = ROOT / "examples" / "hook_draw_time.py"
BITRATE_KBPS = 2000  # camera-streaming's default

C_BASELINE = "c-baseline"
C_PATTERN = "c-pattern"  # the C server reading our test pattern's frames: equal content
PATTERN_FRAMES = 120  # one period of the pattern's disc (2 x fps x 2 frames at 30 fps)
NAIVE_APPSRC = "naive-appsrc"
OURS = "ours"
OURS_HOOK = "ours+hook"
OURS_NATIVE = "ours-native"  # --source gst:videotestsrc pattern=ball: the C baseline's frames
SHARED = "/shared"  # suffix: --fanout shared (one media for all clients); else per-client
OURS_NATIVE_SHARED, OURS_SHARED, OURS_HOOK_SHARED = (
    OURS_NATIVE + SHARED, OURS + SHARED, OURS_HOOK + SHARED
)  # fmt: skip
KINDS = (
    C_BASELINE, C_PATTERN, NAIVE_APPSRC, OURS_NATIVE, OURS_NATIVE_SHARED, OURS, OURS_SHARED,
    OURS_HOOK, OURS_HOOK_SHARED,
)  # fmt: skip
# Not in KINDS (the CPU section's servers): the cameras section's.
OURS_CAMERAS = "ours-cameras"  # bench/cameras.py: test-pattern cameras from Config.cameras
SUB_ENCODE = "sub-encode"  # bench/sub_encode.py: resize + encode of one sub stream, no RTSP
OURS_HTTP = "ours+http"  # ours with its HTTP port on loopback: the browser view (bench/mse.py)
NATIVE_SOURCE = "gst:videotestsrc is-live=true pattern=ball"
# (kind, what happened) for every server that died or exited with an error in this run.
CRASHES: list[tuple[str, str]] = []


def build_c_baseline() -> Path:
    """Compile bench/c/baseline_server.c into the ignored build dir (when it is stale)."""
    if C_BINARY.exists() and C_BINARY.stat().st_mtime >= C_SOURCE.stat().st_mtime:
        return C_BINARY
    if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
        raise RuntimeError("gcc and pkg-config are needed: run 'make setup-dev'")
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "gstreamer-rtsp-server-1.0"],
        capture_output=True,
        text=True,
    )
    if flags.returncode != 0:
        raise RuntimeError("libgstrtspserver-1.0-dev is missing: run 'make setup-dev'")
    C_BINARY.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["gcc", "-O2", "-Wall", "-o", str(C_BINARY), str(C_SOURCE), *flags.stdout.split()]
    subprocess.run(cmd, check=True)
    return C_BINARY


_PATTERN_DIRS: dict[Video, Path] = {}


def pattern_source(video: Video) -> str:
    """A launch fragment for the C server: our test pattern's I420 frames, drawn once into a
    temporary directory (removed at exit) and read in a loop, timestamped at the rate."""
    where = _PATTERN_DIRS.get(video)
    if where is None:
        sys.path.insert(0, str(ROOT / "src"))
        from camera_streaming.sources.pattern import TestPatternSource

        where = Path(tempfile.mkdtemp(prefix="bench-pattern-"))
        atexit.register(shutil.rmtree, where, True)
        src = TestPatternSource(video.width, video.height, video.fps)
        src.use_i420()
        src.open()
        buffer = np.empty(video.width * video.height * 3 // 2, np.uint8)
        for i in range(PATTERN_FRAMES):
            frame = src.read()
            assert frame is not None and not isinstance(frame, np.ndarray)
            frame.fill(buffer)
            (where / f"{i:04d}.i420").write_bytes(buffer.tobytes())
        _PATTERN_DIRS[video] = where
    return (
        f"multifilesrc location={where}/%04d.i420 loop=true ! rawvideoparse format=i420 "
        f"width={video.width} height={video.height} framerate={video.fps}/1"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen, deadline: float) -> bool:
    """Poll 127.0.0.1:port every 50 ms: True once it takes connections, False once `proc` has
    exited or the monotonic `deadline` has passed."""
    while proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return False


@dataclass(frozen=True)
class Video:
    width: int
    height: int
    fps: int
    bitrate_kbps: int = BITRATE_KBPS

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height}@{self.fps}"


@dataclass(frozen=True)
class Layout:
    """The cameras and streams of an `ours-cameras` server: `cameras` test-pattern cameras,
    each a main stream at the server's Video and, with `sub`, a sub stream at that size, rate
    and bitrate. A `sub-encode` server runs the sub stream alone, from one camera at the
    server's Video."""

    cameras: int = 1
    sub: Video | None = None


def _spec(video: Video) -> str:
    return f"{video.width}x{video.height}@{video.fps}:{video.bitrate_kbps}"


def server_command(
    kind: str, video: Video, port: int, layout: Layout | None = None, http_port: int = 0
) -> list[str]:
    size = [str(video.width), str(video.height), str(video.fps), str(video.bitrate_kbps)]
    if kind == OURS_CAMERAS:
        lay = layout or Layout()
        cmd = [sys.executable, str(ROOT / "bench" / "cameras.py"), str(port), str(lay.cameras)]
        return cmd + [_spec(video)] + ([_spec(lay.sub)] if lay.sub else [])
    if kind == SUB_ENCODE:
        if layout is None or layout.sub is None:
            raise ValueError("sub-encode needs Layout(sub=...)")
        script = str(ROOT / "bench" / "sub_encode.py")
        return [sys.executable, script, str(port), video.label, _spec(layout.sub)]
    if kind == C_BASELINE:
        return [str(build_c_baseline()), str(port), *size]
    if kind == C_PATTERN:
        return [str(build_c_baseline()), str(port), *size, str(video.fps), pattern_source(video)]
    if kind == NAIVE_APPSRC:
        return [sys.executable, str(ROOT / "bench" / "naive_appsrc.py"), str(port), *size]
    kind, shared, _ = kind.partition(SHARED)
    source = NATIVE_SOURCE if kind == OURS_NATIVE else "test"
    cmd = [sys.executable, "-m", "camera_streaming", "--source", source, "--bind", "127.0.0.1"]
    cmd += ["--port", str(port), "--width", size[0], "--height", size[1], "--fps", size[2]]
    cmd += ["--bitrate", size[3], "--stats-interval", "3600", "--log-level", "warning"]
    if kind == OURS_HTTP:
        return cmd + ["--http-port", str(http_port), "--http-bind", "127.0.0.1", "--no-onvif"]
    cmd += ["--no-http"]  # like the baselines; and never a clash on port 8080
    if kind == OURS_HOOK:
        cmd += ["--hook", f"{HOOK}:draw"]
    elif kind not in (OURS, OURS_NATIVE):
        raise ValueError(kind)
    return cmd + ["--fanout", "shared" if shared else "per-client"]  # both named: no default


class Server:
    """One server subprocess; `cpu_seconds()` and `rss_mb()` sample it. `urls` are its
    streams (`url` the first)."""

    def __init__(
        self,
        kind: str,
        video: Video,
        on_crash: Callable[[str], None] | None = None,
        layout: Layout | None = None,
    ) -> None:
        self.kind, self.video = kind, video
        self.on_crash = on_crash
        self.crashed = False
        self.port = free_port()
        self.http_port = free_port() if kind == OURS_HTTP else 0
        if kind == OURS_CAMERAS:
            lay = layout or Layout()
            paths = stream_paths(lay.cameras, lay.sub is not None)
        else:
            paths = [] if kind == SUB_ENCODE else ["/stream"]
        self.urls = [f"rtsp://127.0.0.1:{self.port}{p}" for p in paths]
        self.url = self.urls[0] if self.urls else ""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
        )
        env.setdefault("GST_DEBUG", "1")
        self._stderr = tempfile.TemporaryFile()  # a pipe nobody reads could block the server
        self.proc = subprocess.Popen(
            server_command(kind, video, self.port, layout, self.http_port),
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env=env,
        )
        self.ps = psutil.Process(self.proc.pid)

    def __enter__(self) -> Server:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 30) -> None:
        """Until the RTSP port (and the HTTP port, where there is one) takes connections."""
        deadline = time.monotonic() + timeout
        for port in (self.port, self.http_port):
            if not port or wait_port(port, self.proc, deadline):
                continue
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited: {self.stderr_tail()}")
            raise RuntimeError(f"{self.kind} server did not listen within {timeout} s")

    def cpu_seconds(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def rss_mb(self) -> float:
        return float(self.ps.memory_info().rss) / 1e6

    def memory_mb(self) -> tuple[float, float | None, float | None]:
        """RSS, PSS and USS in MB (PSS and USS None where /proc/PID/smaps is not readable)."""
        try:
            m = self.ps.memory_full_info()
        except (psutil.AccessDenied, psutil.ZombieProcess, NotImplementedError):
            return self.rss_mb(), None, None
        pss = getattr(m, "pss", None)
        return m.rss / 1e6, pss / 1e6 if pss is not None else None, m.uss / 1e6

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s. `crashed` tells whether it died on its own, or
        exited with an error on SIGTERM."""
        self.crashed = self.proc.poll() is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.returncode not in (0, -15):
            self.crashed = True
        if self.crashed:
            last = (self.stderr_tail().strip().splitlines() or [""])[-1]
            note = f"exit {self.proc.returncode}" + (f": {last[:150]}" if last else "")
            CRASHES.append((self.kind, note))
            if self.on_crash is not None:
                self.on_crash(f"{self.kind} {note}")
        self._stderr.close()

    def stderr_tail(self, n: int = 500) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-n:]
