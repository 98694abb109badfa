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

from ..frames.i420 import I420Buffer, I420Frame, bgr_to_yuv, yuv_of
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


Region = tuple[slice, slice]
Shape = tuple[Region, np.ndarray, object, bool]  # region, the mask in it, colour, solid
HISTORY = 32  # frames whose shapes are remembered: a buffer holding one is brought up to date


class TestPatternSource(FrameSource):
    """A moving pattern (colour gradient, a sweeping bar, a bouncing disc, the frame number).

    BGR: drawn into one reused buffer. I420 (after `use_i420()`): `read()` returns a
    `PatternFrame` that draws itself into whichever buffer takes it (an encoder's pooled
    buffer, the snapshot's copy): no frame of its own, no copy, no colour conversion. Either
    way only what an earlier frame drew over is painted with the background again, each shape
    is one masked copy per plane, and a 720p I420 frame costs about 0.1 ms."""

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
        self._background: I420Buffer | None = None  # I420: open while set
        self._x = np.linspace(0, 255, width, dtype=np.float32)  # the gradient's axes
        self._y = np.linspace(0, 255, height, dtype=np.float32)
        self._dirty: list[Region] = []  # BGR: what the last frame drew over
        # I420: index -> (time code, regions drawn) of recent frames
        self._history: dict[int, tuple[int, list[Region]]] = {}
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
        cell = code_cell(w, h)  # the centre of every code cell, row 0 then row 1
        self._code_rows = np.repeat(np.array([cell // 2, cell + cell // 2]), CODE_BITS)
        self._code_cols = np.tile(np.arange(CODE_BITS) * cell + cell // 2, 2)

    def use_i420(self) -> None:
        """Draw I420 frames (`read()` returns a `PatternFrame`) from now on."""
        if self.width % 2 or self.height % 2:
            raise ValueError(f"I420 needs an even size, got {self.width}x{self.height}")
        was_open = self._frame is not None
        self.format = "I420"
        if was_open:
            self.open()

    def open(self) -> None:
        self._dirty = []
        self._history.clear()
        self.index = 0
        bgr = np.empty((self.height, self.width, 3), np.uint8)
        self._paint_background(bgr, (slice(None), slice(None)))
        if self.format == "BGR":
            self._frame = bgr
            return
        self._frame = None  # the BGR frame served only to paint the background
        self._background = background = I420Buffer.empty(self.width, self.height)
        y, u, v = bgr_to_yuv(bgr, self.height)
        background.y[:] = y.round()
        background.u[:] = ((u[0::2, 0::2] + u[1::2, 1::2]) / 2).round()
        background.v[:] = ((v[0::2, 0::2] + v[1::2, 1::2]) / 2).round()
        cell = code_cell(self.width, self.height)  # grey under the code: only luma codes
        background.u[:cell, : (CODE_BITS * cell + 1) // 2] = 128
        background.v[:cell, : (CODE_BITS * cell + 1) // 2] = 128
        red = yuv_of(tuple(int(c) for c in RED), self.height)  # type: ignore[arg-type]
        self._colours["I420"] = (red, (235, 128, 128))

    def _paint_background(self, frame: np.ndarray, region: Region) -> None:
        """The gradient (blue along x, green along y, red their mean) into `region`."""
        x = self._x[region[1]][None, :]
        y = self._y[region[0]][:, None]
        out = frame[region]
        out[:, :, 0] = x.astype(np.uint8)
        out[:, :, 1] = y.astype(np.uint8)
        out[:, :, 2] = ((x + y) / 2).astype(np.uint8)

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

    def _shapes(self) -> list[Shape]:
        """This frame's bar, disc and number, clipped to the frame. The number's mask is
        reused: valid until the next call."""
        red, white = self._colours[self.format]
        x0, cx, cy = self._layout()
        r = self._radius
        digits = f"{self.index % 10**self.DIGITS_SHOWN:0{self.DIGITS_SHOWN}d}"
        for at, (digit, shown) in enumerate(zip(digits, self._digits)):
            if digit != shown:  # mostly the last one: one glyph copied a frame
                self._text[:, at] = self._glyphs[:, ord(digit) - 48]
        self._digits = digits
        text = self._text.reshape(self._text.shape[0], -1)
        shapes: list[Shape] = []
        for top, left, mask, colour, solid in (
            (0, x0, self._bar, white, True),
            (cy - r, cx - r, self._disc, red, False),
            (*self._text_at, text, white, False),
        ):
            region, window = _clip(top, left, mask, self.height, self.width)
            if region is not None:
                shapes.append((region, window, colour, solid))
        return shapes

    def read(self) -> np.ndarray | I420Frame | None:
        if self.format == "I420":
            return self._read_i420()
        frame = self._frame
        if frame is None:
            return None
        for region in self._dirty:
            self._paint_background(frame, region)
        shapes = self._shapes()
        for region, window, colour, solid in shapes:
            _paint_bgr(frame[region], window, colour, solid)
        self._dirty = [shape[0] for shape in shapes]
        write_code(frame, self.index, monotonic_ms())  # its whole band: never restored
        self.index += 1
        return frame

    def _read_i420(self) -> PatternFrame | None:
        if self._background is None:
            return None
        shapes, time_ms = self._shapes(), monotonic_ms()
        self._history[self.index] = (time_ms, [shape[0] for shape in shapes])
        self._history.pop(self.index - HISTORY, None)
        frame = PatternFrame(self, shapes, self.index, time_ms)
        self.index += 1
        return frame

    def draw_into(self, view: np.ndarray, shapes: list[Shape], index: int, time_ms: int) -> None:
        """Make `view` (a whole I420 frame, flat) frame `index`. A buffer that already holds
        one of the last HISTORY frames (its code says which) only has that frame's shapes
        painted over with the background; any other gets the whole background first."""
        background = self._background
        assert background is not None
        target = I420Buffer(view, self.width, self.height)
        held = self._held(target.y)
        known = self._history.get(held[0]) if held is not None else None
        if known is None or held is None or known[0] != held[1]:
            np.copyto(target.data, background.data)
        else:
            target.y[self._code_rows[0], self._code_cols[0]] = 128  # unreadable until done
            for region in known[1]:
                _restore_i420(target, background, region)
        for region, window, colour, solid in shapes:
            _paint_i420(target, region, window, colour, solid)
        write_code(target.y, index, time_ms)  # last: the code says the frame is whole

    def _held(self, y: np.ndarray) -> tuple[int, int] | None:
        """The (index, time code) a buffer's Y plane holds, from the centre of each code cell
        alone; None where any centre is neither black nor white."""
        values = y[self._code_rows, self._code_cols]
        if ((values > 60) & (values < 195)).any():
            return None
        packed = np.packbits(values >= 128).tobytes()
        return int.from_bytes(packed[:4], "big"), int.from_bytes(packed[4:], "big")

    def close(self) -> None:
        self._frame = None
        self._background = None
        self._dirty = []
        self._history.clear()


class PatternFrame(I420Frame):
    """One I420 frame of the test pattern, drawn into each buffer that takes it (`fill`).
    Valid until its source's next `read()`."""

    __slots__ = ("_source", "_shapes", "index", "time_ms")

    def __init__(self, source: TestPatternSource, shapes: list[Shape], index: int, time_ms: int):
        super().__init__(source.width, source.height)
        self._source, self._shapes = source, shapes
        self.index, self.time_ms = index, time_ms

    def fill(self, view: np.ndarray) -> None:
        self._source.draw_into(view, self._shapes, self.index, self.time_ms)


def _paint_bgr(box: np.ndarray, window: np.ndarray, colour: object, solid: bool) -> None:
    """Paint `colour` into `box` where `window` is set (everywhere if `solid`)."""
    if solid:
        box[:] = colour
        return
    for c, value in enumerate(np.broadcast_to(np.asarray(colour, np.uint8), (3,))):
        np.copyto(box[..., c], value, where=window)  # a channel at a time: faster


def _chroma(region: Region) -> Region:
    """The chroma samples of every 2x2 block a luma region touches."""
    ys, xs = region
    return slice(ys.start // 2, (ys.stop + 1) // 2), slice(xs.start // 2, (xs.stop + 1) // 2)


def _restore_i420(frame: I420Buffer, background: I420Buffer, region: Region) -> None:
    """Paint the background back over `region` (luma coordinates) of `frame`."""
    frame.y[region] = background.y[region]
    half = _chroma(region)
    frame.u[half] = background.u[half]
    frame.v[half] = background.v[half]


def _paint_i420(
    frame: I420Buffer, region: Region, window: np.ndarray, colour: object, solid: bool
) -> None:
    """Paint the (Y, U, V) `colour` into `region` where `window` is set (everywhere if
    `solid`); chroma for each 2x2 block whose top-left sample the window covers."""
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


def _clip(
    top: int, left: int, mask: np.ndarray, height: int, width: int
) -> tuple[tuple[slice, slice] | None, np.ndarray]:
    """The frame region a mask placed at (top, left) covers, and the part of the mask in it."""
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(height, top + mask.shape[0]), min(width, left + mask.shape[1])
    if y0 >= y1 or x0 >= x1:
        return None, mask
    return (slice(y0, y1), slice(x0, x1)), mask[y0 - top : y1 - top, x0 - left : x1 - left]
