"""The seed's six leaks, each as a regression test that fails if it comes back.

1. a frame buffer allocated per frame        4. no cleanup when a client vanishes (FLUSHING)
2. an appsrc reference kept across reconnects 5. per-frame/per-client GLib callbacks
3. a failed buffer allocation/map unhandled   6. state shared across clients
"""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc

import numpy as np
import pytest

from camera_streaming.config import FANOUTS, VideoConfig
from camera_streaming.frames.processor import FrameProcessor
from camera_streaming.gst.encoder import H264Encoder
from camera_streaming.gst.runtime import GLib, Gst
from camera_streaming.telemetry.stats import allocator_in_use
from camera_streaming.testing import clients
from camera_streaming.testing.rtsp_probe import RtspProbe
from camera_streaming.testing.soak import idle_medias
from support.env import wait_for
from support.fakes import decode_frames, make_config, running

pytestmark = pytest.mark.integration


class _Sink:
    wants_frames = True

    def __init__(self) -> None:
        self.count = 0

    def deliver(self, buffer, is_key) -> None:  # type: ignore[no-untyped-def]
        self.count += 1


class _PoolDiscards:
    """Counts GstBufferPool's "discarding buffer" reports (GST_PERFORMANCE, DEBUG level):
    each is a pooled buffer freed instead of reused, so the next acquire allocates."""

    def __init__(self) -> None:
        self.count = 0
        self._was_active = Gst.debug_is_active()
        Gst.debug_add_log_function(self._log, None)
        Gst.debug_set_threshold_for_name("GST_PERFORMANCE", Gst.DebugLevel.DEBUG)
        Gst.debug_set_active(True)

    def _log(self, category, _level, _file, _func, _line, _obj, message, _data) -> None:  # type: ignore[no-untyped-def]
        if category.get_name() == "GST_PERFORMANCE" and "discarding buffer" in message.get():
            self.count += 1

    def close(self) -> None:
        Gst.debug_unset_threshold_for_name("GST_PERFORMANCE")
        Gst.debug_set_active(self._was_active)
        Gst.debug_remove_log_function(self._log)


def test_1_no_frame_buffer_allocated_per_frame() -> None:
    """The frame path reuses its buffers: Python allocations and the C heap stay flat over
    hundreds of frames (a 640x480 I420 frame leaked per frame would be 460 KB each)."""
    proc = FrameProcessor(640, 480, hook=lambda f: None)
    src = np.zeros((720, 1280, 3), np.uint8)
    out = proc.process(src)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(300):
        assert proc.process(src) is out
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown < 64 * 1024, grown

    enc = H264Encoder(VideoConfig(width=640, height=480, fps=30))
    sink = _Sink()
    enc.start()
    enc.add_consumer(sink)
    discarded = _PoolDiscards()
    try:
        frame = np.zeros((480 * 3 // 2, 640), np.uint8)
        for _ in range(60):  # warm-up: encoder internals, pool
            enc.push_i420(frame)
            time.sleep(0.005)
        heap0 = allocator_in_use() or 0
        for i in range(400):
            frame[:8, :8] = i % 255
            enc.push_i420(frame)
            time.sleep(0.005)
        wait_for(lambda: sink.count >= 400, 10)
        grown_heap = (allocator_in_use() or 0) - heap0
    finally:
        enc.stop()
        discarded.close()
    assert sink.count >= 400
    # A pooled frame whose memory is shared when it comes back is freed, and the next
    # acquire allocates a new one: a malloc+free of a whole frame per frame (it was every
    # frame until the encoder stamped its buffers itself; see H264Encoder.push_i420).
    assert discarded.count <= 2, f"the frame pool discarded {discarded.count} of 460 buffers"
    assert grown_heap < 8_000_000, f"C heap grew {grown_heap / 1e6:.1f} MB over 400 frames"


def test_2_no_appsrc_kept_across_reconnects(port: int) -> None:
    """Per-client fan-out: every client media's appsrc is finalized after its client left;
    nothing holds it."""
    finalized: list[str] = []
    refs: list = []
    cfg = make_config(port, session_timeout_s=2, post_session_timeout_s=1, fanout="per-client")
    with running(cfg) as s:
        factory = s.rtsp.mounts[s.config.rtsp.path].factory  # type: ignore[union-attr]
        assert s.rtsp.feeds == 0  # type: ignore[union-attr]

        def watch(_factory, media) -> None:  # type: ignore[no-untyped-def]
            appsrc = media.get_element().get_by_name("src")
            refs.append(appsrc.weak_ref(finalized.append, "appsrc"))

        hid = factory.connect("media-configure", watch)
        url = s.config.rtsp.url()
        for i in range(20):
            (clients.raw_teardown_session, clients.raw_reset_session)[i % 2](url)
        factory.disconnect(hid)
        assert wait_for(lambda: s.rtsp.feeds == 0 and s.rtsp.sessions == 0, 10)  # type: ignore[union-attr]
        assert wait_for(lambda: len(finalized) == 20, 10), f"{len(finalized)} of 20 finalized"


def test_2_shared_media_builds_no_appsrc_per_client_and_frees_its_own(port: int) -> None:
    """Shared fan-out: clients come and go without a media or appsrc of their own; the one
    anchored appsrc is finalized when the server stops."""
    finalized: list[str] = []
    cfg = make_config(port, session_timeout_s=2, post_session_timeout_s=1, fanout="shared")
    with running(cfg) as s:
        rtsp = s.rtsp
        assert rtsp is not None
        url = s.config.rtsp.url()
        clients.raw_teardown_session(url)  # waits for the anchored media to be prepared
        (feed,) = rtsp.mounts[s.config.rtsp.path]._feed_list
        ref = feed.appsrc.weak_ref(finalized.append, "appsrc")
        del feed
        for i in range(20):
            (clients.raw_teardown_session, clients.raw_reset_session)[i % 2](url)
        assert wait_for(lambda: rtsp.sessions == 0, 10)
        assert rtsp.medias_configured == 1 and rtsp.feeds == 1 and rtsp.medias_released == 0
    assert wait_for(lambda: finalized == ["appsrc"], 10), "the anchored appsrc was kept"
    del ref


def test_3_failed_buffer_allocation_is_handled() -> None:
    """With the buffer pool exhausted, a push is refused, counted, and streaming resumes."""
    enc = H264Encoder(VideoConfig(width=320, height=240, fps=30))
    enc.start()
    try:
        frame = np.zeros((240 * 3 // 2, 320), np.uint8)
        held = []
        assert enc._pool is not None
        while (buf := enc._pool.acquire()) is not None:  # take every buffer the pool has
            held.append(buf)
        assert enc.push_i420(frame) is False
        assert enc.alloc_failures == 1 and enc.dropped == 1
        held.clear()
        assert enc.push_i420(frame) is True
    finally:
        enc.stop()


def test_3_frames_at_pace_use_one_pool_buffer() -> None:
    """The encoder releases a frame long before the next is due, so frames pushed at their
    pace reuse one pooled buffer: the pool holds one frame, not two in turn."""
    enc = H264Encoder(VideoConfig(width=320, height=240, fps=10))
    enc.start()
    used: list[int] = []

    def fill(view: np.ndarray, value: int) -> None:
        used.append(view.ctypes.data)
        view[:] = value

    try:
        for i in range(20):
            assert enc.push_into(fill, i)
            time.sleep(0.1)
        assert enc.frames_out >= 15
        assert len(set(used[5:])) == 1, f"{len(set(used))} buffers in turn"
    finally:
        enc.stop()


def test_3_frame_pool_gives_back_what_a_spike_added() -> None:
    """A buffer held elsewhere (as a slow encoder holds frames) makes the pool allocate a
    second; once it is back, both are used in turn. `trim_pool` starts a fresh pool: one
    buffer again, and the old pool with both its buffers is finalized."""
    enc = H264Encoder(VideoConfig(width=320, height=240, fps=10))
    enc.start()
    used: list[int] = []

    def fill(view: np.ndarray, value: int) -> None:
        used.append(view.ctypes.data)

    def push_paced(n: int) -> set[int]:
        del used[:]
        for i in range(n):
            assert enc.push_into(fill, i)
            time.sleep(0.05)
        return set(used)

    finalized: list[str] = []
    try:
        pool = enc._pool
        assert pool is not None
        held = pool.acquire()  # the first buffer, kept out of the pool
        assert len(push_paced(4)) == 1 and pool.buffers == 2
        del held  # back in the pool: from now on two buffers in turn
        assert len(push_paced(6)) == 2
        old = pool._pool
        old.weak_ref(finalized.append, "pool")
        del old
        enc.trim_pool()
        assert len(push_paced(6)) == 1 and pool.renewals == 1 and pool.buffers == 1
        gc.collect()
        assert wait_for(lambda: finalized == ["pool"], 5), "the old pool was kept"
        enc.trim_pool()  # one buffer: nothing to give back
        push_paced(2)
        assert pool.renewals == 1
    finally:
        enc.stop()


@pytest.mark.parametrize("fanout", FANOUTS)
def test_4_vanished_client_is_cleaned_up(port: int, fanout: str) -> None:
    """A client that disappears mid-stream (no TEARDOWN): its media is released (FLUSHING /
    unprepared; shared: the anchored media stays, idle), its session and connection go, and
    the encoder stops encoding."""
    anchored = idle_medias(fanout, 0)  # shared: the one anchored media stays
    cfg = make_config(port, session_timeout_s=2, post_session_timeout_s=1, fanout=fanout)
    with running(cfg) as s:
        rtsp, enc = s.rtsp, s.encoder
        assert rtsp is not None and enc is not None
        clients.raw_reset_session(s.config.rtsp.url())
        assert wait_for(lambda: rtsp.feeds == anchored, 5), "feed of a vanished client kept"
        assert wait_for(lambda: rtsp.sessions == 0 and rtsp.clients == 0, 10)
        assert rtsp.medias_released == rtsp.medias_configured - anchored
        assert wait_for(lambda: not enc.wanted, 10), "still wanted by nobody"
        out = enc.frames_out
        time.sleep(0.5)
        assert enc.frames_out == out, "still encoding for nobody"


def test_5_no_glib_callback_per_frame_or_per_client(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After start, streaming frames and serving clients schedules no GLib source and adds
    no pad probe (each leaks ~120 B on Debian 12's PyGObject, docs/gstreamer.md, fact 1)."""
    calls: list[str] = []
    for name in ("idle_add", "timeout_add", "timeout_add_seconds"):
        original = getattr(GLib, name)
        monkeypatch.setattr(
            GLib, name, lambda *a, _n=name, _o=original, **k: (calls.append(_n), _o(*a, **k))[1]
        )
    original_probe = Gst.Pad.add_probe
    monkeypatch.setattr(
        Gst.Pad,
        "add_probe",
        lambda *a, **k: (calls.append("add_probe"), original_probe(*a, **k))[1],
    )
    with running(make_config(port)) as s:
        started = list(calls)
        url = s.config.rtsp.url()
        for i in range(6):
            (clients.raw_teardown_session, clients.raw_udp_teardown_session)[i % 2](url)
        frames = decode_frames(url, 1.5, 320, 240)
    assert len(frames) >= 30
    assert started == ["timeout_add_seconds"], started  # the one cleanup timer
    assert calls == started, f"callbacks scheduled while streaming: {calls[len(started) :]}"


@pytest.mark.parametrize("fanout", FANOUTS)
def test_6_no_state_shared_between_clients(port: int, fanout: str) -> None:
    """One client churning (and one frozen) does not disturb another: each client has its
    own feed and its own counters (shared fan-out: one feed by design, and the frozen
    client must not hold up the one sending thread), and the watcher keeps every frame."""
    cfg = make_config(port, session_timeout_s=3, post_session_timeout_s=1, fanout=fanout)
    with running(cfg) as s:
        url = s.config.rtsp.url()
        result: dict = {}
        t = threading.Thread(target=lambda: result.update(f=decode_frames(url, 4.0, 320, 240)))
        t.start()
        time.sleep(0.8)
        frozen = RtspProbe(url, rcvbuf=4096)
        frozen.setup_tcp(frozen.control_url(frozen.describe().body))
        frozen.play_until_idr()  # then never reads again
        feeds = list(s.rtsp.mounts[s.config.rtsp.path]._feed_list)  # type: ignore[union-attr]
        assert len({id(f) for f in feeds}) == len(feeds) == (1 if fanout == "shared" else 2)
        for i in range(8):
            (clients.raw_reset_session, clients.raw_teardown_session)[i % 2](url)
        t.join(30)
        frozen.reset()
    codes = [c for _, c in result["f"] if c is not None]
    idx = [i for i, _ in codes]
    assert len(idx) >= 100
    missing = (idx[-1] - idx[0] + 1) - len(idx)
    assert missing <= 2, f"watcher lost {missing} frames while others churned"


def test_5b_cleanup_tick_allocates_nothing_per_client(port: int) -> None:
    """The one cleanup timer runs every 2 s for weeks over every connected client, making
    PyGObject calls (session_filter, get_connection, get_read_socket) each time: a few bytes
    leaked per client per tick would be a slope (37 B per client per tick at 5 clients is
    0.3 MB/hour; `session_filter(None)` on a client without a connection leaks about that on
    PyGObject 3.42). Measured here: ~1.5 B per tick with 6 clients (noise)."""
    import gc

    from camera_streaming.telemetry.stats import malloc_trim

    with running(make_config(port)) as s:
        rtsp = s.rtsp
        assert rtsp is not None
        url = s.config.rtsp.url()
        probes = []
        try:
            for i in range(6):  # playing and set-up-only clients: both kinds are checked
                p = RtspProbe(url, timeout=10)
                p.setup_tcp(p.control_url(p.describe().body))
                if i % 2 == 0:
                    p.play_until_idr(timeout=10)
                probes.append(p)
            assert wait_for(lambda: rtsp.clients == 6, 5)
            tick = rtsp._close_idle_clients
            for _ in range(500):
                tick(time.monotonic())
            gc.collect()
            malloc_trim()
            before = allocator_in_use()
            n = 20000
            for _ in range(n):
                tick(time.monotonic())
            gc.collect()
            malloc_trim()
            assert before is not None
            per_tick = (allocator_in_use() - before) / n  # type: ignore[operator]
            print(f"cleanup tick, 6 clients: {per_tick:.1f} B")
            assert per_tick < 20, f"{per_tick:.1f} B per cleanup tick with 6 clients"
            assert rtsp.clients == 6  # nothing was closed: the clients are healthy
        finally:
            for p in probes:
                p.close()
