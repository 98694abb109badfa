"""--publish: RTSP ANNOUNCE/RECORD to a real RTSP server that accepts RECORD, run here in its
own process (gst-rtsp-server in RECORD mode: camera_streaming.testing.record_server; why not
Debian's rtsp-server-perl is in that module's docstring and docs/outputs.md). The server writes
what it receives to a file, which ffprobe then reads. The server is also restarted mid-stream."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from camera_streaming.config import OutputsConfig
from support.env import free_port, wait_for
from support.fakes import make_config, running
from support.peers import RecordServer, decodable_frames, probe_span, probe_stream

pytestmark = pytest.mark.integration


def test_publish_reaches_a_record_server_and_resumes(tmp_path: Path, port: int) -> None:
    server_port = free_port()
    first, second = tmp_path / "first.mkv", tmp_path / "second.mkv"
    server = RecordServer(server_port, first)
    config = replace(make_config(port), outputs=OutputsConfig(publish_url=server.url()))
    with server, running(config) as streamer:
        (publisher,) = streamer.outputs
        assert wait_for(lambda: publisher.state == "connected", 15), publisher.status()
        t0 = time.monotonic()
        time.sleep(4.0)
        sent_s = time.monotonic() - t0
        # RTSP from the same encode meanwhile.
        assert probe_stream(f"rtsp://127.0.0.1:{port}/stream")["codec_name"] == "h264"
        server.__exit__()  # the media server goes away...
        assert wait_for(lambda: publisher.state == "retrying", 10), publisher.status()
        server.out = second
        server.__enter__()  # ...and comes back
        assert wait_for(lambda: publisher.state == "connected", 15), publisher.status()
        assert wait_for(lambda: second.exists() and second.stat().st_size > 50_000, 10)
        status = streamer.snapshot().outputs[0]
        assert status.name == "publish" and status.reconnects >= 1 and status.bytes > 0
    info = probe_stream(str(first))
    assert (info["codec_name"], info["width"], info["height"]) == ("h264", 320, 240)
    span, packets = probe_span(first)
    assert span >= sent_s - 1.0, (span, sent_s)
    assert decodable_frames(first) >= packets - 2
    assert probe_stream(str(second))["codec_name"] == "h264"
