"""The real server on a free loopback port, played by real clients."""

from __future__ import annotations

import threading
import time

import pytest

from camera_streaming.testing.clients import rtspsrc_played, run_rtspsrc
from camera_streaming.testing.rtsp_probe import RtspProbe
from support.env import require_tool
from support.fakes import decode_frames, ffprobe_stream, make_config, running

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffprobe_sees_h264_at_the_configured_size(port: int, transport: str) -> None:
    require_tool("ffprobe")
    with running(make_config(port, 640, 360, 30)) as s:
        info = ffprobe_stream(s.config.rtsp.url(), transport)
    assert info["codec_name"] == "h264"
    assert (info["width"], info["height"]) == (640, 360)
    assert info["pix_fmt"] == "yuv420p"


def test_decoding_client_gets_the_configured_rate_in_order(port: int) -> None:
    require_tool("ffmpeg")
    fps = 30
    with running(make_config(port, 320, 240, fps)) as s:
        frames = decode_frames(s.config.rtsp.url(), 4.0, 320, 240)
        dropped = s.snapshot().dropped
    codes = [c for _, c in frames if c is not None]
    assert len(codes) >= 3 * fps, f"only {len(codes)} frames decoded"
    assert len(codes) >= 0.95 * len(frames)
    indices = [i for i, _ in codes]
    assert all(b > a for a, b in zip(indices, indices[1:])), "frame indices not increasing"
    span_s = (codes[-1][1] - codes[0][1]) / 1000
    measured = (len(codes) - 1) / span_s
    assert abs(measured - fps) <= 0.1 * fps, f"{measured:.1f} fps, wanted {fps}"
    gaps = (indices[-1] - indices[0] + 1) - len(indices)
    assert gaps <= 0.05 * len(indices), f"{gaps} frames missing"
    assert dropped == 0


def test_gst_rtspsrc_plays(port: int) -> None:
    require_tool("gst-launch-1.0")
    with running(make_config(port)) as s:
        out = run_rtspsrc(s.config.rtsp.url(), "protocols=tcp", buffers=30, decode=True)
    assert rtspsrc_played(out), out.stderr


def test_three_concurrent_clients(port: int) -> None:
    require_tool("ffmpeg")
    results: dict[int, list] = {}
    with running(make_config(port)) as s:
        url = s.config.rtsp.url()

        def watch(i: int) -> None:
            results[i] = decode_frames(url, 3.0, 320, 240, "tcp" if i % 2 else "udp")

        threads = [threading.Thread(target=watch, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        during = s.snapshot()
        for t in threads:
            t.join(40)
        encoded_once = s.encoder.frames_out  # type: ignore[union-attr]
    assert during.clients == 3 and during.sessions == 3
    for i in range(3):
        assert len(results[i]) >= 60, f"client {i}: {len(results[i])} frames"
    # One encode for everyone: about 30 fps of wall time, not three times that.
    assert encoded_once < 30 * 8


def test_late_joiner_gets_an_idr_quickly(port: int) -> None:
    with running(
        make_config(
            port,
            640,
            360,
            30,
        )
    ) as s:
        url = s.config.rtsp.url()
        with RtspProbe(url) as first:
            first.setup_tcp(first.control_url(first.describe().body))
            assert first.play_until_idr().first_idr is not None
            delays = []
            for _ in range(5):
                time.sleep(0.37)  # land mid-GOP
                with RtspProbe(url) as late:
                    late.setup_tcp(late.control_url(late.describe().body))
                    r = late.play_until_idr()
                    late.teardown()
                assert r.idr_delay is not None
                delays.append(r.idr_delay)
    assert max(delays) <= 0.15, delays


def test_idr_after_play_even_when_play_comes_late(port: int) -> None:
    """SETUP, wait a second, PLAY: the first IDR still comes at once and the stream then has
    a fresh IDR (no stale deltas from before PLAY)."""
    with running(make_config(port)) as s:
        with RtspProbe(s.config.rtsp.url()) as c:
            c.setup_tcp(c.control_url(c.describe().body))
            time.sleep(1.0)
            r = c.play_until_idr()
    assert r.idr_delay is not None and r.idr_delay <= 0.15
