"""A run loads only what it needs (no OpenCV when no frame needs it, no NumPy for a `gst:`
camera), and an encoder nobody watches is parked and comes back with an IDR
(docs/memory.md)."""

from __future__ import annotations

import time

import pytest

from camera_streaming.sources import TestPatternSource
from support.env import ROOT
from support.fakes import decode_frames, make_config, running
from support.lean import loaded_after_start, play_until_idr

pytestmark = pytest.mark.integration

NUMPY_HOOK = f"{ROOT / 'tests' / 'support' / 'numpy_hook.py'}:stamp"


def test_a_test_pattern_at_the_output_size_is_drawn_in_i420_with_no_opencv() -> None:
    got = loaded_after_start("test")
    assert got == {"cv2": False, "numpy": True, "formats": ["I420"]}  # copied, not converted


def test_a_hook_gets_bgr_and_videoconvert_converts_it_without_opencv() -> None:
    got = loaded_after_start("test", hook=NUMPY_HOOK)
    assert got == {"cv2": False, "numpy": True, "formats": ["BGR"]}


def test_opencv_converts_a_hooked_frame_when_asked_to() -> None:
    got = loaded_after_start("test", hook=NUMPY_HOOK, CAMERA_STREAMING_CONVERTER="opencv")
    assert got["formats"] == ["I420"]


def test_a_gst_camera_loads_neither_numpy_nor_opencv() -> None:
    got = loaded_after_start("gst:videotestsrc pattern=ball")
    assert got["cv2"] is False and got["numpy"] is False


def test_a_camera_with_a_stream_to_resize_converts_every_stream_with_opencv() -> None:
    got = loaded_after_start("test", substream=True)
    assert got["formats"] == ["I420", "I420"]  # OpenCV is loaded by the first frame


def test_an_encoder_nobody_watches_is_parked_and_restarts_with_an_idr(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import camera_streaming.gst.encoder as encoder
    import camera_streaming.gst.rtsp.mount as mount

    monkeypatch.setattr(encoder, "PARK_AFTER_S", 0.5)
    monkeypatch.setattr(mount, "SHARED_IDLE_S", 1.0)  # the shared feed's linger after a PLAY
    with running(make_config(port)) as s:
        url = s.config.rtsp.url("127.0.0.1")
        enc = s.encoder
        assert enc is not None
        for _ in range(2):
            assert play_until_idr(url) < 2.0
            deadline = time.monotonic() + 10
            while not enc.parked and time.monotonic() < deadline:
                time.sleep(0.1)
            assert enc.parked, "the encoder was not parked once the client left"
        frames_in = enc.frames_in
        assert play_until_idr(url) < 2.0  # unparked by the next client's frames
        assert not enc.parked and enc.frames_in > frames_in and enc.parks >= 2
        assert enc.alloc_failures == 0 and s.error is None


class UndeclaredI420Source(TestPatternSource):
    """Draws I420 frames without listing I420 in `formats`: the camera keeps its BGR path."""

    formats = ("BGR",)

    def open(self) -> None:
        self.format = "I420"
        super().open()


def test_a_source_that_hands_i420_unannounced_is_converted_not_fatal(port: int) -> None:
    source = UndeclaredI420Source(320, 240, 30)
    with running(make_config(port), source=source) as s:
        frames = decode_frames(s.config.rtsp.url("127.0.0.1"), 2.0, 320, 240)
        assert not s.cameras[0].i420  # BGR frames, converted by videoconvert or OpenCV
        assert s.error is None and s.faults.slate_frames == 0, s.faults
    indexes = [c[0] for _, c in frames if c is not None]
    assert len(indexes) > 20 and indexes == sorted(indexes) and indexes[0] > 0, indexes[:5]
