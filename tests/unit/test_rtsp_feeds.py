"""A mount's feed state machine: the pure transitions (gst/rtsp/feeds.py), and a mount
delivering access units to a feed, including a PLAY that lands while the encoder thread is
pushing the priming keyframe (the PLAY must not be lost)."""

from __future__ import annotations

from typing import Any

import pytest

from camera_streaming.config import VideoConfig
from camera_streaming.gst.rtsp import feeds
from camera_streaming.gst.rtsp.feeds import LIVE, PRIMED, PRIMING, WAIT_KEY, ClientFeed
from camera_streaming.gst.rtsp.mount import Mount
from camera_streaming.gst.runtime import Gst, init
from support.rtsp_fakes import FakeAppsrc, FakeClock, FakeEncoder


@pytest.mark.parametrize(
    ("state", "is_key", "full", "action"),
    [
        (PRIMING, False, False, feeds.SKIP),
        (PRIMING, True, False, feeds.PUSH),
        (PRIMED, True, False, feeds.SKIP),
        (WAIT_KEY, False, False, feeds.SKIP),
        (WAIT_KEY, True, False, feeds.PUSH),
        (WAIT_KEY, True, True, feeds.BEHIND),
        (LIVE, False, False, feeds.PUSH),
        (LIVE, False, True, feeds.BEHIND),
    ],
)
def test_deliver_action(state: str, is_key: bool, full: bool, action: str) -> None:
    assert feeds.deliver_action(state, is_key, full) == action


def test_transitions() -> None:
    assert feeds.after_push(PRIMING) == PRIMED
    assert feeds.after_push(WAIT_KEY) == LIVE
    assert feeds.after_push(LIVE) == LIVE
    assert feeds.on_play(PRIMED, shared=False) == WAIT_KEY
    assert feeds.on_play(LIVE, shared=True) == LIVE  # a shared media keeps flowing
    assert feeds.on_play(LIVE, shared=False) == WAIT_KEY


def make_mount() -> tuple[Mount, ClientFeed, FakeAppsrc, FakeEncoder]:
    init()
    encoder = FakeEncoder()
    mount = Mount("/stream", VideoConfig(320, 240, 30), encoder, False, FakeClock())  # type: ignore[arg-type]
    appsrc = FakeAppsrc(Gst.FlowReturn.OK)
    feed = ClientFeed("media0", appsrc)
    mount._feeds = {"media0": feed}
    mount._feed_list = (feed,)
    return mount, feed, appsrc, encoder


def keyframe() -> Any:
    return Gst.Buffer.new_allocate(None, 16, None)


def test_play_during_the_priming_push_is_kept() -> None:
    mount, feed, appsrc, _ = make_mount()
    # PLAY arrives (GLib thread) while the encoder thread is inside the priming push.
    appsrc.on_push = lambda: mount.play(object(), "media0")
    mount.deliver(keyframe(), True)
    assert feed.state == WAIT_KEY  # not overwritten with PRIMED: it would never go live
    mount.deliver(keyframe(), True)
    assert feed.state == LIVE and len(appsrc.pushed) == 2


def test_feed_goes_priming_primed_wait_key_live() -> None:
    mount, feed, appsrc, encoder = make_mount()
    delta = keyframe()
    delta.set_flags(Gst.BufferFlags.DELTA_UNIT)
    mount.deliver(delta, False)
    assert feed.state == PRIMING and not appsrc.pushed
    mount.deliver(keyframe(), True)
    assert feed.state == PRIMED
    mount.deliver(keyframe(), True)
    assert feed.state == PRIMED and len(appsrc.pushed) == 1  # blocked until PLAY
    mount.play(object(), "media0")
    assert encoder.keyframe_requests == 1
    mount.deliver(delta, False)
    assert feed.state == WAIT_KEY
    mount.deliver(keyframe(), True)
    mount.deliver(delta, False)
    assert feed.state == LIVE and len(appsrc.pushed) == 3


def test_a_full_queue_skips_to_the_next_keyframe() -> None:
    mount, feed, appsrc, _ = make_mount()
    feed.state = LIVE
    delta = keyframe()
    delta.set_flags(Gst.BufferFlags.DELTA_UNIT)
    appsrc.level = 10**9
    mount.deliver(delta, False)
    assert feed.state == WAIT_KEY and mount.dropped == 1 and not appsrc.pushed
    appsrc.level = 0
    mount.deliver(delta, False)
    assert not appsrc.pushed
    mount.deliver(keyframe(), True)
    assert feed.state == LIVE and len(appsrc.pushed) == 1
