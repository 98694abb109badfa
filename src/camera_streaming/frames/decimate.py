"""A stream's share of its camera's frames: at most `fps` frames a second, evenly spaced.

Pure: the caller passes each frame's capture time. With the camera at 25 fps a 5 fps stream
takes every 5th frame and a 10 fps stream frames 0, 2, 5, 7, 10 ... (every 2.5th on average).
A stream at the camera's rate takes every frame."""

from __future__ import annotations


class RateShare:
    def __init__(self, fps: float, camera_fps: float) -> None:
        self.period = 1.0 / fps
        # A frame up to half a camera frame early still counts as on time: capture jitter must
        # not make a 5 fps share of 25 fps alternate between every 4th and every 6th frame.
        self.slack = 0.5 / camera_fps
        self.every_frame = fps >= camera_fps
        self._due: float | None = None

    def take(self, now: float) -> bool:
        """True when the frame captured at `now` belongs to this stream."""
        if self.every_frame:
            return True
        due = self._due
        if due is None or now >= due - self.slack:
            # The next one is due a period after this one was due; after a gap (the source
            # paused, nobody watched) start again from now instead of bursting to catch up.
            self._due = (
                now + self.period if due is None or now - due > self.period else (due + self.period)
            )
            return True
        return False

    def reset(self) -> None:
        self._due = None
