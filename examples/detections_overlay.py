"""Draw detections on the stream, like the seed's `drawStreamOverlay(frame, tracks, stats)`.

A fake detector stands in for your model: two objects move on smooth paths, each with an id,
a label and a score; their recent centres form the track path. Run it as a hook:

    camera-streaming --source test --overlay --hook examples/detections_overlay.py:hook

or from Python (this file's `main()`), pushing your own frames:

    python examples/detections_overlay.py         # then: ffplay rtsp://127.0.0.1:8554/stream

Everything is drawn in place on the reused frame the hook receives; the detector state is a
few small objects reused from frame to frame.
"""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

from camera_streaming import RtspStreamer, Track, draw_stream_overlay


class FakeDetector:
    """Two objects on Lissajous paths, with scores that wobble; keeps 30 path points each."""

    def __init__(self) -> None:
        self.frame = 0
        self.paths = {1: deque(maxlen=30), 2: deque(maxlen=30)}
        self.tracks = [Track((0, 0, 0, 0), 1, "person"), Track((0, 0, 0, 0), 2, "car")]

    def __call__(self, frame: np.ndarray) -> list[Track]:
        h, w = frame.shape[:2]
        t = self.frame / 25.0
        self.frame += 1
        for i, track in enumerate(self.tracks):
            cx = w / 2 + w / 3 * math.sin(t * (0.7 + 0.4 * i))
            cy = h / 2 + h / 3 * math.cos(t * (0.5 + 0.3 * i))
            bw, bh = w / (8 + 4 * i), h / (4 + 3 * i)
            track.box = (cx - bw / 2, cy - bh / 2, bw, bh)
            track.score = 0.80 + 0.15 * math.sin(t * 3 + i)
            path = self.paths[track.track_id or 0]
            path.append((cx, cy))
            track.path = path
        return self.tracks


detector = FakeDetector()
_started = time.monotonic()


def hook(frame: np.ndarray) -> None:
    """For `--hook examples/detections_overlay.py:hook`."""
    tracks = detector(frame)
    draw_stream_overlay(frame, tracks, {"objects": len(tracks), "model": "fake"})


def main() -> None:
    frame = np.full((720, 1280, 3), 40, np.uint8)
    with RtspStreamer(width=1280, height=720, fps=25, hook=hook, http_port=8080) as s:
        print("watch", s.url, "- status page http://127.0.0.1:8080/")
        period, next_t = 1 / 25, time.monotonic()
        while s.is_running:
            frame[:] = 40  # your camera frame here
            s.push_frame(frame)
            next_t += period
            time.sleep(max(0.0, next_t - time.monotonic()))


if __name__ == "__main__":
    main()
