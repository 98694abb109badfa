"""Drawing on the reused BGR frame, in place: the built-in status overlay (`--overlay`: time,
frame index, FPS) and detections like the C++ original's `drawStreamOverlay(frame, tracks, stats)`.

Everything is cv2 drawing on the frame it is given; nothing is allocated per frame here beyond
the text strings cv2 needs.

    from camera_streaming.frames.overlay import Track, draw_stream_overlay

    def hook(frame):
        tracks = detector(frame)                 # your model
        draw_stream_overlay(frame, tracks, {"fps": 29.9, "objects": len(tracks)})
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from ..telemetry.stats import FpsMeter

FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
# Distinct colours per track id (BGR).
PALETTE = (
    (48, 48, 255), (48, 255, 48), (255, 128, 0), (0, 200, 255), (255, 0, 200),
    (255, 255, 0), (128, 0, 255), (0, 128, 255), (200, 200, 200), (0, 255, 160),
)  # fmt: skip


@dataclass
class Track:
    """One detection or tracked object: a box in pixels (x, y, width, height), an id, a label,
    a score in 0..1 and optionally the path of its centre (oldest first)."""

    box: tuple[float, float, float, float]
    track_id: int | None = None
    label: str = ""
    score: float | None = None
    path: Sequence[tuple[float, float]] = field(default_factory=list)


def colour(track_id: int | None) -> tuple[int, int, int]:
    return PALETTE[(track_id or 0) % len(PALETTE)]


def _scale(frame: np.ndarray) -> float:
    return max(0.75, frame.shape[0] / 720)


def put_label(
    frame: np.ndarray, text: str, x: int, y: int, fg: tuple[int, int, int] = WHITE,
    bg: tuple[int, int, int] = BLACK, scale: float = 0.6,
) -> None:  # fmt: skip
    """Text on a filled box whose top-left corner is (x, y), clipped to the frame."""
    thick = max(1, round(scale * 2))
    (w, h), base = cv2.getTextSize(text, FONT, scale, thick)
    fh, fw = frame.shape[:2]
    x = min(max(0, x), max(0, fw - w - 4))
    y = min(max(0, y), max(0, fh - h - base - 4))
    cv2.rectangle(frame, (x, y), (x + w + 4, y + h + base + 4), bg, -1)
    cv2.putText(frame, text, (x + 2, y + h + 2), FONT, scale, fg, thick, cv2.LINE_AA)


def draw_tracks(frame: np.ndarray, tracks: Iterable[Track]) -> None:
    """Boxes with `id label score`, and each track's path as connected segments."""
    scale = _scale(frame)
    thick = max(1, round(2 * scale))
    for t in tracks:
        c = colour(t.track_id)
        x, y, w, h = (int(round(v)) for v in t.box)
        cv2.rectangle(frame, (x, y), (x + w, y + h), c, thick)
        path = t.path
        for i in range(1, len(path)):  # segment by segment: no point array per frame
            a, b = path[i - 1], path[i]
            cv2.line(frame, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), c, thick, cv2.LINE_AA)
        parts = []
        if t.track_id is not None:
            parts.append(f"#{t.track_id}")
        if t.label:
            parts.append(t.label)
        if t.score is not None:
            parts.append(f"{t.score:.2f}")
        if parts:
            put_label(frame, " ".join(parts), x, y - int(24 * scale), BLACK, c, 0.55 * scale)


def draw_stats(frame: np.ndarray, stats: Mapping[str, object], corner: str = "top-right") -> None:
    """`key: value` lines in a corner (e.g. {"fps": 29.9, "objects": 3})."""
    scale = 0.55 * _scale(frame)
    step = int(28 * _scale(frame))
    x = 8 if corner == "top-left" else frame.shape[1] - int(230 * _scale(frame))
    for i, (k, v) in enumerate(stats.items()):
        text = f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}"
        put_label(frame, text, x, 8 + i * step, scale=scale)


def draw_stream_overlay(
    frame: np.ndarray, tracks: Iterable[Track], stats: Mapping[str, object] | None = None
) -> None:
    """The C++ original's `drawStreamOverlay(frame, tracks, stats)`: boxes, ids, labels, scores,
    paths and a stats panel, drawn in place."""
    draw_tracks(frame, tracks)
    if stats:
        draw_stats(frame, stats)


class StatusOverlay:
    """The built-in `--overlay`: wall-clock time, frame index and FPS in the bottom-right
    corner (the test pattern's frame code is at the top, its counter bottom-left).

    `figures()` gives (frame index, FPS), the streamer's own counts; without it the overlay
    counts the frames it draws on."""

    def __init__(
        self,
        figures: Callable[[], tuple[int, float]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.figures = figures
        self.clock = clock
        self.frames = 0
        self._fps = FpsMeter(window=2.0)

    def __call__(self, frame: np.ndarray) -> None:
        self.frames += 1
        self._fps.tick()
        index, fps = self.figures() if self.figures is not None else (self.frames, self._fps.fps)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.clock()))
        text = f"{stamp}  #{index}  {fps:.1f} fps"
        h, w = frame.shape[:2]
        put_label(frame, text, w, h, scale=max(0.45, 0.7 * h / 720))
