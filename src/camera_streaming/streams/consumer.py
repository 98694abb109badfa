"""The policy every viewer of a stream follows (pure: no GStreamer, no clock): a bounded queue
of encoded units that never blocks the encoder. A viewer starts on a keyframe; when its queue
is full it drops what it has and skips to the next keyframe (a freeze of at most one GOP, never
a broken picture), counting every unit it dropped. Units passed over before its first keyframe
are not drops (the viewer has not started yet): they are counted apart, as `waited`."""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class KeyframeQueue(Generic[T]):
    """Units in, in order, up to `max_units` and `max_bytes` waiting. `offer()` from the
    producer's thread and `take()` from the consumer's are meant to be called under the
    owner's lock (or from one thread)."""

    def __init__(self, max_units: int = 60, max_bytes: int = 4 << 20) -> None:
        self.max_units = max_units
        self.max_bytes = max_bytes
        self._units: deque[tuple[T, int]] = deque()
        self._bytes = 0
        self.waiting_key = True  # a new viewer starts on a keyframe
        self.started = False  # a keyframe has been queued
        self.waited = 0  # units passed over before the first keyframe
        self.dropped = 0  # units dropped after the start: queue full, then until a keyframe
        self.skips = 0  # times the viewer fell behind and skipped to the next keyframe

    def __len__(self) -> int:
        return len(self._units)

    @property
    def bytes(self) -> int:
        return self._bytes

    def offer(self, unit: T, size: int, is_key: bool) -> bool:
        """Queue `unit` (of `size` bytes); False when it was dropped."""
        if self.waiting_key and not is_key:
            if self.started:
                self.dropped += 1
            else:
                self.waited += 1
            return False
        if len(self._units) >= self.max_units or self._bytes + size > self.max_bytes:
            # Behind: everything queued goes, and so does this unit unless it is a keyframe
            # the viewer can start again from.
            self.dropped += len(self._units)
            self.skips += 1
            self._units.clear()
            self._bytes = 0
            if not is_key:
                self.dropped += 1
                self.waiting_key = True
                return False
        self.waiting_key = False
        self.started = True
        self._units.append((unit, size))
        self._bytes += size
        return True

    def take(self) -> T | None:
        """The oldest unit, or None when empty."""
        if not self._units:
            return None
        unit, size = self._units.popleft()
        self._bytes -= size
        return unit

    def clear(self) -> None:
        self._units.clear()
        self._bytes = 0
