"""Two cameras with a main and a sub stream each, as the multi-camera tests run them: the
test pattern and a looping file made at test time, each with a counting hook that draws a
white square in the bottom-right corner (so the drawing can be looked for in every stream)."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from camera_streaming.config import (
    Config,
    HttpConfig,
    OutputsConfig,
    RtspConfig,
    SourceSpec,
    VideoConfig,
)
from camera_streaming.config.model import CameraConfig, StreamConfig
from camera_streaming.sources import read_code
from support.fakes import decode_images

MAIN = VideoConfig(width=640, height=360, fps=25, bitrate_kbps=800)
SUB = VideoConfig(width=320, height=180, fps=5, bitrate_kbps=200)
PATHS = ("/pattern", "/pattern/sub", "/clip", "/clip/sub")
SQUARE = 48  # side of the hook's square at the main size


class CountingHook:
    """Counts its calls and draws the white square in place."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, frame: np.ndarray) -> None:
        with self._lock:
            self.calls += 1
        frame[-SQUARE:, -SQUARE:] = 255


HOOKS = {"pattern": CountingHook(), "clip": CountingHook()}


def hook_pattern(frame: np.ndarray) -> None:
    HOOKS["pattern"](frame)


def hook_clip(frame: np.ndarray) -> None:
    HOOKS["clip"](frame)


def make_clip(path: Path, seconds: int = 4) -> Path:
    """A 640x360@25 H.264 MP4 of ffmpeg's test source (dark, so the square stands out)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size=640x360:rate=25:duration={seconds}", "-vf", "eq=brightness=-0.3",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def two_cameras(port: int, clip: Path, **rtsp: object) -> Config:
    def camera(name: str, source: SourceSpec, hook: str) -> CameraConfig:
        streams = (StreamConfig(f"/{name}", MAIN), StreamConfig(f"/{name}/sub", SUB))
        return CameraConfig(name, source, streams, hook=hook)

    return Config(
        cameras=(
            camera("pattern", SourceSpec("test"), "support.cameras:hook_pattern"),
            camera("clip", SourceSpec("file", str(clip)), "support.cameras:hook_clip"),
        ),
        rtsp=RtspConfig(port=port, bind="127.0.0.1", **rtsp),  # type: ignore[arg-type]
        http=HttpConfig(enabled=False),
        stats_interval_s=1.0,
    )


def square_visible(img: np.ndarray) -> bool:
    """The hook's square, scaled to this image's size, is white in a decoded gray frame."""
    side = SQUARE * img.shape[1] // MAIN.width
    inner = img[-side + 3 : -3, -side + 3 : -3]
    return bool(inner.mean() > 200)


def pattern_index(img: np.ndarray) -> int | None:
    """The test pattern's frame index from a decoded frame of any stream size (the code's
    cells are laid out at the camera's size, so a smaller stream is scaled back first)."""
    if img.shape[1] != MAIN.width:
        img = cv2.resize(img, (MAIN.width, MAIN.height), interpolation=cv2.INTER_NEAREST)
    code = read_code(img)
    return None if code is None else code[0]


def with_outputs(cfg: Config, path: str, outputs: OutputsConfig) -> Config:
    """`cfg` with `outputs` on the stream mounted at `path`."""

    def stream(s: StreamConfig) -> StreamConfig:
        return replace(s, outputs=outputs) if s.path == path else s

    cams = tuple(replace(c, streams=tuple(stream(s) for s in c.streams)) for c in cfg.cameras)
    return replace(cfg, cameras=cams)


def decode_all(url: Callable[..., str], seconds: float) -> dict[str, list]:
    """Decode every mount of `PATHS` at once for `seconds` (ffmpeg per mount, in threads):
    path -> [(arrival time, gray image)]. `url(path=...)` is `RtspConfig.url`."""
    got: dict[str, list] = {}

    def read(path: str) -> None:
        video = SUB if path.endswith("/sub") else MAIN
        got[path] = decode_images(url(path=path), seconds, video.width, video.height)

    readers = [threading.Thread(target=read, args=(p,)) for p in PATHS]
    for t in readers:
        t.start()
    for t in readers:
        t.join(seconds + 60)
    return got
