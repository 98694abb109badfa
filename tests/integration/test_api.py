"""The Python API streams the user's own NumPy frames."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from camera_streaming import PortInUseError, RtspStreamer
from camera_streaming.sources.pattern import TestPatternSource, write_code
from support.fakes import decode_frames, ffprobe_stream

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("size", [(240, 320), (480, 640)])
def test_api_streams_pushed_frames(port: int, size: tuple[int, int]) -> None:
    """Frames at the configured size arrive in order; frames of another size are resized."""
    stop = threading.Event()
    pushed: list[bool] = []
    with RtspStreamer(width=320, height=240, fps=30, port=port, bind="127.0.0.1") as streamer:
        assert streamer.is_running and not streamer.has_client
        assert streamer.url == f"rtsp://127.0.0.1:{port}/stream"

        def produce() -> None:
            frame = np.zeros((*size, 3), np.uint8)
            i = 0
            while not stop.is_set():
                frame[:] = (i * 3) % 255
                write_code(frame, i, 0)
                pushed.append(streamer.push_frame(frame))
                i += 1
                time.sleep(1 / 30)

        t = threading.Thread(target=produce)
        t.start()
        try:
            info = ffprobe_stream(streamer.url)
            frames = decode_frames(streamer.url, 2.0, 320, 240)
            seen_client = streamer.has_client or len(frames) > 0
        finally:
            stop.set()
            t.join(5)
    assert (info["width"], info["height"]) == (320, 240)
    assert len(frames) >= 45
    if size == (240, 320):  # the code is readable only where no resize moved it
        indices = [c[0] for _, c in frames if c is not None]
        assert len(indices) >= 45 and indices == sorted(indices)
    assert seen_client and all(pushed)
    assert not streamer.is_running and streamer.push_frame(np.zeros((4, 4, 3), np.uint8)) is False


def test_api_port_in_use_raises(port: int) -> None:
    with RtspStreamer(width=320, height=240, port=port, bind="127.0.0.1"):
        with pytest.raises(PortInUseError):
            RtspStreamer(width=320, height=240, port=port, bind="127.0.0.1").start()


def test_a_streamer_that_never_got_a_frame_stops_at_once(port: int) -> None:
    """The shared media's anchor prerolls on the first frame; stop() must not wait for one
    that never comes (an API camera nobody pushed to): it took 10 s."""
    streamer = RtspStreamer(width=320, height=240, port=port, bind="127.0.0.1")
    streamer.start()
    time.sleep(0.3)  # the anchor is preparing
    t0 = time.monotonic()
    streamer.stop()
    assert time.monotonic() - t0 < 3
    assert not [t.name for t in threading.enumerate() if t.name == "rtsp-anchor"]


def test_a_config_with_a_sub_stream_through_the_api(port: int) -> None:
    """`RtspStreamer(config=...)`: frames pushed from Python reach the main and the sub
    stream, each at its own size."""
    from camera_streaming import Config, RtspConfig, SourceSpec, VideoConfig
    from camera_streaming.config import Substream

    config = Config(
        video=VideoConfig(320, 240, 20),
        rtsp=RtspConfig(port=port, bind="127.0.0.1"),
        source=SourceSpec("api"),
        substream=Substream(160, 120, 5),
    )
    with RtspStreamer(config=config) as streamer:
        assert streamer.url.endswith("/stream")
        pattern = TestPatternSource(320, 240, 20)
        pattern.open()
        stop = threading.Event()

        def feed() -> None:
            while not stop.is_set():
                streamer.push_frame(pattern.read())
                time.sleep(0.05)

        pusher = threading.Thread(target=feed)
        pusher.start()
        try:
            sub = ffprobe_stream(f"rtsp://127.0.0.1:{port}/stream/sub")
            main = ffprobe_stream(streamer.url)
        finally:
            stop.set()
            pusher.join()
    assert (main["width"], main["height"], sub["width"], sub["height"]) == (320, 240, 160, 120)
