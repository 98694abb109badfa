"""Signals with clients connected: SIGTERM closes their connections (the only way RTSP 1.0 can
tell them) and exits 0 within 3 s; SIGHUP is ignored (documented in docs/faults.md)."""

from __future__ import annotations

import signal
import time

import pytest

from camera_streaming.testing.rtsp_probe import RtspProbe, RtspProbeError
from support.env import start_cli

pytestmark = pytest.mark.integration


def test_sighup_is_ignored_and_sigterm_closes_playing_clients(port: int) -> None:
    proc = start_cli(port)
    url = f"rtsp://127.0.0.1:{port}/stream"
    probe = RtspProbe(url, timeout=5)
    probe.setup_tcp(probe.control_url(probe.describe().body))
    assert probe.play_until_idr().first_idr is not None
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert proc.poll() is None
    assert probe.play_until_idr(timeout=2).rtp_packets > 0  # still streaming
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    with pytest.raises((RtspProbeError, OSError)):
        while time.monotonic() - t0 < 5:
            probe._recv_more()
            probe.buf = b""
    told = time.monotonic() - t0
    _, err = proc.communicate(timeout=10)
    probe.close()
    assert proc.returncode == 0, err
    assert told < 3.0 and time.monotonic() - t0 < 3.5


def test_sigterm_twice_logs_one_stop(port: int) -> None:
    """`make run` forwards the SIGTERM a group kill also sends to us: one stop, one line."""
    proc = start_cli(port)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert err.count("SIGTERM received") == 1, err
