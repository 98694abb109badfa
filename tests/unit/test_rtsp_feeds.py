"""The per-client feed state machine (gst/rtsp.py) against a PLAY that lands while the encoder
thread is pushing the priming keyframe: the PLAY must not be lost."""

from __future__ import annotations

from typing import Any

from camera_streaming.config import RtspConfig, VideoConfig
from camera_streaming.gst.encoder import H264Encoder
from camera_streaming.gst.rtsp import server as rtsp
from camera_streaming.gst.runtime import Gst, init


class FakeAppsrc:
    """Records pushes; runs `on_push` inside push_buffer, as another thread could meanwhile."""

    def __init__(self) -> None:
        self.pushed: list[Any] = []
        self.on_push: Any = None

    def get_property(self, name: str) -> int:
        return 0

    def get_base_time(self) -> int:
        return 0

    def push_buffer(self, buf: Any) -> Any:
        self.pushed.append(buf)
        if self.on_push is not None:
            hook, self.on_push = self.on_push, None
            hook()
        return Gst.FlowReturn.OK


class FakeMedia:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_element(self) -> FakeMedia:
        return self

    def get_name(self) -> str:
        return self.name


class FakeContext:
    def __init__(self, media: FakeMedia) -> None:
        self.media = media


def make_server() -> tuple[rtsp.RtspServer, rtsp.ClientFeed, FakeAppsrc]:
    init()
    video = VideoConfig(width=320, height=240, fps=30)
    server = rtsp.RtspServer(RtspConfig(port=8554), video, H264Encoder(video))
    appsrc = FakeAppsrc()
    feed = rtsp.ClientFeed("media0", appsrc)
    server._feeds = {"media0": feed}
    server._feed_list = (feed,)
    return server, feed, appsrc


def keyframe() -> Any:
    return Gst.Buffer.new_allocate(None, 16, None)


def test_play_during_the_priming_push_is_kept() -> None:
    server, feed, appsrc = make_server()
    # PLAY arrives (GLib thread) while the encoder thread is inside the priming push.
    appsrc.on_push = lambda: server._on_pre_play_request(None, FakeContext(FakeMedia("media0")))
    server.deliver(keyframe(), True)
    assert feed.state == rtsp.WAIT_KEY  # not overwritten with PRIMED: it would never go live
    server.deliver(keyframe(), True)
    assert feed.state == rtsp.LIVE and len(appsrc.pushed) == 2


def test_feed_goes_priming_primed_wait_key_live() -> None:
    server, feed, appsrc = make_server()
    delta = keyframe()
    delta.set_flags(Gst.BufferFlags.DELTA_UNIT)
    server.deliver(delta, False)
    assert feed.state == rtsp.PRIMING and not appsrc.pushed
    server.deliver(keyframe(), True)
    assert feed.state == rtsp.PRIMED
    server.deliver(keyframe(), True)
    assert feed.state == rtsp.PRIMED and len(appsrc.pushed) == 1  # blocked until PLAY
    server._on_pre_play_request(None, FakeContext(FakeMedia("media0")))
    server.deliver(delta, False)
    assert feed.state == rtsp.WAIT_KEY
    server.deliver(keyframe(), True)
    server.deliver(delta, False)
    assert feed.state == rtsp.LIVE and len(appsrc.pushed) == 3
