"""Encoder ceiling: the highest frame rate through camera-streaming's frame path (test pattern
-> FrameProcessor -> H264Encoder, pushed as fast as the encoder takes frames) against the raw
encoder pipeline (videotestsrc ! x264enc with the same properties ! fakesink), both in this
process, timed the same way: between the `warmup`-th and the last encoded frame."""

from __future__ import annotations

import threading
import time
from typing import Any

from camera_streaming.config import VideoConfig
from camera_streaming.frames.processor import FrameProcessor
from camera_streaming.gst.encoder import H264Encoder
from camera_streaming.gst.launch import raw_caps, x264_properties
from camera_streaming.gst.runtime import Gst, init
from camera_streaming.sources.pattern import TestPatternSource


def _rate(times: list[float], warmup: int) -> float:
    if len(times) <= warmup + 1:
        return 0.0
    return (len(times) - 1 - warmup) / (times[-1] - times[warmup])


def raw_encoder_fps(video: VideoConfig, frames: int, warmup: int = 10) -> float:
    """Frames/s of `videotestsrc pattern=ball ! I420 ! queue ! x264enc (same properties) !
    fakesink`. The 2-frame queue matches our appsrc input queue: frames are drawn on one
    thread while the encoder works on another, as in our path."""
    init()
    pipeline = Gst.parse_launch(
        f"videotestsrc pattern=ball num-buffers={frames} ! {raw_caps(video)} "
        f"! queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 "
        f"! x264enc {x264_properties(video)} ! fakesink name=sink signal-handoffs=true"
    )
    times: list[float] = []
    sink = pipeline.get_by_name("sink")
    hid = sink.connect("handoff", lambda *_: times.append(time.monotonic()))
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    msg = bus.timed_pop_filtered(600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    sink.disconnect(hid)
    if msg is None or msg.type != Gst.MessageType.EOS:
        raise RuntimeError("raw encoder pipeline did not reach EOS")
    return _rate(times, warmup)


class _Counter:
    """An encoder consumer that only notes when each access unit came out."""

    wants_frames = True

    def __init__(self, frames: int) -> None:
        self.times: list[float] = []
        self.frames = frames
        self.done = threading.Event()

    def deliver(self, buffer: Any, is_key: bool) -> None:
        self.times.append(time.monotonic())
        if len(self.times) >= self.frames:
            self.done.set()


def frame_path_fps(video: VideoConfig, frames: int, warmup: int = 10) -> float:
    """Frames/s through TestPatternSource -> FrameProcessor -> H264Encoder. A frame the
    encoder's bounded input refuses (it is busy) is offered again after 1 ms, so every frame
    drawn is encoded and none is counted twice."""
    source = TestPatternSource(video.width, video.height, video.fps)
    source.open()
    processor = FrameProcessor(video.width, video.height)
    encoder = H264Encoder(video)
    counter = _Counter(frames)
    encoder.add_consumer(counter)
    encoder.start()
    try:
        deadline = time.monotonic() + 600
        pushed = 0
        while pushed < frames and time.monotonic() < deadline:
            frame = source.read()
            assert frame is not None
            i420 = processor.process(frame)
            while not encoder.push_i420(i420):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            pushed += 1
        counter.done.wait(max(0.0, deadline - time.monotonic()))
    finally:
        encoder.stop()
        source.close()
    return _rate(counter.times, warmup)
