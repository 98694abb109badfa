"""One stream's WebRTC viewers as one consumer of the stream's encode: each access unit goes
to every viewer's pipeline as a shallow copy (session.py), and the figures the stats show.

Threads: `deliver()` runs on the encoder's streaming thread and reads the viewer tuple
without a lock (it is replaced, never mutated); viewers are added and removed from the WHEP
workers and the reaper. The first viewer attaches the feed to the encoder, the last one
detaches it, so an unwatched stream costs nothing here.
"""

from __future__ import annotations

import threading
from typing import Any

from .session import WebRtcSession


class WebRtcFeed:
    def __init__(self, path: str, encoder: Any, clock: Any, queue_bytes: int) -> None:
        self.path = path
        self.encoder = encoder  # the stream's EncodedBranch
        self._clock = clock  # the clock every viewer's pipeline runs on
        self.queue_bytes = queue_bytes  # bound of each viewer's appsrc (about 1 s of video)
        self._lock = threading.Lock()
        self._sessions: tuple[WebRtcSession, ...] = ()
        self.joined = 0
        self.left = 0  # ended by the viewer (DELETE)
        self.dropped_viewers = 0  # ended by us: silent, ICE failed, pipeline error, stop
        self.keyframe_requests = 0
        self._bytes_closed = 0
        self._dropped_closed = 0

    # -- figures -----------------------------------------------------------------------------
    @property
    def viewers(self) -> int:
        return len(self._sessions)

    @property
    def bytes_sent(self) -> int:
        return self._bytes_closed + sum(s.bytes for s in self._sessions)

    @property
    def dropped(self) -> int:
        """Access units dropped because a viewer's queue was full."""
        return self._dropped_closed + sum(s.dropped for s in self._sessions)

    # -- viewers -----------------------------------------------------------------------------
    def add(self, session: WebRtcSession) -> None:
        with self._lock:
            first = not self._sessions
            self._sessions = (*self._sessions, session)
            self.joined += 1
        if first:
            self.encoder.add_consumer(self)

    def remove(self, session: WebRtcSession, by_viewer: bool) -> bool:
        """Stop feeding `session`; False when it was not fed here (already removed)."""
        with self._lock:
            if session not in self._sessions:
                return False
            self._sessions = tuple(s for s in self._sessions if s is not session)
            last = not self._sessions
            if by_viewer:
                self.left += 1
            else:
                self.dropped_viewers += 1
            self._bytes_closed += session.bytes
            self._dropped_closed += session.dropped
        if last:
            self.encoder.remove_consumer(self)
        return True

    def request_keyframe(self) -> None:
        """A viewer connected or lost a picture; the encoder coalesces requests still pending."""
        self.keyframe_requests += 1
        self.encoder.request_keyframe()

    # -- the encoder's streaming thread ------------------------------------------------------
    @property
    def wants_frames(self) -> bool:
        return bool(self._sessions)

    def deliver(self, buffer: Any, is_key: bool) -> None:
        sessions = self._sessions
        if not sessions:
            return
        now = self._clock.get_time()
        for session in sessions:
            session.deliver(buffer, is_key, now)
