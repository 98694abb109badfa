"""The frame path before the encoders: the camera's frame resized into a reused BGR buffer at
the capture size, the user hook run on it once, then each stream's own resize and I420
conversion into its own reused buffers. Nothing here allocates per frame."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import time
from typing import Callable

import cv2
import numpy as np

from ..errors import ConfigError

log = logging.getLogger(__name__)

FrameHook = Callable[[np.ndarray], object]


def resize_interpolation(src_w: int, src_h: int, dst_w: int, dst_h: int) -> int | None:
    """OpenCV interpolation for a resize, or None when the sizes match (no resize)."""
    if (src_w, src_h) == (dst_w, dst_h):
        return None
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
        self.last_bgr: np.ndarray | None = None  # the last BGR frame encoded (a reference)
        self._bgr = np.empty((height, width, 3), np.uint8)
        self._i420 = np.empty((height * 3 // 2, width), np.uint8)
        self.hook_errors = 0
        self.hook_seconds = 0.0  # total time spent in the hook
        self._hook_logged = False

    def process(self, frame: np.ndarray) -> np.ndarray:
        """Return the reused I420 buffer holding `frame` resized, hooked and converted.
        Valid until the next call."""
        cv2.cvtColor(self.prepare(frame), cv2.COLOR_BGR2YUV_I420, dst=self._i420)
        return self._i420

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """Return `frame` as BGR at the capture size, hooked and overlaid: a reused buffer (or
        `frame` itself when nothing needs changing). Valid until the next call."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            frame = self._to_bgr(frame)
        h, w = frame.shape[:2]
        interp = resize_interpolation(w, h, self.width, self.height)
        if interp is not None:
            cv2.resize(frame, (self.width, self.height), dst=self._bgr, interpolation=interp)
            bgr = self._bgr
        elif self.hook is not None or self.overlay is not None:
            np.copyto(self._bgr, frame)  # never draw on the caller's or the source's array
            bgr = self._bgr
        else:
            bgr = frame
        if self.hook is not None:
            self._run_hook(bgr)
        if self.overlay is not None:
            self.overlay(bgr)
        self.last_bgr = bgr
        return bgr

    def _to_bgr(self, frame: np.ndarray) -> np.ndarray:
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
            cv2.cvtColor(frame, code, dst=self._bgr)
            return self._bgr
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


def i420_planes(i420: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of an I420 frame stored as a (h*3/2, w) array."""
    h, w = i420.shape[0] * 2 // 3, i420.shape[1]
    flat = i420.reshape(-1)
    y = flat[: w * h].reshape(h, w)
    u = flat[w * h : w * h * 5 // 4].reshape(h // 2, w // 2)
    v = flat[w * h * 5 // 4 :].reshape(h // 2, w // 2)
    return y, u, v


class StreamScaler:
    """One stream's view of the camera's frames, in reused buffers: from BGR (resized when the
    stream's size differs, then converted to I420), or, cheaper, from another stream's I420
    frame at the camera's size (each plane resized: 51 us against 240 us for 1280x720 ->
    640x360 here, as the BGR resize + conversion costs)."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._bgr = np.empty((height, width, 3), np.uint8)
        self._i420 = np.empty((height * 3 // 2, width), np.uint8)
        self._planes = i420_planes(self._i420)

    def i420_from_i420(self, i420: np.ndarray) -> np.ndarray:
        """A larger I420 frame resized plane by plane into this stream's I420 buffer."""
        for src, dst in zip(i420_planes(i420), self._planes):
            cv2.resize(src, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=cv2.INTER_AREA)
        return self._i420

    def i420(self, bgr: np.ndarray) -> np.ndarray:
        """`bgr` at this stream's size in I420; the same buffer every call."""
        h, w = bgr.shape[:2]
        interp = resize_interpolation(w, h, self.width, self.height)
        if interp is not None:
            cv2.resize(bgr, (self.width, self.height), dst=self._bgr, interpolation=interp)
            bgr = self._bgr
        cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420, dst=self._i420)
        return self._i420


class LatestFrame:
    """One reused copy of the latest streamed BGR frame, for `/snapshot.jpg`; JPEG-encoded on
    request. Nothing is copied until someone asks: a request opens a `keep_s` window during
    which the frame path copies at most `max_fps` frames a second (`due()` then `keep()`);
    `jpeg()` waits for that copy and caches the JPEG for 1/`max_fps` s. No second encoder."""

    def __init__(self, max_fps: float = 4.0, keep_s: float = 10.0) -> None:
        self.period = 1.0 / max_fps
        self.keep_s = keep_s
        self._bgr: np.ndarray | None = None  # allocated once, on the first copy
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

    def keep(self, bgr: np.ndarray | None, now: float) -> None:
        if bgr is None:
            return
        with self._lock:
            if self._bgr is None or self._bgr.shape != bgr.shape:
                self._bgr = np.empty_like(bgr)
            np.copyto(self._bgr, bgr)
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
            with self._lock:
                if self._bgr is None:
                    return None
                ok, buf = cv2.imencode(".jpg", self._bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                return None
            self.encodes += 1
            self._jpeg, self._jpeg_at = buf.tobytes(), time.monotonic()
            return self._jpeg
