"""Capture with recovery: the source reader, the NO SIGNAL slate and the stall watchdog.

Two named threads per camera:

  capture   reads the source and pushes its frames. When a read fails (device gone, read
            error, a file that ended) or the watchdog flags a stall, it closes the source and
            re-opens it with exponential backoff capped at `source_retry_max_s`.
  watchdog  while the source is down or has delivered nothing for `stall_timeout_s`, ticks at
            the configured fps and pushes the slate, so the encoder and every RTSP client keep
            running at the configured size and rate; otherwise ticks a few times a second,
            enough to see a stall (`watch_period`).

Each fault is logged once when it starts and once when it ends, and counted in `FaultCounters`.
Nothing here schedules GLib callbacks (docs/gstreamer.md, fact 1).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..backoff import SOURCE_FIRST_S, Backoff
from ..errors import CameraStreamingError

if TYPE_CHECKING:
    import numpy as np

    from ..frames.i420 import I420Frame
    from . import FrameSource

log = logging.getLogger(__name__)


def join_threads(threads: list[threading.Thread], deadline: float) -> None:
    """Join every thread but the caller's by a shared monotonic deadline, then forget them."""
    for t in threads:
        if t is not threading.current_thread():
            t.join(max(0.0, deadline - time.monotonic()))
    threads.clear()


STOP_STEP_S = 0.1  # the capture thread sees a stop within this while it waits for a frame
HEALTHY_CHECK_S = 0.25  # the watchdog's tick while the source delivers (at most)


def watch_period(fps: int, stall_timeout_s: float, showing_slate: bool) -> float:
    """Seconds between watchdog ticks: a frame period while it pushes the slate; otherwise
    only often enough to see a stall (a quarter of its timeout, at most HEALTHY_CHECK_S), so
    a healthy camera does not wake a second thread at the frame rate for nothing."""
    period = 1.0 / fps
    if showing_slate:
        return period
    return max(period, min(HEALTHY_CHECK_S, stall_timeout_s / 4))


@dataclass
class FaultCounters:
    """Events counted since start. Ints replaced atomically; read without a lock."""

    source_lost: int = 0  # read failures or end of a non-looping file
    source_stalls: int = 0  # open but no frame for stall_timeout_s
    source_reopens: int = 0  # successful re-opens after a loss or stall
    reopen_failures: int = 0
    slate_frames: int = 0
    encoder_stalls: int = 0  # encoder rebuilt because frames went in but none came out


class Slate:
    """A pre-rendered "NO SIGNAL" BGR frame; the clock line is redrawn at most once a second
    into the same buffer. Drawn with OpenCV, which is imported here: the supervisor builds its
    slate the first time it shows it (a source that never fails loads no OpenCV for it)."""

    def __init__(self, width: int, height: int, label: str = "") -> None:
        import numpy as np

        self.frame = np.full((height, width, 3), 32, np.uint8)
        self._scale = max(0.35, height / 480)
        thick = max(1, int(self._scale * 2))
        self._put("NO SIGNAL", height // 2 - int(10 * self._scale), 1.6, thick + 1)
        if label:
            self._put(label[:48], height // 2 + int(30 * self._scale), 0.6, 1)
        self._clock_y = height - max(8, height // 10)
        top = max(0, self._clock_y - int(40 * self._scale))
        self._clock_band = (top, min(height, self._clock_y + int(14 * self._scale)))
        self._clean = self.frame[self._clock_band[0] : self._clock_band[1]].copy()
        self._shown_second = -1

    def _put(self, text: str, y: int, size: float, thick: int) -> None:
        import cv2

        font, scale = cv2.FONT_HERSHEY_SIMPLEX, size * self._scale
        (tw, _), _ = cv2.getTextSize(text, font, scale, thick)
        x = max(0, (self.frame.shape[1] - tw) // 2)
        cv2.putText(self.frame, text, (x, y), font, scale, (255, 255, 255), thick, cv2.LINE_AA)

    def render(self, now: float | None = None) -> np.ndarray:
        """The slate with the wall-clock time; the same array every call."""
        now = time.time() if now is None else now
        second = int(now)
        if second != self._shown_second:
            self._shown_second = second
            self.frame[self._clock_band[0] : self._clock_band[1]] = self._clean
            self._put(
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)), self._clock_y, 0.8, 1
            )
        return self.frame


class CaptureSupervisor:
    """Runs the capture and watchdog threads for one camera's source; `push` is the camera's
    `push_frame`. With no source (frames pushed through the API) nothing runs."""

    def __init__(
        self,
        source: FrameSource | None,
        push: Callable[[np.ndarray | I420Frame], bool],
        width: int,
        height: int,
        fps: int,
        stall_timeout_s: float = 2.0,
        retry_max_s: float = 1.0,
        name: str = "",
    ) -> None:
        self.source = source
        self._push = push
        self.fps = fps
        self.stall_timeout_s = stall_timeout_s
        self.backoff = Backoff(SOURCE_FIRST_S, retry_max_s)
        self._suffix = f"-{name}" if name else ""
        self.counters = FaultCounters()
        self.width, self.height = width, height
        self._slate: Slate | None = None  # built the first time it is shown
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_frame_at = time.monotonic()
        self._down = False  # the source failed and is being re-opened
        self._stalled = False  # the watchdog saw no frame for stall_timeout_s

    @property
    def slate(self) -> Slate:
        if self._slate is None:
            label = self.source.name if self.source is not None else ""
            self._slate = Slate(self.width, self.height, label)
        return self._slate

    @property
    def showing_slate(self) -> bool:
        return self._down or self._stalled

    def start(self) -> None:
        self._last_frame_at = time.monotonic()
        if self.source is None:
            return
        for name, target in (("watchdog", self._watchdog_loop), ("capture", self._capture_loop)):
            t = threading.Thread(target=target, name=name + self._suffix, daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        join_threads(self._threads, time.monotonic() + timeout)

    # -- capture thread ----------------------------------------------------------------------
    def _capture_loop(self) -> None:
        source = self.source
        assert source is not None
        period = 1.0 / self.fps
        next_t = time.monotonic()
        while not self._stop.is_set():
            if not source.paced:
                if not self._sleep_until(next_t):
                    break
                next_t += period
                if time.monotonic() - next_t > period:  # fell behind: do not burst
                    next_t = time.monotonic()
            frame = source.read()
            if self._stalled:  # the watchdog gave up on this source: re-open it
                self._reopen(lost=False)
                next_t = time.monotonic()
                continue
            if frame is None:
                self._reopen(lost=True)
                next_t = time.monotonic()
                continue
            self._last_frame_at = time.monotonic()
            self._push(frame)

    def _sleep_until(self, t: float) -> bool:
        """Sleep until monotonic time `t`, in steps of at most STOP_STEP_S; False once stopped.
        `time.sleep` costs half of what `Event.wait` does per frame (docs/memory.md)."""
        while (delay := t - time.monotonic()) > 0:
            if self._stop.is_set():
                return False
            time.sleep(min(delay, STOP_STEP_S))
        return not self._stop.is_set()

    def _reopen(self, lost: bool) -> None:
        """Close the source and open it again with backoff until it works or we stop. The
        watchdog pushes the slate meanwhile."""
        source = self.source
        assert source is not None
        if lost:
            self.counters.source_lost += 1
            log.warning("source %s stopped delivering frames; showing the slate", source.name)
        self._down = True
        failures = 0
        while not self._stop.is_set():
            source.close()
            try:
                source.open()
            except CameraStreamingError as exc:
                self.counters.reopen_failures += 1
                if failures == 0:
                    log.info("source %s cannot be re-opened yet (%s); retrying", source.name, exc)
                if self._stop.wait(self.backoff.delay(failures)):
                    return
                failures += 1
                continue
            self.counters.source_reopens += 1
            log.info("source %s re-opened after %d failed attempts", source.name, failures)
            break
        self._last_frame_at = time.monotonic()
        self._stalled = False
        self._down = False

    # -- watchdog thread ---------------------------------------------------------------------
    def _watchdog_loop(self) -> None:
        period = 1.0 / self.fps
        next_t = time.monotonic()
        while not self._stop.is_set():
            delay = next_t - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            now = time.monotonic()
            step = watch_period(self.fps, self.stall_timeout_s, self.showing_slate)
            next_t = max(next_t + step, now - period)
            if self.source is not None and not self._down and not self._stalled:
                if now - self._last_frame_at >= self.stall_timeout_s:
                    self._stalled = True
                    self.counters.source_stalls += 1
                    log.warning(
                        "source %s delivered no frame for %.1f s; showing the slate, re-opening",
                        self.source.name,  # (logged once per stall)
                        now - self._last_frame_at,
                    )
            if self._down or self._stalled:
                self.counters.slate_frames += 1
                self._push(self.slate.render())
