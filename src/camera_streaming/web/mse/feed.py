"""One stream's MSE feed: a consumer of the stream's encode that packs each access unit into
one fMP4 fragment, once, and offers it to every viewer's bounded queue.

Threads: `deliver()` runs on the encoder's streaming thread: it packs the fragment and queues
it for each viewer, then calls each viewer's `wake` (the web layer's thread-safe hand-over to
its event loop, which sends what is queued). Viewers are added and removed from the web
layer's thread; the viewer tuple is replaced, never mutated, so delivery takes no lock for
it. Nothing here touches GLib per frame.

The feed is attached to the encoder only while it has viewers: the last one leaving detaches
it, and with no other consumer the stream stops encoding (`wants_frames`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from ...streams.consumer import KeyframeQueue
from . import fmp4

log = logging.getLogger(__name__)

VIEWER_QUEUE_UNITS = 90  # about 3 s at 30 fps; more is a viewer that cannot keep up
VIEWER_QUEUE_BYTES = 8 << 20
NO_TIME = (1 << 64) - 1  # GST_CLOCK_TIME_NONE
SECOND = 1_000_000_000
MAX_STEP = SECOND  # a PTS leap larger than this (or a step back) restarts the timeline


class Viewer:
    """One browser's WebSocket: its queue of fragments and how to wake its sender."""

    __slots__ = ("queue", "wake", "lock", "init_sent", "sent_bytes", "sent_units")

    def __init__(self, wake: Callable[[], None]) -> None:
        self.queue: KeyframeQueue[bytes] = KeyframeQueue(VIEWER_QUEUE_UNITS, VIEWER_QUEUE_BYTES)
        self.wake = wake
        self.lock = threading.Lock()
        self.init_sent = False
        self.sent_bytes = 0
        self.sent_units = 0

    def take(self) -> bytes | None:
        with self.lock:
            return self.queue.take()

    @property
    def dropped(self) -> int:
        return self.queue.dropped


class MseFeed:
    """Register viewers with `add_viewer()` / `remove_viewer()` from the web layer; the feed
    adds itself to the encoder's consumers with the first viewer and leaves with the last.

    `codec` is the stream's (`h264` or `h265`): only H.264 is packed (`playable`)."""

    def __init__(
        self, encoder: Any, width: int, height: int, fps: int, codec: str = "h264"
    ) -> None:
        self.encoder = encoder
        self.width, self.height, self.fps = width, height, fps
        self.playable = codec == "h264"
        self.duration = fmp4.TIMESCALE // max(1, fps)
        self._viewers: tuple[Viewer, ...] = ()
        self._lock = threading.Lock()
        # (codecs parameter, init segment), once the first SPS/PPS came: one attribute, so
        # the web thread never sees one without the other
        self.header: tuple[str, bytes] | None = None
        self._params: tuple[bytes, bytes] | None = None  # the SPS and PPS it was built from
        self._sequence = 0
        self._origin: tuple[int, int] | None = None  # (PTS, decode time) the timeline counts from
        self._last: tuple[int, int] | None = None  # (PTS, decode time) of the last fragment
        self.fragments = 0
        self.viewers_joined = 0
        self.viewers_left = 0
        self.dropped_closed = 0  # drops of viewers that have left

    # -- viewers (web thread) ------------------------------------------------------------------
    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def dropped(self) -> int:
        return self.dropped_closed + sum(v.dropped for v in self._viewers)

    def add_viewer(self, wake: Callable[[], None]) -> Viewer:
        viewer = Viewer(wake)
        with self._lock:
            first = not self._viewers
            self._viewers = (*self._viewers, viewer)
            self.viewers_joined += 1
        if first:
            self.encoder.add_consumer(self)
        self.encoder.request_keyframe()  # the newcomer starts on a fresh IDR
        return viewer

    def remove_viewer(self, viewer: Viewer) -> None:
        with self._lock:
            if viewer not in self._viewers:
                return
            self._viewers = tuple(v for v in self._viewers if v is not viewer)
            self.viewers_left += 1
            self.dropped_closed += viewer.dropped
            last = not self._viewers
            if last:
                self.encoder.remove_consumer(self)
        with viewer.lock:
            viewer.queue.clear()

    def stop(self) -> None:
        with self._lock:
            viewers, self._viewers = self._viewers, ()
            self.viewers_left += len(viewers)
            self.dropped_closed += sum(v.dropped for v in viewers)
            self.encoder.remove_consumer(self)
        for v in viewers:
            with v.lock:
                v.queue.clear()

    # -- encoder output (encoder streaming thread) -------------------------------------------
    @property
    def wants_frames(self) -> bool:
        return bool(self._viewers)

    def deliver(self, buffer: Any, is_key: bool) -> None:
        viewers = self._viewers
        if not viewers or not self.playable:
            return
        units = fmp4.nal_units(buffer.extract_dup(0, buffer.get_size()))
        changed = False
        if is_key:
            params = fmp4.parameter_sets(units)
            if params is not None and params != self._params:
                changed = self._params is not None
                self._params = params
                init = fmp4.init_segment(*params, self.width, self.height)
                self.header = (fmp4.codec_string(params[0]), init)
        if self.header is None:
            return  # nothing a browser can use before the first SPS/PPS
        self._sequence += 1
        frag = fmp4.fragment(
            self._sequence,
            self.decode_time(buffer.pts),
            self.duration,
            fmp4.avcc_sample(units),
            is_key,
        )
        if changed:  # new parameter sets (a rebuilt encoder): viewers get the new init first
            frag = self.header[1] + frag
        self.fragments += 1
        size = len(frag)
        for viewer in viewers:
            with viewer.lock:
                queued = viewer.queue.offer(frag, size, is_key)
            if queued:
                viewer.wake()

    def decode_time(self, pts: int) -> int:
        """The fragment's decode time in 90 kHz ticks, from the buffer's PTS (nanoseconds).
        It only moves forward: a PTS that is missing continues one frame after the last; one
        that goes back (a rebuilt encoder starts its own timeline) or leaps ahead by more
        than `MAX_STEP` restarts the timeline one frame after the last fragment."""
        last = self._last
        if pts == NO_TIME:
            pts = last[0] + SECOND // max(1, self.fps) if last is not None else 0
        origin = self._origin
        if origin is None or last is None:
            origin = (pts, 0)
        elif pts <= last[0] or pts - last[0] > MAX_STEP:
            origin = (pts, last[1] + self.duration)
        self._origin = origin
        dt = origin[1] + (pts - origin[0]) * fmp4.TIMESCALE // SECOND
        self._last = (pts, dt)
        return dt
