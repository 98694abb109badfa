"""One stream's MSE feed: a consumer of the stream's encode that packs each access unit into
one fMP4 fragment, once, and offers it to every viewer's bounded queue.

Threads: `deliver()` runs on the encoder's streaming thread: it packs the fragment and queues
it for each viewer, then calls each viewer's `wake` (the web layer's thread-safe hand-over to
its event loop, which sends what is queued). Viewers are added and removed from the web
layer's thread; the viewer tuple is replaced, never mutated, so delivery takes no lock for
it. Nothing here touches GLib per frame.
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
    """Register with `encoder.add_consumer(feed)`; `add_viewer()` / `remove_viewer()` from
    the web layer."""

    def __init__(self, encoder: Any, width: int, height: int, fps: int) -> None:
        self.encoder = encoder
        self.width, self.height = width, height
        self.duration = fmp4.TIMESCALE // max(1, fps)
        self._viewers: tuple[Viewer, ...] = ()
        self._lock = threading.Lock()
        self.init: bytes | None = None  # the init segment, once the first SPS/PPS came
        self.codec = ""  # "avc1.64001f", for MediaSource.addSourceBuffer
        self._sequence = 0
        self._first_pts: int | None = None
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
        with viewer.lock:
            viewer.queue.clear()
        if last:
            self.encoder.remove_consumer(self)

    def stop(self) -> None:
        with self._lock:
            viewers, self._viewers = self._viewers, ()
        for v in viewers:
            with v.lock:
                v.queue.clear()
        self.encoder.remove_consumer(self)

    # -- encoder output (encoder streaming thread) -------------------------------------------
    @property
    def wants_frames(self) -> bool:
        return bool(self._viewers)

    def deliver(self, buffer: Any, is_key: bool) -> None:
        viewers = self._viewers
        if not viewers:
            return
        data = buffer.extract_dup(0, buffer.get_size())
        units = fmp4.nal_units(data)
        if is_key and self.init is None:
            params = fmp4.parameter_sets(units)
            if params is not None:
                self.init = fmp4.init_segment(*params, self.width, self.height)
                self.codec = fmp4.codec_string(params[0])
        if self.init is None:
            return  # nothing a browser can use before the first SPS/PPS
        pts = buffer.pts
        if pts == NO_TIME:  # unstamped: count frame times instead
            pts = (self._first_pts or 0) + self._sequence * 1_000_000_000 // fmp4.TIMESCALE * (
                self.duration
            )
        if self._first_pts is None or pts < self._first_pts:  # the first, or a rebuilt encoder
            self._first_pts = pts
        decode_time = (pts - self._first_pts) * fmp4.TIMESCALE // 1_000_000_000
        self._sequence += 1
        frag = fmp4.fragment(
            self._sequence, decode_time, self.duration, fmp4.avcc_sample(units), is_key
        )
        self.fragments += 1
        size = len(frag)
        for viewer in viewers:
            with viewer.lock:
                queued = viewer.queue.offer(frag, size, is_key)
            if queued:
                viewer.wake()
