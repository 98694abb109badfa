"""The one retry policy: wait `first_s`, then twice as long after each failure in a row, up to
`cap_s`. Sources re-opening and outputs reconnecting both use it. Pure: no clock, no sleep."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    first_s: float
    cap_s: float

    def delay(self, failures: int) -> float:
        """Seconds to wait before attempt `failures + 1` after `failures` failures in a row."""
        return float(min(self.cap_s, self.first_s * (2 ** min(max(failures, 0), 30))))


SOURCE_FIRST_S = 0.1  # a source re-open: 0.1, 0.2, 0.4 ... up to --retry-max
OUTPUT_BACKOFF = Backoff(0.5, 5.0)  # an output reconnect: 0.5, 1, 2, 4, 5, 5 ... s
