"""Frames that are already I420, the encoders' input: a source that can make them (the test
pattern draws straight into I420) hands them on when nothing on the camera's frame path needs
BGR (no hook, no overlay, no resize), and each stream has them written into its encoder's
pooled buffer (`I420Frame.fill`) with no colour conversion at all (docs/memory.md, "The I420
frame path").

Colours follow the colorimetry GStreamer assumes for I420 caps that name none: BT.709 above
576 lines, BT.601 up to it, both limited range (Y 16-235), so a frame drawn here looks as the
same BGR frame converted by `videoconvert` would."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # NumPy is imported on use: the stream module names this class, and a
    import numpy as np  # `gst:` camera, whose frames never reach Python, loads no NumPy

# (Kr, Kb) of the luma equation Y = Kr R + (1 - Kr - Kb) G + Kb B
BT601 = (0.299, 0.114)
BT709 = (0.2126, 0.0722)


def luma_chroma_matrix(height: int) -> tuple[float, float]:
    """The (Kr, Kb) GStreamer assumes for I420 frames of this height."""
    return BT709 if height > 576 else BT601


def bgr_to_yuv(bgr: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Limited-range Y, U, V (float32, same shape as `bgr[..., 0]`) of BGR values (any shape
    ending in 3), in the colorimetry of a frame `height` lines tall."""
    import numpy as np

    kr, kb = luma_chroma_matrix(height)
    b, g, r = (bgr[..., i].astype(np.float32) / 255.0 for i in range(3))
    y = kr * r + (1.0 - kr - kb) * g + kb * b
    u = (b - y) / (2.0 * (1.0 - kb))
    v = (r - y) / (2.0 * (1.0 - kr))
    return 16.0 + 219.0 * y, 128.0 + 224.0 * u, 128.0 + 224.0 * v


def yuv_of(bgr: tuple[int, int, int], height: int) -> tuple[int, int, int]:
    """One BGR colour as limited-range (Y, U, V) integers."""
    import numpy as np

    y, u, v = bgr_to_yuv(np.array(bgr, np.uint8), height)
    return round(float(y)), round(float(u)), round(float(v))


class I420Frame:
    """A frame in I420 of `width` x `height` (even sizes only), as the encoders take it: it
    writes itself into a buffer (`fill`). `I420Buffer` holds one in memory; a source that
    draws (the test pattern) returns frames that draw themselves straight into each encoder's
    pooled buffer instead, with no frame of its own to copy from."""

    __slots__ = ("width", "height")

    def __init__(self, width: int, height: int) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"I420 needs an even size, got {width}x{height}")
        self.width, self.height = width, height

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width), as a frame's first two dimensions."""
        return self.height, self.width

    @property
    def size(self) -> int:
        """Bytes of the whole frame: the Y plane, then U and V at half the width and height."""
        return self.width * self.height * 3 // 2

    def fill(self, view: np.ndarray) -> None:
        """Write the frame into `view`, `size` bytes of flat uint8."""
        raise NotImplementedError

    def to_bgr(self) -> np.ndarray:
        """A new BGR array of this frame (OpenCV; for a snapshot, not per frame)."""
        buffer = I420Buffer.empty(self.width, self.height)
        self.fill(buffer.data)
        return buffer.to_bgr()


class I420Buffer(I420Frame):
    """An I420 frame in memory: `data` holds it whole; the planes `y`, `u`, `v` are views."""

    __slots__ = ("data", "y", "u", "v")

    def __init__(self, data: np.ndarray, width: int, height: int) -> None:
        import numpy as np

        super().__init__(width, height)
        if data.dtype != np.uint8 or data.size != self.size:
            raise ValueError(f"I420 {width}x{height} needs {self.size} bytes")
        self.data = data.reshape(-1)
        n, q = width * height, width * height // 4
        self.y = self.data[:n].reshape(height, width)
        self.u = self.data[n : n + q].reshape(height // 2, width // 2)
        self.v = self.data[n + q :].reshape(height // 2, width // 2)

    @classmethod
    def empty(cls, width: int, height: int) -> I420Buffer:
        import numpy as np

        return cls(np.empty(width * height * 3 // 2, np.uint8), width, height)

    def fill(self, view: np.ndarray) -> None:
        view[:] = self.data

    def to_bgr(self) -> np.ndarray:
        import cv2

        planar = self.data.reshape(self.height * 3 // 2, self.width)
        return cv2.cvtColor(planar, cv2.COLOR_YUV2BGR_I420)  # type: ignore[no-any-return]
