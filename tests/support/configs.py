"""Configurations for the tests: cameras and streams built in code, and TOML files on disk.
Imports only the configuration (no NumPy, OpenCV or GStreamer)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from camera_streaming.config import (
    CameraConfig,
    Config,
    OutputsConfig,
    SourceSpec,
    StreamConfig,
    VideoConfig,
)


def stream(
    path: str, width: int = 1280, height: int = 720, fps: int = 25, **kw: Any
) -> StreamConfig:
    """A stream; `kw` are VideoConfig fields, or `outputs=OutputsConfig(...)`."""
    outputs = kw.pop("outputs", OutputsConfig())
    return StreamConfig(path, VideoConfig(width=width, height=height, fps=fps, **kw), outputs)


def camera(name: str, source: str = "test", *streams: StreamConfig, **kw: Any) -> CameraConfig:
    """A camera with `streams`, or one 1280x720@25 stream at /NAME."""
    return CameraConfig(name, SourceSpec.parse(source), streams or (stream(f"/{name}"),), **kw)


def with_cameras(*cameras: CameraConfig, **changes: Any) -> Config:
    return replace(Config(), cameras=cameras, **changes)


def write_toml(tmp_path: Path, text: str, name: str = "camera-streaming.toml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


# One V4L2 camera with one stream: error tests edit or repeat it.
ONE_CAMERA = """
[[cameras]]
name = "front"
source = "v4l2:/dev/video0"

  [[cameras.streams]]
  path = "/front"
  width = 1280
  height = 720
  fps = 25
"""

# Two cameras as docs/configuration.md shows them: a main and a sub stream, and a test pattern
# whose one stream inherits everything from [video].
TWO_CAMERAS = """
[video]
encoder = "x264enc"
keyframe_interval = 2.0

[[cameras]]
name = "front"
source = "v4l2:/dev/video0"
hook = "mypkg.detect:draw"

  [[cameras.streams]]
  path = "/front"
  width = 1920
  height = 1080
  fps = 25
  bitrate = 4000

  [[cameras.streams]]
  path = "/front/sub"
  width = 640
  height = 360
  fps = 10
  bitrate = 500
  save = "/var/lib/camera-streaming/front-sub"

[[cameras]]
name = "yard"
source = "test"
overlay = true

  [[cameras.streams]]
  path = "/yard"
"""
