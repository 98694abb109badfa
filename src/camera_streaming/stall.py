"""Stall detection for an encoder: frames go in, nothing comes out. Pure: the caller passes
the counters and the time, once a second or so, and rebuilds the encoder when told."""

from __future__ import annotations

# An encoder is declared stalled after max(limit_s, this): a cold x264 pipeline takes ~1 s to
# its first access unit (docs/gstreamer.md, fact 15), more on a loaded board, and a shorter
# limit would rebuild a healthy encoder again and again.
ENCODER_MIN_STALL_S = 2.0


class EncoderStall:
    """Tracks (frames offered, access units out) at the last sign of progress."""

    def __init__(self, limit_s: float, now: float) -> None:
        self.limit_s = max(limit_s, ENCODER_MIN_STALL_S)
        self._offered = 0
        self._out = 0
        self._since = now

    def check(self, offered: int, out: int, now: float) -> bool:
        """True when at least two frames went in and nothing came out for `limit_s`."""
        if out != self._out or offered == self._offered:
            self.reset(offered, out, now)  # producing, or nothing went in: healthy
            return False
        return offered - self._offered >= 2 and now - self._since >= self.limit_s

    def stalled_for(self, now: float) -> float:
        return now - self._since

    def offered_since(self, offered: int) -> int:
        return offered - self._offered

    def reset(self, offered: int, out: int, now: float) -> None:
        self._offered, self._out, self._since = offered, out, now
