"""The MSE feed without GStreamer: a fake encode (Annex B access units in fake buffers), the
viewers' join/leave, what is packed and queued, the timeline, the figures; and the view page."""

from __future__ import annotations

from typing import Any

from camera_streaming.web.mse import feed as feed_module
from camera_streaming.web.mse.feed import NO_TIME, MseFeed
from camera_streaming.web.view import player_script, view_reply

SPS = b"\x67\x64\x00\x1f\xac"
PPS = b"\x68\xee\x3c\x80"
START = b"\x00\x00\x00\x01"
MS = 1_000_000


class FakeEncoder:
    def __init__(self) -> None:
        self.consumers: list[Any] = []
        self.keyframes_asked = 0

    def add_consumer(self, c: Any) -> None:
        self.consumers.append(c)

    def remove_consumer(self, c: Any) -> None:
        self.consumers = [x for x in self.consumers if x is not c]

    def request_keyframe(self) -> None:
        self.keyframes_asked += 1

    @property
    def wanted(self) -> bool:
        return any(c.wants_frames for c in self.consumers)


class Buf:
    def __init__(self, data: bytes, pts: int) -> None:
        self.data, self.pts = data, pts

    def get_size(self) -> int:
        return len(self.data)

    def extract_dup(self, offset: int, size: int) -> bytes:
        return self.data[offset : offset + size]


def key(pts: int, sps: bytes = SPS) -> Buf:
    return Buf(START + sps + START + PPS + START + b"\x65\x88\x84", pts)


def delta(pts: int) -> Buf:
    return Buf(START + b"\x41\x9a\x02", pts)


def test_viewers_attach_the_feed_and_start_on_a_keyframe() -> None:
    enc = FakeEncoder()
    feed = MseFeed(enc, 640, 360, 25)
    wakes: list[int] = []
    assert not enc.wanted
    a = feed.add_viewer(lambda: wakes.append(1))
    b = feed.add_viewer(lambda: wakes.append(2))
    assert enc.consumers == [feed] and enc.wanted and enc.keyframes_asked == 2
    feed.deliver(delta(0), False)  # before any SPS/PPS: nothing a browser can use
    assert feed.header is None and a.take() is None and wakes == []
    feed.deliver(key(40 * MS), True)
    feed.deliver(delta(80 * MS), False)
    assert feed.header is not None and feed.header[0] == "avc1.64001f"
    assert feed.header[1][4:8] == b"ftyp"
    assert wakes == [1, 2, 1, 2] and feed.fragments == 2
    first = a.take()
    assert first is not None and first[4:8] == b"moof" and first is b.take()  # packed once
    assert a.queue.waited == 0 and a.dropped == 0  # the delta before the start is no drop

    feed.remove_viewer(a)
    assert enc.consumers == [feed]
    feed.remove_viewer(b)
    feed.remove_viewer(b)  # twice is harmless
    assert enc.consumers == [] and not enc.wanted and not feed.wants_frames
    assert (feed.viewers, feed.viewers_joined, feed.viewers_left) == (0, 2, 2)


def test_a_viewer_that_falls_behind_skips_to_the_next_keyframe(monkeypatch: Any) -> None:
    monkeypatch.setattr(feed_module, "VIEWER_QUEUE_UNITS", 4)
    feed = MseFeed(FakeEncoder(), 640, 360, 25)
    slow = feed.add_viewer(lambda: None)
    feed.deliver(key(0), True)
    for i in range(1, 6):
        feed.deliver(delta(i * 40 * MS), False)
    assert len(slow.queue) == 0 and slow.dropped == 6  # full at d4: all went, d5 too
    feed.deliver(key(240 * MS), True)
    unit = slow.take()
    assert unit is not None and feed.dropped == 6
    feed.remove_viewer(slow)
    assert feed.dropped == 6  # kept after the viewer left


def test_the_timeline_only_moves_forward() -> None:
    feed = MseFeed(FakeEncoder(), 640, 360, 25)  # 3600 ticks a frame
    assert feed.decode_time(3_600_000 * 10**9) == 0  # x264's 1000-hour offset
    assert feed.decode_time(3_600_000 * 10**9 + 40 * MS) == 3600
    assert feed.decode_time(5 * MS) == 7200  # a rebuilt encoder starts again: one frame on
    assert feed.decode_time(45 * MS) == 10800
    assert feed.decode_time(NO_TIME) == 14400  # unstamped: one frame on
    assert feed.decode_time(60 * 10**9) == 18000  # a leap of a minute: one frame on
    assert feed.decode_time(60 * 10**9 + 80 * MS) == 18000 + 7200  # real gaps kept


def test_new_parameter_sets_reach_the_viewers_with_the_next_keyframe() -> None:
    feed = MseFeed(FakeEncoder(), 640, 360, 25)
    v = feed.add_viewer(lambda: None)
    feed.deliver(key(0), True)
    feed.deliver(key(40 * MS), True)  # the same SPS/PPS: no init again
    sps2 = b"\x67\x42\xc0\x1e\xaa"
    feed.deliver(key(80 * MS, sps2), True)
    units = [v.take() for _ in range(3)]
    assert [u[4:8] for u in units if u] == [b"moof", b"moof", b"ftyp"]
    assert feed.header is not None and feed.header[0] == "avc1.42c01e"


def test_an_h265_stream_is_not_packed() -> None:
    feed = MseFeed(FakeEncoder(), 640, 360, 25, codec="h265")
    v = feed.add_viewer(lambda: None)
    feed.deliver(key(0), True)
    assert not feed.playable and feed.header is None and v.take() is None


INFO = {"cameras": [{"name": "front", "streams": [{"path": "/front"}, {"path": "/front/sub"}]}]}


def test_view_page() -> None:
    code, body, ctype = view_reply(INFO, "/view/front/sub", {"mode": "mse", "latency": "1"})
    page = body.decode()
    assert code == 200 and ctype.startswith("text/html")
    assert page.count("<video ") == 1 and "muted autoplay playsinline" in page
    assert 'startPlayer(document.getElementById("video"), "/front/sub", ' in page
    assert '{"mode": "mse", "latency": true}' in page
    assert '"mode": "auto"' in view_reply(INFO, "/view/front", {"mode": "<x>"})[1].decode()
    code, body, _ = view_reply(INFO, "/view/</script>", {})
    assert code == 404 and b"</script>" not in body and b'href="/view/front/sub"' in body
    assert "</" not in player_script().replace("<\\/", "")  # safe inside <script>
