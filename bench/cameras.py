"""Several cameras in one process, built in Python (`Config.cameras`): each camera the test
pattern, its main stream at `/camN` and, when a sub stream is given, a smaller and slower one
at `/camN/sub` resized from the same frames. Served like the CLI serves one camera: HTTP off,
stats once an hour, warnings only, at most 2 malloc arenas (as the CLI sets), SIGTERM or
SIGINT stop it cleanly.

    python bench/cameras.py PORT CAMERAS WIDTHxHEIGHT@FPS:KBPS [WIDTHxHEIGHT@FPS:KBPS]
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

if TYPE_CHECKING:
    from camera_streaming.config import Config, VideoConfig


def stream_paths(cameras: int, sub: bool) -> list[str]:
    """The RTSP paths of the streams, camera by camera, main before sub."""
    out = []
    for i in range(1, cameras + 1):
        out += [f"/cam{i}", f"/cam{i}/sub"] if sub else [f"/cam{i}"]
    return out


def video_spec(width: int, height: int, fps: int, kbps: int) -> str:
    return f"{width}x{height}@{fps}:{kbps}"


def parse_video(text: str) -> VideoConfig:
    from camera_streaming.config import VideoConfig

    size, _, rest = text.partition("@")
    fps, _, kbps = rest.partition(":")
    w, _, h = size.partition("x")
    return VideoConfig(width=int(w), height=int(h), fps=int(fps), bitrate_kbps=int(kbps))


def build_config(port: int, cameras: int, main: VideoConfig, sub: VideoConfig | None) -> Config:
    from camera_streaming.config import Config, HttpConfig, LogConfig, RtspConfig, SourceSpec
    from camera_streaming.config.model import CameraConfig, StreamConfig

    paths = stream_paths(cameras, sub is not None)
    per_camera = 2 if sub is not None else 1
    cams = []
    for i in range(cameras):
        own = paths[i * per_camera : (i + 1) * per_camera]
        streams = [StreamConfig(own[0], main)]
        if sub is not None:
            streams.append(StreamConfig(own[1], sub))
        cams.append(CameraConfig(f"cam{i + 1}", SourceSpec("test"), tuple(streams)))
    return Config(
        cameras=tuple(cams),
        rtsp=RtspConfig(port=port, bind="127.0.0.1"),
        http=HttpConfig(enabled=False),
        log=LogConfig(level="warning"),
        stats_interval_s=3600,
    )


def main(argv: list[str]) -> int:
    from camera_streaming.logs import configure_logging
    from camera_streaming.telemetry.memory import limit_arenas

    if os.environ.get("MALLOC_ARENA_MAX") is None:  # before any thread starts, as the CLI
        limit_arenas(2)
    port, cameras = int(argv[0]), int(argv[1])
    main_video = parse_video(argv[2])
    sub = parse_video(argv[3]) if len(argv) > 3 else None
    config = build_config(port, cameras, main_video, sub)
    configure_logging(config.log.level, config.log.format)

    from camera_streaming.service import Streamer

    streamer = Streamer(config)

    def on_signal(_signum: int, _frame: Any) -> None:
        streamer.request_stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    streamer.start()
    streamer.serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
