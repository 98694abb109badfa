"""A run loads only what it needs (no OpenCV when no frame needs it, no NumPy for a `gst:`
camera), and an encoder nobody watches is parked and comes back with an IDR
(docs/memory.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from camera_streaming.testing.rtsp_probe import RtspProbe
from support.env import ROOT, free_port
from support.fakes import make_config, running

pytestmark = pytest.mark.integration

PROBE = """
import json, sys, time
from camera_streaming.config import Config, HttpConfig, RtspConfig, SourceSpec, VideoConfig
from camera_streaming.config.model import Substream
from camera_streaming.service import Streamer

source, sub = sys.argv[1], sys.argv[2]
cfg = Config(
    video=VideoConfig(320, 240, 30, bitrate_kbps=500),
    rtsp=RtspConfig(port=int(sys.argv[3]), bind="127.0.0.1"),
    source=SourceSpec.parse(source),
    http=HttpConfig(enabled=False),
    substream=Substream(160, 120) if sub == "sub" else None,
)
s = Streamer(cfg, log_stats=False, notify_systemd=False)
s.start()
time.sleep(0.5)
fmts = [st.pipeline.input_format for st in s.streams if st.pipeline is not None]
s.stop()
print(json.dumps({m: m in sys.modules for m in ("cv2", "numpy")} | {"formats": fmts}))
"""


def loaded(source: str, sub: str = "") -> dict:
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROBE), source, sub or "-", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_test_pattern_at_the_output_size_loads_no_opencv() -> None:
    got = loaded("test")
    assert got == {"cv2": False, "numpy": True, "formats": ["BGR"]}  # videoconvert converts


def test_a_gst_camera_loads_neither_numpy_nor_opencv() -> None:
    got = loaded("gst:videotestsrc pattern=ball")
    assert got["cv2"] is False and got["numpy"] is False


def test_a_camera_with_a_stream_to_resize_converts_every_stream_with_opencv() -> None:
    assert loaded("test", "sub")["formats"] == ["I420", "I420"]  # OpenCV on the first frame


def play_until_idr(url: str) -> float:
    probe = RtspProbe(url, timeout=10)
    try:
        probe.setup_tcp(probe.control_url(probe.describe().body))
        result = probe.play_until_idr(timeout=10)
        assert result.first_idr is not None, "no IDR after PLAY"
        return float(result.idr_delay or 0.0)
    finally:
        probe.close()


def test_an_encoder_nobody_watches_is_parked_and_restarts_with_an_idr(
    port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import camera_streaming.gst.encoder as encoder

    monkeypatch.setattr(encoder, "PARK_AFTER_S", 0.5)
    with running(make_config(port)) as s:
        url = s.config.rtsp.url("127.0.0.1")
        enc = s.encoder
        assert enc is not None
        for _ in range(2):
            assert play_until_idr(url) < 2.0
            deadline = time.monotonic() + 10
            while not enc.parked and time.monotonic() < deadline:
                time.sleep(0.1)
            assert enc.parked, "the encoder was not parked once the client left"
        frames_in = enc.frames_in
        assert play_until_idr(url) < 2.0  # unparked by the next client's frames
        assert not enc.parked and enc.frames_in > frames_in and enc.parks >= 2
        assert enc.alloc_failures == 0 and s.error is None
