"""A stream's share of its camera's frames, with capture times given (no clock, no sleep)."""

from __future__ import annotations

import random

import pytest

from camera_streaming.frames.decimate import RateShare


def taken(share: RateShare, fps: float, n: int, jitter: float = 0.0, seed: int = 1) -> list[int]:
    rnd = random.Random(seed)
    return [i for i in range(n) if share.take(i / fps + rnd.uniform(-jitter, jitter))]


@pytest.mark.parametrize(("out", "cam", "expected"), [(5, 25, 20), (10, 25, 40), (25, 25, 100),
                                                      (10, 30, 40), (1, 30, 4)])  # fmt: skip
def test_takes_its_rate(out: int, cam: int, expected: int) -> None:
    assert len(taken(RateShare(out, cam), cam, 4 * cam if cam != 25 else 100)) == expected


def test_every_fifth_frame_evenly_even_with_capture_jitter() -> None:
    frames = taken(RateShare(5, 25), 25, 250, jitter=0.008)
    gaps = {b - a for a, b in zip(frames, frames[1:])}
    assert gaps == {5}, gaps


def test_ten_of_twenty_five_alternates_two_and_three() -> None:
    frames = taken(RateShare(10, 25), 25, 250, jitter=0.005)
    gaps = [b - a for a, b in zip(frames, frames[1:])]
    assert set(gaps) == {2, 3} and abs(len(frames) - 100) <= 1


def test_a_gap_restarts_without_a_burst() -> None:
    share = RateShare(5, 25)
    assert share.take(0.0)
    assert not share.take(0.04)
    # the source paused for 3 s: the next frames are not all taken to catch up
    picks = [t for t in (3.0, 3.04, 3.08, 3.12, 3.16, 3.2) if share.take(t)]
    assert picks == [3.0, 3.2]


def test_a_slower_camera_gives_every_frame_it_has() -> None:
    """A camera delivering 8 fps while nominally 25: a 10 fps share takes all 8."""
    assert len(taken(RateShare(10, 25), 8, 80)) == 80
