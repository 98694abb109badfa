"""Overlays draw in place on the frame they are given."""

from __future__ import annotations

import numpy as np

from camera_streaming.frames.overlay import StatusOverlay, Track, colour, draw_stream_overlay
from camera_streaming.frames.processor import FrameProcessor


def test_detections_are_drawn_in_place() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    before = frame.__array_interface__["data"][0]
    tracks = [
        Track((100, 100, 80, 120), track_id=3, label="person", score=0.91,
              path=[(50, 300), (90, 250), (140, 160)]),
        Track((400, 50, 60, 60), label="cup"),
    ]  # fmt: skip
    draw_stream_overlay(frame, tracks, {"fps": 29.97, "objects": 2})
    assert frame.__array_interface__["data"][0] == before
    c = colour(3)
    assert tuple(frame[150, 100]) == c  # left edge of the box
    assert tuple(frame[150, 180]) == c  # right edge
    assert frame[275, 70].any()  # on the path, midway between (50,300) and (90,250)
    assert frame[10:40, 440:].any()  # the stats panel, top-right
    assert not frame[300:, 300:400].any()  # nothing drawn elsewhere


def test_status_overlay_uses_the_streamers_figures_and_keeps_the_top_clear() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    overlay = StatusOverlay(lambda: (42, 25.0), clock=lambda: 0.0)
    overlay(frame)
    assert frame[200:, 100:].any()  # bottom-right label
    assert not frame[:40].any()  # the test pattern's frame code stays readable
    assert overlay.frames == 1


def test_processor_runs_the_overlay_after_the_hook_on_its_own_buffer() -> None:
    calls: list[str] = []
    proc = FrameProcessor(64, 48, hook=lambda f: calls.append("hook"),
                          overlay=lambda f: calls.append("overlay"))  # fmt: skip
    src = np.zeros((48, 64, 3), np.uint8)
    out = proc.prepare(src)
    assert calls == ["hook", "overlay"]
    assert out is not src
    proc2 = FrameProcessor(64, 48, overlay=lambda f: f.fill(255))
    proc2.process(src)
    assert not src.any()  # the source's array is never drawn on


def test_the_fake_detector_example_draws_through_the_hook() -> None:
    from camera_streaming.frames.processor import load_hook
    from support.env import ROOT

    hook = load_hook(f"{ROOT / 'examples' / 'detections_overlay.py'}:hook")
    frame = np.zeros((360, 640, 3), np.uint8)
    for _ in range(5):
        hook(frame)
    assert frame.any()
