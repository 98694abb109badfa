"""Test doubles and helpers kept in one place: a fake clock, a source that fails on command,
an in-process streamer context manager, and real-client wrappers (ffprobe, ffmpeg)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator

import numpy as np

from camera_streaming.config import (
    Config,
    HttpConfig,
    OnvifConfig,
    RtspConfig,
    SourceSpec,
    VideoConfig,
)
from camera_streaming.service import Streamer
from camera_streaming.sources import FrameSource, TestPatternSource, read_code


class FakeClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


class SwitchableSource(FrameSource):
    """A test pattern that fails while `broken` is set (read returns None, open raises)."""

    name = "switchable"
    paced = False

    def __init__(self, width: int, height: int, fps: int) -> None:
        self.inner = TestPatternSource(width, height, fps)
        self.broken = threading.Event()
        self.opens = 0

    def open(self) -> None:
        from camera_streaming.errors import SourceError

        if self.broken.is_set():
            raise SourceError("switchable source is broken")
        self.opens += 1
        self.inner.open()

    def read(self) -> np.ndarray | None:
        return None if self.broken.is_set() else self.inner.read()

    def close(self) -> None:
        self.inner.close()


def make_config(
    port: int,
    width: int = 320,
    height: int = 240,
    fps: int = 30,
    http: HttpConfig | None = None,
    **rtsp: object,
) -> Config:
    """A test-pattern config on 127.0.0.1; no HTTP port unless `http` is given."""
    return Config(
        video=VideoConfig(width=width, height=height, fps=fps, bitrate_kbps=1000),
        rtsp=RtspConfig(port=port, bind="127.0.0.1", **rtsp),  # type: ignore[arg-type]
        source=SourceSpec("test"),
        stats_interval_s=1.0,
        http=http or HttpConfig(enabled=False),
        # WS-Discovery would say Hello on every interface: tests keep to loopback
        onvif=OnvifConfig(discovery=False),
    )


@contextlib.contextmanager
def running(config: Config, **kwargs: object) -> Iterator[Streamer]:
    streamer = Streamer(config, log_stats=False, **kwargs)  # type: ignore[arg-type]
    streamer.start()
    try:
        yield streamer
    finally:
        streamer.stop()


def ffprobe_stream(url: str, transport: str = "tcp", timeout: float = 15) -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-rtsp_transport",
            transport,
            "-select_streams",
            "v:0",
            "-show_streams",
            "-of",
            "json",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    streams = json.loads(out.stdout)["streams"]
    assert streams, out.stderr
    return dict(streams[0])


def decode_frames(
    url: str,
    seconds: float,
    width: int,
    height: int,
    transport: str = "tcp",
    started: threading.Event | None = None,
) -> list[tuple[float, tuple[int, int] | None]]:
    """Decode `seconds` of the stream with ffmpeg; return (arrival time, code) per frame."""
    images = decode_images(url, seconds, width, height, transport, started)
    return [(t, read_code(img)) for t, img in images]


def decode_images(
    url: str,
    seconds: float,
    width: int,
    height: int,
    transport: str = "tcp",
    started: threading.Event | None = None,
) -> list[tuple[float, np.ndarray]]:
    """Decode `seconds` of the stream with ffmpeg; return (arrival time, gray image) per
    frame. `started` is set when the first frame is decoded (the window starts there)."""
    proc = subprocess.Popen(
        [
            "ffmpeg",
            "-v",
            "error",
            "-rtsp_transport",
            transport,
            "-fflags",
            "nobuffer",
            "-flags",
            "low_delay",
            "-i",
            url,
            # stream time, which includes what ffmpeg reads while probing (up to its 5 s
            # analyzeduration: a 5 fps stream needs most of it); our own loop ends the read
            # `seconds` after the first decoded frame
            "-t",
            str(seconds + 8),
            # one output frame per decoded frame: without this ffmpeg duplicates frames to
            # keep a constant rate and the same index shows up twice
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    size = width * height
    frames: list[tuple[float, np.ndarray]] = []
    deadline = time.monotonic() + seconds + 20
    assert proc.stdout is not None
    # A read blocks while ffmpeg waits for a stream that never comes: kill it at the
    # deadline so the read returns and the test fails on what it got, instead of hanging.
    killer = threading.Timer(seconds + 20, proc.kill)
    killer.start()
    try:
        start: float | None = None
        while time.monotonic() < deadline:
            data = proc.stdout.read(size)
            if len(data) < size:
                break
            now = time.monotonic()
            if start is None:
                start = now
                if started is not None:
                    started.set()
            frames.append((now, np.frombuffer(data, np.uint8).reshape(height, width)))
            if now - start >= seconds:
                break
    finally:
        killer.cancel()
        proc.kill()
        proc.wait(5)
    return frames
