"""Client churn: many clients connecting, playing, resetting and tearing down concurrently.

Stock gst-rtsp-server 1.22.0 aborts under this with a shared media (docs/gstreamer.md, fact 17); our
media-per-client design must survive it, keep a healthy client at full rate, and give back
every session, fd and thread."""

from __future__ import annotations

import signal
import threading
import time

import psutil
import pytest

from camera_streaming.config import FANOUTS
from camera_streaming.testing.rtsp_probe import RtspProbe
from camera_streaming.testing.soak import idle_medias
from support.churn import SESSIONS, churn, one_session, settled_baseline
from support.env import start_cli, wait_for
from support.fakes import decode_frames, make_config, running

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fanout", FANOUTS)
def test_concurrent_churn_keeps_healthy_client_and_frees_everything(port: int, fanout: str) -> None:
    """Shared fan-out: the one media is anchored (prepared by the server) and must survive."""
    proc = psutil.Process()
    anchored = idle_medias(fanout, 0)  # shared: the one anchored media stays
    cfg = make_config(
        port, 320, 240, 30, session_timeout_s=2, post_session_timeout_s=1, fanout=fanout
    )
    with running(cfg) as s:
        url = s.config.rtsp.url()
        for mode in range(len(SESSIONS)):  # warm-up: thread pools, a shared media's UDP ports
            one_session(url, mode)
        fds0, threads0 = settled_baseline(s, proc, anchored)

        healthy: dict = {}
        watcher = threading.Thread(
            target=lambda: healthy.update(frames=decode_frames(url, 6.0, 320, 240))
        )
        watcher.start()
        time.sleep(1.0)
        errors: list = []
        churn(url, 80, 4, errors)
        watcher.join(60)

        assert not errors, errors[:5]
        frames = healthy["frames"]
        codes = [c for _, c in frames if c is not None]
        span = (codes[-1][1] - codes[0][1]) / 1000
        assert (len(codes) - 1) / span >= 27, "healthy client lost its frame rate"

        # Vanished clients: sessions time out (2 s), connections close after 1 s more.
        assert wait_for(
            lambda: s.rtsp.sessions == 0 and s.rtsp.clients == 0 and s.rtsp.feeds == anchored, 20
        ), (s.rtsp.sessions, s.rtsp.clients)
        assert s.rtsp.medias_configured == s.rtsp.medias_released + anchored
        assert s.rtsp.clients_connected == s.rtsp.clients_closed
        assert wait_for(lambda: proc.num_fds() <= fds0, 10), (proc.num_fds(), fds0)
        assert wait_for(lambda: proc.num_threads() <= threads0 + 2, 20), (
            proc.num_threads(),
            threads0,
        )
        # Nobody watching: the encoder idles (shared: a few seconds after the last PLAY).
        assert wait_for(lambda: not s.encoder.wanted, 10)  # type: ignore[union-attr]
        time.sleep(0.3)
        encoded = s.encoder.frames_out  # type: ignore[union-attr]
        time.sleep(0.5)
        assert s.encoder.frames_out == encoded  # type: ignore[union-attr]


@pytest.mark.parametrize("fanout", FANOUTS)
def test_fifty_connect_disconnect_cycles_leave_nothing_behind(port: int, fanout: str) -> None:
    proc = psutil.Process()
    anchored = idle_medias(fanout, 0)  # shared: the one anchored media stays
    cfg = make_config(
        port, 320, 240, 30, session_timeout_s=2, post_session_timeout_s=1, fanout=fanout
    )
    with running(cfg) as s:
        url = s.config.rtsp.url()
        one_session(url, 0)
        one_session(url, 2)  # a shared media opens its UDP ports once, for its lifetime
        fds0, threads0 = settled_baseline(s, proc, anchored)
        for i in range(50):
            one_session(url, (0, 1, 2, 3)[i % 4])
        assert wait_for(
            lambda: s.rtsp.sessions == 0 and s.rtsp.clients == 0 and s.rtsp.feeds == anchored, 15
        ), (s.rtsp.sessions, s.rtsp.clients)
        assert wait_for(lambda: proc.num_fds() == fds0, 10), (proc.num_fds(), fds0)
        assert wait_for(lambda: proc.num_threads() <= threads0 + 1, 20), (
            proc.num_threads(),
            threads0,
        )


@pytest.mark.parametrize("attempt", range(3))
def test_sigterm_while_many_clients_vanish_exits_cleanly(attempt: int) -> None:
    """16 playing clients reset at once and SIGTERM right after: the process must stop with
    exit code 0 (gst-rtsp-server asserted in get_data_seq when sessions were removed while
    their media still sent)."""
    from support.env import free_port

    port = free_port()
    proc = start_cli(port)
    url = f"rtsp://127.0.0.1:{port}/stream"
    probes = []
    try:
        for _ in range(32):
            p = RtspProbe(url, timeout=10)
            p.setup_tcp(p.control_url(p.describe().body))
            p.play_until_idr(timeout=10)
            probes.append(p)
        time.sleep(0.3)
        for i, p in enumerate(probes):  # RST, FIN and TEARDOWN mixed
            (p.reset, p.close, p.teardown)[(i + attempt) % 3]()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "ERROR:" not in err and "Bail out" not in err, err[-2000:]
