"""The frame path before the encoders: the camera's frame resized into a reused BGR buffer at
the capture size, the user hook run on it once, then each stream's own resize and I420
conversion (into the encoder's pooled buffer). Nothing here allocates per frame.

OpenCV is imported only when a frame needs it: a resize, a gray or BGRA frame, a JPEG
snapshot, or an I420 conversion in a process that has OpenCV loaded anyway. Buffers are
allocated on first use, so a frame path that never resizes holds none."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import time
from typing import Callable

import numpy as np

from ..errors import ConfigError
from .i420 import I420Buffer, I420Frame

log = logging.getLogger(__name__)

FrameHook = Callable[[np.ndarray], object]


def resize_interpolation(src_w: int, src_h: int, dst_w: int, dst_h: int) -> int | None:
    """OpenCV interpolation for a resize, or None when the sizes match (no resize)."""
    if (src_w, src_h) == (dst_w, dst_h):
        return None
    import cv2

    if dst_w * dst_h < src_w * src_h:
        return int(cv2.INTER_AREA)
    return int(cv2.INTER_LINEAR)


def load_hook(spec: str) -> FrameHook:
    """Import `module:function` (the module may be a dotted name or a path to a .py file)."""
    mod_name, _, fn_name = spec.partition(":")
    try:
        if mod_name.endswith(".py"):
            spec_obj = importlib.util.spec_from_file_location("camera_streaming_hook", mod_name)
            if spec_obj is None or spec_obj.loader is None:
                raise ImportError(mod_name)
            module = importlib.util.module_from_spec(spec_obj)
            spec_obj.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except Exception as exc:  # the user's module: any import failure is a config error
        raise ConfigError("hook", f"cannot import {mod_name!r}: {exc}") from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise ConfigError("hook", f"{mod_name!r} has no function {fn_name!r}")
    return fn  # type: ignore[no-any-return]


class FrameProcessor:
    """Turns any frame into the camera's BGR frame at the capture size (`prepare`), hooked and
    overlaid, and that into I420 at the same size (`process`).

    The hook contract: `hook(frame)` gets the BGR frame at the capture size, once per captured
    frame, may draw on it in place (every stream of the camera shows the drawing), must be
    quick. If it raises, the traceback is logged once, the error counted, and streaming goes
    on with the frame as it is.
    """

    def __init__(
        self,
        width: int,
        height: int,
        hook: FrameHook | None = None,
        overlay: FrameHook | None = None,
    ) -> None:
        self.width, self.height = width, height
        self.hook = hook
        self.overlay = overlay  # drawn after the hook (the built-in --overlay)
        self._bgr: np.ndarray | None = None  # allocated on first use (a resize, a hook)
        self._i420: np.ndarray | None = None  # process() only
        self.hook_errors = 0
        self.hook_seconds = 0.0  # total time spent in the hook
        self._hook_logged = False

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Return the reused I420 buffer holding `frame` resized, hooked and converted.
        Valid until the next call."""
        import cv2

        if self._i420 is None:
            self._i420 = np.empty((self.height * 3 // 2, self.width), np.uint8)
        cv2.cvtColor(self.prepare(frame), cv2.COLOR_BGR2YUV_I420, dst=self._i420)
        return self._i420

    def _buffer(self) -> np.ndarray:
        if self._bgr is None:
            self._bgr = np.empty((self.height, self.width, 3), np.uint8)
        return self._bgr

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """Return `frame` as BGR at the capture size, hooked and overlaid: a reused buffer (or
        `frame` itself when nothing needs changing). Valid until the next call."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            frame = self._to_bgr(frame)
        h, w = frame.shape[:2]
        interp = resize_interpolation(w, h, self.width, self.height)
        if interp is not None:
            import cv2

            bgr = self._buffer()
            cv2.resize(frame, (self.width, self.height), dst=bgr, interpolation=interp)
        elif self.hook is not None or self.overlay is not None:
            bgr = self._buffer()
            np.copyto(bgr, frame)  # never draw on the caller's or the source's array
        else:
            bgr = frame
        if self.hook is not None:
            self._run_hook(bgr)
        if self.overlay is not None:
            self.overlay(bgr)
        return bgr

    def _to_bgr(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        if frame.dtype != np.uint8:
            raise ValueError(f"frames must be uint8, got {frame.dtype}")
        if frame.ndim == 2:
            code = cv2.COLOR_GRAY2BGR
        elif frame.ndim == 3 and frame.shape[2] == 4:
            code = cv2.COLOR_BGRA2BGR
        else:
            raise ValueError(
                f"frames must be HxWx3 BGR, HxWx4 BGRA or HxW gray, got shape {frame.shape}"
            )
        h, w = frame.shape[:2]
        if (w, h) == (self.width, self.height):
            return cv2.cvtColor(frame, code, dst=self._buffer())  # type: ignore[no-any-return]
        return cv2.cvtColor(frame, code)  # rare: wrong size and format; resized next

    def _run_hook(self, bgr: np.ndarray) -> None:
        assert self.hook is not None
        t0 = time.perf_counter()
        try:
            self.hook(bgr)
        except Exception:  # the user's code: log once, count, keep streaming
            self.hook_errors += 1
            if not self._hook_logged:
                self._hook_logged = True
                log.exception("frame hook raised; counting further errors silently")
        self.hook_seconds += time.perf_counter() - t0


class StreamScaler:
    """One stream's view of the camera's BGR frames: resized into a reused BGR buffer when the
    stream is smaller (or larger), converted to I420 into the buffer it is given (the
    encoder's pooled buffer: no copy in between)."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._bgr: np.ndarray | None = None  # allocated on the first resize

    def resized(self, bgr: np.ndarray) -> np.ndarray:
        """`bgr` at this stream's size: `bgr` itself, or the reused buffer it was resized to."""
        h, w = bgr.shape[:2]
        interp = resize_interpolation(w, h, self.width, self.height)
        if interp is None:
            return bgr
        import cv2

        if self._bgr is None:
            self._bgr = np.empty((self.height, self.width, 3), np.uint8)
        cv2.resize(bgr, (self.width, self.height), dst=self._bgr, interpolation=interp)
        return self._bgr

    def i420_into(self, out: np.ndarray, bgr: np.ndarray) -> None:
        """Resize `bgr` if needed and convert it to I420 into `out`, a flat uint8 array of
        width * height * 3 / 2 bytes."""
        import cv2

        dst = out.reshape(self.height * 3 // 2, self.width)
        res = cv2.cvtColor(self.resized(bgr), cv2.COLOR_BGR2YUV_I420, dst=dst)
        if res is not dst and not np.shares_memory(res, dst):
            np.copyto(dst, res)  # OpenCV allocated its own (it must not: sizes match)


class LatestFrame:
    """One reused copy of the latest streamed BGR frame, for `/snapshot.jpg`; JPEG-encoded on
    request. Nothing is copied until someone asks: a request opens a `keep_s` window during
    which the frame path copies at most `max_fps` frames a second (`due()` then `keep()`);
    `jpeg()` waits for that copy and caches the JPEG for 1/`max_fps` s. No second encoder."""

    def __init__(self, max_fps: float = 4.0, keep_s: float = 10.0) -> None:
        self.period = 1.0 / max_fps
        self.keep_s = keep_s
        self._kept: np.ndarray | None = None  # BGR, or I420 bytes; allocated on the first copy
        self._kept_size: tuple[int, int] | None = None  # (height, width) when I420
        self._lock = threading.Lock()
        self._copied_at = 0.0
        self._copied = threading.Event()
        self._wanted_until = 0.0
        self._jpeg_lock = threading.Lock()
        self._jpeg: bytes | None = None
        self._jpeg_at = 0.0
        self.encodes = 0

    def due(self, now: float) -> bool:
        """True when the frame path should `keep()` the frame it is processing."""
        return now < self._wanted_until and now - self._copied_at >= self.period

    def keep(self, frame: np.ndarray | I420Frame | None, now: float) -> None:
        """Copy the frame (BGR, or I420: converted only when the JPEG is made)."""
        if frame is None:
            return
        shape = (frame.size,) if isinstance(frame, I420Frame) else frame.shape
        with self._lock:
            if self._kept is None or self._kept.shape != shape:
                self._kept = np.empty(shape, np.uint8)
            if isinstance(frame, I420Frame):
                frame.fill(self._kept)  # a drawn frame draws itself (the test pattern)
                self._kept_size = frame.shape
            else:
                np.copyto(self._kept, frame)
                self._kept_size = None
            self._copied_at = now
        self._copied.set()

    def jpeg(self, quality: int = 80, wait_s: float = 1.0) -> bytes | None:
        with self._jpeg_lock:
            now = time.monotonic()
            if self._jpeg is not None and now - self._jpeg_at < self.period:
                return self._jpeg
            self._copied.clear()
            self._wanted_until = now + self.keep_s
            if now - self._copied_at > 2 * self.period:
                self._copied.wait(wait_s)  # the frame path copies its next frame
            import cv2

            with self._lock:
                if self._kept is None:
                    return None
                bgr = self._kept
                if self._kept_size is not None:
                    bgr = I420Buffer(bgr, self._kept_size[1], self._kept_size[0]).to_bgr()
                ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                return None
            self.encodes += 1
            self._jpeg, self._jpeg_at = buf.tobytes(), time.monotonic()
            return self._jpeg
