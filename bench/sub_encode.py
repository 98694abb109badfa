"""A sub stream's own work, alone: the camera's BGR frames resized with `cv2.resize`
(INTER_AREA) and converted with `cv2.cvtColor` to I420 at the sub stream's size and rate,
pushed through an appsrc into x264enc with camera-streaming's properties, into a fakesink. No
RTSP, no Python frame path around it: what a sub stream cannot avoid costing.

The camera's frames are our test pattern at the camera's size, drawn before the clock starts
(two seconds of the frames the sub stream would take, then again from the first), so drawing
them is not counted. Once the pipeline plays, it listens on PORT (accepting nothing) to tell
the bench it is ready; SIGTERM or SIGINT stop it.

    python bench/sub_encode.py PORT CAM_WIDTHxCAM_HEIGHT@CAM_FPS WIDTHxHEIGHT@FPS:KBPS
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from camera_streaming.config import VideoConfig  # noqa: E402
from camera_streaming.gst.launch import raw_caps, x264_properties  # noqa: E402
from camera_streaming.gst.runtime import Gst, init  # noqa: E402
from camera_streaming.sources.pattern import TestPatternSource  # noqa: E402

CYCLE_S = 2  # seconds of distinct frames, then the same again


def camera_frames(width: int, height: int, camera_fps: int, fps: int) -> list[np.ndarray]:
    """The test pattern's frames a stream at `fps` takes from a camera at `camera_fps`."""
    source = TestPatternSource(width, height, camera_fps)
    source.open()
    step = max(1, round(camera_fps / fps))
    frames = []
    for i in range(CYCLE_S * camera_fps):
        frame = source.read()
        assert frame is not None
        if i % step == 0:
            frames.append(frame.copy())
    source.close()
    return frames


def main(argv: list[str]) -> int:
    port = int(argv[0])
    cam_size, _, cam_fps = argv[1].partition("@")
    cam_w, _, cam_h = cam_size.partition("x")
    size, _, rest = argv[2].partition("@")
    fps, _, kbps = rest.partition(":")
    w, _, h = size.partition("x")
    video = VideoConfig(width=int(w), height=int(h), fps=int(fps), bitrate_kbps=int(kbps))
    frames = camera_frames(int(cam_w), int(cam_h), int(cam_fps), video.fps)

    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    init()
    pipeline = Gst.parse_launch(
        f"appsrc name=src is-live=true format=time do-timestamp=true caps={raw_caps(video)} "
        f"! x264enc {x264_properties(video)} ! fakesink sync=false"
    )
    appsrc = pipeline.get_by_name("src")
    pipeline.set_state(Gst.State.PLAYING)
    bgr = np.empty((video.height, video.width, 3), np.uint8)
    i420 = np.empty((video.height * 3 // 2, video.width), np.uint8)
    ready = socket.socket()
    try:
        next_t = time.monotonic()
        i = 0
        while not stop.is_set():
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_t += 1.0 / video.fps
            frame = frames[i % len(frames)]
            cv2.resize(frame, (video.width, video.height), dst=bgr, interpolation=cv2.INTER_AREA)
            cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420, dst=i420)
            appsrc.push_buffer(Gst.Buffer.new_wrapped(i420.tobytes()))
            i += 1
            if i == 1:
                ready.bind(("127.0.0.1", port))
                ready.listen()
    finally:
        ready.close()
        pipeline.set_state(Gst.State.NULL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
