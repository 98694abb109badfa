"""The moving test pattern, with the frame index and capture time coded into the pixels.

The code is two rows of 32 black/white cells in the top-left corner: row 0 holds the frame
index, row 1 the capture time in milliseconds of `time.monotonic()` (mod 2**32). Cells are
large enough (at least 8 px) to survive H.264, so a client can decode a frame and read both
back (`read_code`): that is how tests see drops and order, and benchmarks see latency.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from .base import FrameSource

CODE_BITS = 32


def code_cell(width: int, height: int) -> int:
    """Side of one code cell in pixels for a frame of this size."""
    return max(2, min(width // (CODE_BITS + 4), height // 8))


def write_code(frame: np.ndarray, index: int, time_ms: int) -> None:
    """Write `index` and `time_ms` (each mod 2**32) into the top rows of `frame` in place."""
    cell = code_cell(frame.shape[1], frame.shape[0])
    for row, value in enumerate((index & 0xFFFFFFFF, time_ms & 0xFFFFFFFF)):
        y = row * cell
        band = frame[y : y + cell, : CODE_BITS * cell]
        bits = (value >> np.arange(CODE_BITS - 1, -1, -1, dtype=np.uint64)) & 1
        cells = np.repeat((bits * 255).astype(np.uint8), cell)
        band[:] = cells[None, :, None]


def read_code(frame: np.ndarray) -> tuple[int, int] | None:
    """Read (index, time_ms) back from a decoded BGR or gray frame; None if it is not there."""
    gray = frame if frame.ndim == 2 else frame[:, :, 1]
    cell = code_cell(gray.shape[1], gray.shape[0])
    if cell < 2:
        return None
    out = []
    half = max(1, cell // 4)
    centres = np.arange(CODE_BITS) * cell + cell // 2
    for row in range(2):
        cy = row * cell + cell // 2
        strip = gray[cy - half + 1 : cy + half, :].astype(np.int32)
        vals = np.array([strip[:, c - half + 1 : c + half].mean() for c in centres])
        if np.any((vals > 60) & (vals < 195)):  # neither black nor white: no code here
            return None
        bits = (vals >= 128).astype(np.uint64)
        out.append(int((bits << np.arange(CODE_BITS - 1, -1, -1, dtype=np.uint64)).sum()))
    return out[0], out[1]


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000) & 0xFFFFFFFF


class TestPatternSource(FrameSource):
    """A moving pattern (colour gradient, a sweeping bar, a bouncing disc, the frame number)
    drawn into one reused buffer."""

    __test__ = False  # not a pytest class
    name = "test"
    paced = False

    def __init__(self, width: int, height: int, fps: int) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.index = 0
        self._frame: np.ndarray | None = None
        self._background: np.ndarray | None = None

    def open(self) -> None:
        w, h = self.width, self.height
        x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
        y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
        bg = np.empty((h, w, 3), np.uint8)
        bg[:, :, 0] = x.astype(np.uint8)
        bg[:, :, 1] = y.astype(np.uint8)
        bg[:, :, 2] = ((x + y) / 2).astype(np.uint8)
        self._background = bg
        self._frame = np.empty_like(bg)
        self.index = 0

    def read(self) -> np.ndarray | None:
        frame, bg = self._frame, self._background
        if frame is None or bg is None:
            return None
        w, h, i = self.width, self.height, self.index
        np.copyto(frame, bg)
        bar_w = max(4, w // 40)
        x0 = (i * max(1, w // (2 * self.fps))) % max(1, w - bar_w)
        frame[:, x0 : x0 + bar_w] = 255
        period = 2 * max(1, self.fps * 2)
        phase = i % period
        t = phase / (period / 2) if phase < period / 2 else 2 - phase / (period / 2)
        r = max(4, h // 10)
        cx = int(r + t * (w - 2 * r))
        cy = int(h / 2 + (h / 4) * np.sin(i / max(1, self.fps) * 2 * np.pi))
        cv2.circle(frame, (cx, cy), r, (0, 0, 255), -1)
        scale = max(0.4, h / 720)
        cv2.putText(
            frame,
            f"{i:08d}",
            (w // 20, h - h // 12),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale * 1.5,
            (255, 255, 255),
            max(1, int(scale * 3)),
        )
        write_code(frame, i, monotonic_ms())
        self.index += 1
        return frame

    def close(self) -> None:
        self._frame = None
        self._background = None
