"""The moving test pattern, with the frame index and capture time coded into the pixels.

The code is two rows of 32 black/white cells in the top-left corner: row 0 holds the frame
index, row 1 the capture time in milliseconds of `time.monotonic()` (mod 2**32). Cells are
large enough (at least 8 px) to survive H.264, so a client can decode a frame and read both
back (`read_code`): that is how tests see drops and order, and benchmarks see latency.

Drawn with NumPy alone (a disc mask and a 5x7 digit font), so a run whose frames need no
resizing never loads OpenCV.
"""

from __future__ import annotations

import functools
import math
import time
from typing import cast

import numpy as np

from ..frames.i420 import I420Frame, bgr_to_yuv, yuv_of
from .base import FrameSource

CODE_BITS = 32
RED = np.array((0, 0, 255), np.uint8)  # BGR


def code_cell(width: int, height: int) -> int:
    """Side of one code cell in pixels for a frame of this size."""
    return max(2, min(width // (CODE_BITS + 4), height // 8))


_NIBBLE_SHIFTS = tuple(range(CODE_BITS - 4, -1, -4))


@functools.lru_cache(maxsize=4)
def _nibble_rows(cell: int, channels: int) -> tuple[bytes, ...]:
    """For each 4-bit value, one pixel row of its four code cells (most significant first)."""
    on, off = b"\xff" * (cell * channels), b"\x00" * (cell * channels)
    return tuple(b"".join(on if n >> (3 - k) & 1 else off for k in range(4)) for n in range(16))


def write_code(frame: np.ndarray, index: int, time_ms: int) -> None:
    """Write `index` and `time_ms` (each mod 2**32) into the top rows of `frame` in place."""
    cell = code_cell(frame.shape[1], frame.shape[0])
    channels = frame.shape[2] if frame.ndim == 3 else 1  # gray frames too
    rows = _nibble_rows(cell, channels)
    for row, value in enumerate((index & 0xFFFFFFFF, time_ms & 0xFFFFFFFF)):
        y = row * cell
        band = frame[y : y + cell, : CODE_BITS * cell]
        line = b"".join([rows[value >> shift & 15] for shift in _NIBBLE_SHIFTS])  # a pixel row
        # broadcast over rows only: fast copies, and two NumPy calls a row of cells
        band[:] = np.frombuffer(line, np.uint8).reshape(1, *band.shape[1:])


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
    conversion anywhere on the way to the encoder). Only what the last frame drew over is
    painted with the background again before the next is drawn, and each shape is one masked
    copy per plane: a 720p I420 frame costs about 0.1 ms."""

    __test__ = False  # not a pytest class
    name = "test"
    paced = False
    DIGITS_SHOWN = 8
    formats = ("BGR", "I420")

    def __init__(self, width: int, height: int, fps: int) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.index = 0
        self.format = "BGR"
        self._frame: np.ndarray | None = None  # BGR
        self._i420: I420Frame | None = None
        self._background: I420Frame | None = None
        self._x = np.linspace(0, 255, width, dtype=np.float32)  # the gradient's axes
        self._y = np.linspace(0, 255, height, dtype=np.float32)
        self._dirty: list[tuple[slice, slice]] = []
        w, h = width, height
        self._radius = r = max(4, h // 10)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        self._disc = xx * xx + yy * yy <= r * r
        self._pixel = pixel = max(1, round(h / 150))
        digits = digit_masks(pixel)
        gh, gw = digits[0].shape
        glyphs = np.zeros((gh, 10, gw + 2 * pixel), bool)  # each digit and its spacing
        glyphs[:, :, :gw] = np.stack(digits, axis=1)
        self._glyphs = glyphs
        self._text = np.empty((gh, self.DIGITS_SHOWN, glyphs.shape[2]), bool)  # reused
        self._digits = " " * self.DIGITS_SHOWN  # what `_text` shows
        self._bar = np.ones((h, max(4, w // 40)), bool)
        self._text_at = (max(0, h - h // 12 - 7 * pixel), w // 20)
        self._colours = {"BGR": (RED, 255), "I420": ((0, 0, 0), (235, 128, 128))}

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
        np.copyto(self._i420.data, background.data)
        red = yuv_of(tuple(int(c) for c in RED), self.height)  # type: ignore[arg-type]
        self._colours["I420"] = (red, (235, 128, 128))

    def _paint_background(self, frame: np.ndarray, region: tuple[slice, slice]) -> None:
        """The gradient (blue along x, green along y, red their mean) into `region`."""
        x = self._x[region[1]][None, :]
        y = self._y[region[0]][:, None]
        out = frame[region]
        out[:, :, 0] = x.astype(np.uint8)
        out[:, :, 1] = y.astype(np.uint8)
        out[:, :, 2] = ((x + y) / 2).astype(np.uint8)

    def _restore(self, region: tuple[slice, slice]) -> None:
        """Paint the background back over `region` (luma coordinates)."""
        if self._frame is not None:
            self._paint_background(self._frame, region)
            return
        frame, background = self._i420, self._background
        assert frame is not None and background is not None
        frame.y[region] = background.y[region]
        ys, xs = region
        half = (slice(ys.start // 2, (ys.stop + 1) // 2), slice(xs.start // 2, (xs.stop + 1) // 2))
        frame.u[half] = background.u[half]
        frame.v[half] = background.v[half]

    def _layout(self) -> tuple[int, int, int]:
        """Where this frame's bar (left edge) and disc (centre) are."""
        w, h, i = self.width, self.height, self.index
        bar_w = self._bar.shape[1]
        x0 = (i * max(1, w // (2 * self.fps))) % max(1, w - bar_w)
        period = 2 * max(1, self.fps * 2)
        phase = i % period
        t = phase / (period / 2) if phase < period / 2 else 2 - phase / (period / 2)
        r = self._radius
        cx = int(r + t * (w - 2 * r))
        cy = int(h / 2 + (h / 4) * math.sin(i / max(1, self.fps) * 2 * math.pi))
        return x0, cx, cy

    def read(self) -> np.ndarray | I420Frame | None:
        frame = self._frame if self.format == "BGR" else self._i420
        if frame is None:
            return None
        for region in self._dirty:
            self._restore(region)
        self._dirty = []
        red, white = self._colours[self.format]
        x0, cx, cy = self._layout()
        r = self._radius
        self._paint(0, x0, self._bar, white, solid=True)
        self._paint(cy - r, cx - r, self._disc, red)
        digits = f"{self.index % 10**self.DIGITS_SHOWN:0{self.DIGITS_SHOWN}d}"
        for at, (digit, shown) in enumerate(zip(digits, self._digits)):
            if digit != shown:  # mostly the last one: one glyph copied a frame
                self._text[:, at] = self._glyphs[:, ord(digit) - 48]
        self._digits = digits
        self._paint(*self._text_at, self._text.reshape(self._text.shape[0], -1), white)
        code_plane = frame if isinstance(frame, np.ndarray) else frame.y
        write_code(code_plane, self.index, monotonic_ms())  # its whole band: never restored
        self.index += 1
        return frame

    def _paint(
        self, top: int, left: int, mask: np.ndarray, colour: object, solid: bool = False
    ) -> None:
        """Paint `colour` where `mask` is set (everywhere in its box if `solid`), its corner
        at (top, left), clipped to the frame; remember the box to restore. I420: the chroma
        of each 2x2 block whose top-left sample the mask covers."""
        region, window = _clip(top, left, mask, self.height, self.width)
        if region is None:
            return
        self._dirty.append(region)
        if self._frame is not None:
            box = self._frame[region]
            if solid:
                box[:] = colour
                return
            for c, value in enumerate(np.broadcast_to(np.asarray(colour, np.uint8), (3,))):
                np.copyto(box[..., c], value, where=window)  # a channel at a time: faster
            return
        frame = self._i420
        assert frame is not None
        ys, xs = region
        y, u, v = cast("tuple[int, int, int]", colour)
        if solid:
            frame.y[region] = y
        else:
            np.copyto(frame.y[region], y, where=window)
        half = window[ys.start % 2 :: 2, xs.start % 2 :: 2]
        at = (ys.start + 1) // 2, (xs.start + 1) // 2
        chroma = (slice(at[0], at[0] + half.shape[0]), slice(at[1], at[1] + half.shape[1]))
        if solid:
            frame.u[chroma], frame.v[chroma] = u, v
            return
        np.copyto(frame.u[chroma], u, where=half)
        np.copyto(frame.v[chroma], v, where=half)

    def close(self) -> None:
        self._frame = None
        self._i420 = self._background = None
        self._dirty = []


def _clip(
    top: int, left: int, mask: np.ndarray, height: int, width: int
) -> tuple[tuple[slice, slice] | None, np.ndarray]:
    """The frame region a mask placed at (top, left) covers, and the part of the mask in it."""
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(height, top + mask.shape[0]), min(width, left + mask.shape[1])
    if y0 >= y1 or x0 >= x1:
        return None, mask
    return (slice(y0, y1), slice(x0, x1)), mask[y0 - top : y1 - top, x0 - left : x1 - left]
