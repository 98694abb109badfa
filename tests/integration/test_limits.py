"""--max-clients: client N+1 gets a clean RTSP error while the N keep streaming; sessions of
vanished clients stop counting after their timeout."""

from __future__ import annotations

import time

import pytest

from camera_streaming.testing.rtsp_probe import RtspProbe
from support.fakes import make_config, running

pytestmark = pytest.mark.integration


def rtp_packets(probe: RtspProbe, seconds: float) -> int:
    """Count interleaved RTP packets read on a playing TCP probe for `seconds`."""
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        while len(probe.buf) < 4:
            probe._recv_more()
        if probe.buf[0:1] != b"$":
            probe.read_response()
            continue
        length = int.from_bytes(probe.buf[2:4], "big")
        while len(probe.buf) < 4 + length:
            probe._recv_more()
        probe.buf = probe.buf[4 + length :]
        n += 1
    return n


def playing_tcp(url: str) -> RtspProbe:
    p = RtspProbe(url)
    p.setup_tcp(p.control_url(p.describe().body))
    assert p.play_until_idr().first_idr is not None
    return p


def test_client_beyond_the_limit_gets_503_and_the_others_keep_streaming(port: int) -> None:
    cfg = make_config(port, max_clients=2, session_timeout_s=1)
    with running(cfg) as s:
        url = cfg.rtsp.url()
        a, b = playing_tcp(url), playing_tcp(url)
        with RtspProbe(url) as c:
            ctl = c.control_url(c.describe().body)  # DESCRIBE is not limited, SETUP is
            r = c.request(
                "SETUP", ctl, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}, check=False
            )
            assert r.status in (503, 453), r.status
            assert c.request("OPTIONS", check=False).status == 200  # the connection is fine
        assert rtp_packets(a, 1.0) > 15 and rtp_packets(b, 1.0) > 15
        assert s.rtsp is not None and s.rtsp.sessions == 2

        # b vanishes without TEARDOWN (connection reset): its session counts until it times
        # out, then a new client gets in.
        b.reset()
        gone = time.monotonic()
        deadline = gone + 30
        while time.monotonic() < deadline:
            with RtspProbe(url) as u:
                ctl = u.control_url(u.describe().body)
                r = u.request(
                    "SETUP", ctl, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}, check=False
                )
                if r.status == 200:
                    break
                assert r.status in (503, 453)
            assert rtp_packets(a, 0.5) > 5  # a keeps reading (and streaming)
        freed = time.monotonic() - gone
        print(f"a vanished client's session stopped counting after {freed:.1f} s")
        assert r.status == 200
        assert rtp_packets(a, 1.0) > 15
        a.teardown()
        a.close()
