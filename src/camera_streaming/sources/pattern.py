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

from ..frames.i420 import I420Frame, bgr_to_yuv, yuv_of
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
    drawn into one reused buffer, in BGR or, after `use_i420()`, straight in I420 (no colour
    conversion anywhere on the way to the encoder).

    BGR: only what the last frame drew over is painted with the gradient again before the next
    is drawn. I420: the whole background (1.4 MB at 720p) is copied back in one go (about
    0.03 ms), then the frame drawn."""

    __test__ = False  # not a pytest class
    name = "test"
    paced = False
    DIGITS_SHOWN = 8
    formats = ("BGR", "I420")

    def __init__(self, width: int, height: int, fps: int) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.index = 0
        self.format = "BGR"
        self._frame: np.ndarray | None = None
        self._i420: I420Frame | None = None
        self._background: I420Frame | None = None
        self._x = np.linspace(0, 255, width, dtype=np.float32)  # the gradient's axes
        self._y = np.linspace(0, 255, height, dtype=np.float32)
        self._dirty: list[tuple[slice, slice]] = []
        w, h = width, height
        self._radius = r = max(4, h // 10)
        # The disc as one horizontal span per row: (dy, half width), drawn row by row.
        self._disc = disc_spans(r)
        self._pixel = pixel = max(1, round(h / 150))
        self._digits = digit_masks(pixel)
        self._text_at = (max(0, h - h // 12 - 7 * pixel), w // 20)

    def use_i420(self) -> None:
        """Draw I420 frames (`read()` returns an `I420Frame`) from now on."""
        if self.width % 2 or self.height % 2:
            raise ValueError(f"I420 needs an even size, got {self.width}x{self.height}")
        was_open = self._frame is not None
        self.format = "I420"
        if was_open:
            self.open()

    def open(self) -> None:
        self._dirty = []
        self.index = 0
        bgr = np.empty((self.height, self.width, 3), np.uint8)
        self._paint_background(bgr, (slice(None), slice(None)))
        if self.format == "BGR":
            self._frame = bgr
            return
        self._frame = None  # the BGR frame served only to paint the background
        self._background = background = I420Frame.empty(self.width, self.height)
        y, u, v = bgr_to_yuv(bgr, self.height)
        background.y[:] = y.round()
        background.u[:] = ((u[0::2, 0::2] + u[1::2, 1::2]) / 2).round()
        background.v[:] = ((v[0::2, 0::2] + v[1::2, 1::2]) / 2).round()
        cell = code_cell(self.width, self.height)  # grey under the code: only luma codes
        background.u[:cell, : (CODE_BITS * cell + 1) // 2] = 128
        background.v[:cell, : (CODE_BITS * cell + 1) // 2] = 128
        self._i420 = I420Frame.empty(self.width, self.height)
        self._red = yuv_of(tuple(int(c) for c in RED), self.height)  # type: ignore[arg-type]
        self._disc_half = disc_spans(max(1, self._radius // 2))

    def _paint_background(self, frame: np.ndarray, region: tuple[slice, slice]) -> None:
        """The gradient (blue along x, green along y, red their mean) into `region`."""
        x = self._x[region[1]][None, :]
        y = self._y[region[0]][:, None]
        out = frame[region]
        out[:, :, 0] = x.astype(np.uint8)
        out[:, :, 1] = y.astype(np.uint8)
        out[:, :, 2] = ((x + y) / 2).astype(np.uint8)

    def _layout(self) -> tuple[int, int, int, int]:
        """Where this frame's bar (left edge, width) and disc (centre) are."""
        w, h, i = self.width, self.height, self.index
        bar_w = max(4, w // 40)
        x0 = (i * max(1, w // (2 * self.fps))) % max(1, w - bar_w)
        period = 2 * max(1, self.fps * 2)
        phase = i % period
        t = phase / (period / 2) if phase < period / 2 else 2 - phase / (period / 2)
        r = self._radius
        cx = int(r + t * (w - 2 * r))
        cy = int(h / 2 + (h / 4) * np.sin(i / max(1, self.fps) * 2 * np.pi))
        return x0, bar_w, cx, cy

    def read(self) -> np.ndarray | I420Frame | None:
        if self.format == "I420":
            return self._read_i420()
        frame = self._frame
        if frame is None:
            return None
        for region in self._dirty:
            self._paint_background(frame, region)
        self._dirty = []
        x0, bar_w, cx, cy = self._layout()
        self._dirty.append((slice(0, self.height), slice(x0, x0 + bar_w)))
        frame[:, x0 : x0 + bar_w] = 255
        self._draw_disc(frame, cx, cy)
        self._draw_number(frame, self.index)
        write_code(frame, self.index, monotonic_ms())  # rewrites its whole band: never restored
        self.index += 1
        return frame

    def _read_i420(self) -> I420Frame | None:
        frame, background = self._i420, self._background
        if frame is None or background is None:
            return None
        np.copyto(frame.data, background.data)
        x0, bar_w, cx, cy = self._layout()
        frame.y[:, x0 : x0 + bar_w] = 235
        frame.u[:, x0 // 2 : (x0 + bar_w + 1) // 2] = 128
        frame.v[:, x0 // 2 : (x0 + bar_w + 1) // 2] = 128
        red_y, red_u, red_v = self._red
        fill_disc(frame.y, self._disc, cx, cy, red_y)
        fill_disc(frame.u, self._disc_half, cx // 2, cy // 2, red_u)
        fill_disc(frame.v, self._disc_half, cx // 2, cy // 2, red_v)
        self._draw_number_i420(frame, self.index)
        write_code(frame.y, self.index, monotonic_ms())
        self.index += 1
        return frame

    def _draw_disc(self, frame: np.ndarray, cx: int, cy: int) -> None:
        r = self._radius
        fill_disc(frame, self._disc, cx, cy, RED)
        self._dirty.append((slice(max(0, cy - r), cy + r + 1), slice(max(0, cx - r), cx + r + 1)))

    def _number_cells(self, index: int) -> list[tuple[int, int, np.ndarray]]:
        """(top, left, mask) of each digit of `index` that fits in the frame."""
        y, x = self._text_at
        gh, gw = self._digits[0].shape
        step = gw + 2 * self._pixel
        text = f"{index % 10**self.DIGITS_SHOWN:0{self.DIGITS_SHOWN}d}"
        cells = []
        for k, ch in enumerate(text):
            left = x + k * step
            if left + gw > self.width or y + gh > self.height:
                break
            cells.append((y, left, self._digits[ord(ch) - 48]))
        return cells

    def _draw_number(self, frame: np.ndarray, index: int) -> None:
        cells = self._number_cells(index)
        for top, left, mask in cells:
            frame[top : top + mask.shape[0], left : left + mask.shape[1]][mask] = 255
        if cells:
            top, _, mask = cells[0]
            right = cells[-1][1] + mask.shape[1]
            self._dirty.append((slice(top, top + mask.shape[0]), slice(cells[0][1], right)))

    def _draw_number_i420(self, frame: I420Frame, index: int) -> None:
        for top, left, mask in self._number_cells(index):
            gh, gw = mask.shape
            frame.y[top : top + gh, left : left + gw][mask] = 235
            half = mask[top % 2 :: 2, left % 2 :: 2]  # the chroma samples the digit covers
            t, c = (top + 1) // 2, (left + 1) // 2  # fits: the digit fits and sizes are even
            hh, hw = half.shape
            frame.u[t : t + hh, c : c + hw][half] = 128
            frame.v[t : t + hh, c : c + hw][half] = 128

    def close(self) -> None:
        self._frame = None
        self._i420 = self._background = None
        self._dirty = []


def disc_spans(radius: int) -> list[tuple[int, int]]:
    """A disc as one horizontal span per row: (dy, half width) for dy in -radius..radius."""
    return [(dy, int((radius * radius - dy * dy) ** 0.5)) for dy in range(-radius, radius + 1)]


def fill_disc(
    plane: np.ndarray, spans: list[tuple[int, int]], cx: int, cy: int, value: object
) -> None:
    """Fill a disc of `spans` centred on (cx, cy) in a 2-D plane or an H x W x C frame."""
    h, w = plane.shape[:2]
    for dy, half in spans:
        y = cy + dy
        if 0 <= y < h:
            plane[y, max(0, cx - half) : min(w, cx + half + 1)] = value
