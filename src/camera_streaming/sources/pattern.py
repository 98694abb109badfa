"""The moving test pattern, with the frame index and capture time coded into the pixels.

The code is two rows of 32 black/white cells in the top-left corner: row 0 holds the frame
index, row 1 the capture time in milliseconds of `time.monotonic()` (mod 2**32). Cells are
large enough (at least 8 px) to survive H.264, so a client can decode a frame and read both
back (`read_code`): that is how tests see drops and order, and benchmarks see latency.

Drawn with NumPy alone (a disc mask and a 5x7 digit font), so a run whose frames need no
resizing never loads OpenCV.
"""

from __future__ import annotations

import time

import numpy as np

from .base import FrameSource

CODE_BITS = 32
RED = np.array((0, 0, 255), np.uint8)  # BGR


def code_cell(width: int, height: int) -> int:
    """Side of one code cell in pixels for a frame of this size."""
    return max(2, min(width // (CODE_BITS + 4), height // 8))


def write_code(frame: np.ndarray, index: int, time_ms: int) -> None:
    """Write `index` and `time_ms` (each mod 2**32) into the top rows of `frame` in place."""
    cell = code_cell(frame.shape[1], frame.shape[0])
    channels = frame.shape[2] if frame.ndim == 3 else 1  # gray frames too
    for row, value in enumerate((index & 0xFFFFFFFF, time_ms & 0xFFFFFFFF)):
        y = row * cell
        band = frame[y : y + cell, : CODE_BITS * cell]
        bits = (value >> np.arange(CODE_BITS - 1, -1, -1, dtype=np.uint64)) & 1
        line = np.repeat((bits * 255).astype(np.uint8), cell * channels)  # one pixel row
        band[:] = line.reshape(1, *band.shape[1:])  # broadcast over rows only: fast copies


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


# 5x7 digits, one string of 5 bits per row ("#" set).
DIGITS = (
    (" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "),
    ("  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "),
    (" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"),
    ("#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "),
    ("   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "),
    ("#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "),
    ("  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "),
    ("#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "),
    (" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "),
    (" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "),
)  # fmt: skip


def digit_masks(pixel: int) -> list[np.ndarray]:
    """The ten digits as boolean masks, each font pixel `pixel` x `pixel` frame pixels."""
    block = np.ones((pixel, pixel), bool)
    return [
        np.kron(np.array([[c == "#" for c in row] for row in rows], bool), block) for rows in DIGITS
    ]


class TestPatternSource(FrameSource):
    """A moving pattern (colour gradient, a sweeping bar, a bouncing disc, the frame number)
    drawn into one reused buffer. Only what the last frame drew over is painted with the
    gradient again before the next is drawn: no second frame-sized array."""

    __test__ = False  # not a pytest class
    name = "test"
    paced = False
    DIGITS_SHOWN = 8

    def __init__(self, width: int, height: int, fps: int) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.index = 0
        self._frame: np.ndarray | None = None
        self._x = np.linspace(0, 255, width, dtype=np.float32)  # the gradient's axes
        self._y = np.linspace(0, 255, height, dtype=np.float32)
        self._dirty: list[tuple[slice, slice]] = []
        w, h = width, height
        self._radius = r = max(4, h // 10)
        # The disc as one horizontal span per row: (dy, half width), drawn row by row.
        self._disc = [(dy, int((r * r - dy * dy) ** 0.5)) for dy in range(-r, r + 1)]
        self._pixel = pixel = max(1, round(h / 150))
        self._digits = digit_masks(pixel)
        self._text_at = (max(0, h - h // 12 - 7 * pixel), w // 20)

    def open(self) -> None:
        self._frame = np.empty((self.height, self.width, 3), np.uint8)
        self._paint_background(self._frame, (slice(None), slice(None)))
        self._dirty = []
        self.index = 0

    def _paint_background(self, frame: np.ndarray, region: tuple[slice, slice]) -> None:
        """The gradient (blue along x, green along y, red their mean) into `region`."""
        x = self._x[region[1]][None, :]
        y = self._y[region[0]][:, None]
        out = frame[region]
        out[:, :, 0] = x.astype(np.uint8)
        out[:, :, 1] = y.astype(np.uint8)
        out[:, :, 2] = ((x + y) / 2).astype(np.uint8)

    def read(self) -> np.ndarray | None:
        frame = self._frame
        if frame is None:
            return None
        for region in self._dirty:
            self._paint_background(frame, region)
        dirty = self._dirty = []
        w, h, i = self.width, self.height, self.index
        bar_w = max(4, w // 40)
        x0 = (i * max(1, w // (2 * self.fps))) % max(1, w - bar_w)
        dirty.append((slice(0, h), slice(x0, x0 + bar_w)))
        frame[:, x0 : x0 + bar_w] = 255
        period = 2 * max(1, self.fps * 2)
        phase = i % period
        t = phase / (period / 2) if phase < period / 2 else 2 - phase / (period / 2)
        r = self._radius
        cx = int(r + t * (w - 2 * r))
        cy = int(h / 2 + (h / 4) * np.sin(i / max(1, self.fps) * 2 * np.pi))
        self._draw_disc(frame, cx, cy)
        self._draw_number(frame, i)
        write_code(frame, i, monotonic_ms())  # rewrites its whole band: never restored
        self.index += 1
        return frame

    def _draw_disc(self, frame: np.ndarray, cx: int, cy: int) -> None:
        r, h, w = self._radius, self.height, self.width
        for dy, half in self._disc:
            y = cy + dy
            if 0 <= y < h:
                frame[y, max(0, cx - half) : min(w, cx + half + 1)] = RED
        self._dirty.append((slice(max(0, cy - r), cy + r + 1), slice(max(0, cx - r), cx + r + 1)))

    def _draw_number(self, frame: np.ndarray, index: int) -> None:
        y, x = self._text_at
        gh, gw = self._digits[0].shape
        step = gw + 2 * self._pixel
        text = f"{index % 10**self.DIGITS_SHOWN:0{self.DIGITS_SHOWN}d}"
        for k, ch in enumerate(text):
            left = x + k * step
            if left + gw > self.width or y + gh > self.height:
                break
            frame[y : y + gh, left : left + gw][self._digits[ord(ch) - 48]] = 255
        self._dirty.append((slice(y, y + gh), slice(x, min(self.width, x + len(text) * step))))

    def close(self) -> None:
        self._frame = None
        self._dirty = []
