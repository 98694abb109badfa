"""RTMP push against a real nginx with Debian's libnginx-mod-rtmp, started here on a loopback
port; the stream is pulled back with ffprobe. nginx is killed and restarted mid-stream: the push
resumes, while RTSP clients and the recording do not notice."""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from camera_streaming.backoff import Backoff
from camera_streaming.config import Config, OutputsConfig
from camera_streaming.gst.runtime import Gst
from support.env import free_port, wait_for
from support.fakes import decode_frames, make_config, running
from support.peers import NginxRtmp, probe_stream

pytestmark = pytest.mark.integration


def with_outputs(config: Config, **outputs: object) -> Config:
    return replace(config, outputs=OutputsConfig(**outputs))  # type: ignore[arg-type]


def output(streamer: object, name: str) -> object:
    return next(o for o in streamer.outputs if o.name == name)  # type: ignore[attr-defined]


def test_rtmp_push_is_pulled_back_by_ffprobe(tmp_path: Path, port: int) -> None:
    with NginxRtmp(tmp_path / "nginx", free_port()) as nginx:
        config = with_outputs(make_config(port), rtmp_url=nginx.url())
        with running(config) as streamer:
            rtmp = output(streamer, "rtmp")
            assert wait_for(lambda: rtmp.state == "connected", 10), rtmp.status()
            info = probe_stream(nginx.url())
            assert (info["codec_name"], info["width"], info["height"]) == ("h264", 320, 240)
            # RTSP from the same encode, at the same time.
            assert probe_stream(f"rtsp://127.0.0.1:{port}/stream")["codec_name"] == "h264"
            snap = streamer.snapshot()
            (status,) = snap.outputs
            assert status.name == "rtmp" and status.connected and status.bytes > 0
            assert status.errors == 0 and "rtmp=connected" in snap.line()
            assert streamer.encoder.frames_out > 0


def test_rtmp_push_resumes_after_nginx_restart(tmp_path: Path, port: int) -> None:
    nginx = NginxRtmp(tmp_path / "nginx", free_port())
    nginx.start()
    try:
        config = with_outputs(
            make_config(port), rtmp_url=nginx.url(), save_dir=str(tmp_path / "rec")
        )
        with running(config) as streamer:
            rtmp, rec = output(streamer, "rtmp"), output(streamer, "record")
            assert wait_for(lambda: rtmp.state == "connected", 10), rtmp.status()
            frames: list = []
            viewer = threading.Thread(
                target=lambda: frames.extend(
                    decode_frames(f"rtsp://127.0.0.1:{port}/stream", 7.0, 320, 240)
                )
            )
            viewer.start()
            time.sleep(1.5)
            nginx.stop()
            assert wait_for(lambda: rtmp.state == "retrying", 5), rtmp.status()
            time.sleep(1.0)
            up_at = nginx.start()
            assert wait_for(lambda: rtmp.state == "connected", 10), rtmp.status()
            reconnect_s = rtmp.connected_at - up_at
            print(f"RTMP push resumed {reconnect_s:.2f} s after nginx accepted connections")
            assert reconnect_s < 6.0
            assert rtmp.reconnects >= 1 and rtmp.errors >= 1 and rtmp.last_error
            info = probe_stream(nginx.url())
            assert info["codec_name"] == "h264"
            viewer.join(30)
            # The RTSP viewer and the recording went on through the outage.
            assert len(frames) >= 6.0 * 30 * 0.9, len(frames)
            gaps = [b[0] - a[0] for a, b in zip(frames, frames[1:])]
            assert max(gaps) < 0.5, max(gaps)
            assert rec.state == "connected" and rec.errors == 0, rec.status()
    finally:
        nginx.stop()


def test_rtmp_reconnect_cycles_leave_no_threads_or_fds(port: int) -> None:
    """Against a port nobody listens on every attempt fails: 20+ build/teardown cycles must
    leave the thread and fd counts where they were."""
    dead = f"rtmp://127.0.0.1:{free_port()}/live/cam"
    config = with_outputs(make_config(port), rtmp_url=dead)
    proc = psutil.Process()
    with running(config) as streamer:
        rtmp = output(streamer, "rtmp")
        rtmp.backoff = Backoff(0.05, 0.05)

        def counts_between_attempts(n: int) -> tuple[int, int]:
            assert wait_for(lambda: rtmp.attempts >= n and rtmp.state == "retrying", 30, 0.005)
            return proc.num_threads(), proc.num_fds()

        before = counts_between_attempts(5)
        after = counts_between_attempts(25)
        gc.collect()
        # Python wrappers of dead output pipelines are gone too: the encoder's one remains,
        # plus at most the output's current attempt.
        pipelines = [o for o in gc.get_objects() if isinstance(o, Gst.Pipeline)]
        assert len(pipelines) <= 2, pipelines
        assert rtmp.errors >= 20 and rtmp.state != "connected"
        assert after[0] <= before[0] + 1, (before, after)
        assert after[1] <= before[1] + 1, (before, after)
        # RTSP still serves while the push keeps failing.
        assert probe_stream(f"rtsp://127.0.0.1:{port}/stream")["codec_name"] == "h264"
