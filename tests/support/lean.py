"""Helpers for tests/integration/test_lean.py: what a started streamer has imported (in a
fresh interpreter), and one client's PLAY -> first IDR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from camera_streaming.testing.rtsp_probe import RtspProbe

from .env import ROOT, free_port

PROBE = """
import json, sys, time
from camera_streaming.config import Config, HttpConfig, RtspConfig, SourceSpec, VideoConfig
from camera_streaming.config.model import Substream
from camera_streaming.service import Streamer

source, sub, hook = sys.argv[1], sys.argv[2], sys.argv[4] or None
cfg = Config(
    video=VideoConfig(320, 240, 30, bitrate_kbps=500),
    rtsp=RtspConfig(port=int(sys.argv[3]), bind="127.0.0.1"),
    source=SourceSpec.parse(source),
    http=HttpConfig(enabled=False),
    substream=Substream(160, 120) if sub == "sub" else None,
    hook=hook,
)
s = Streamer(cfg, log_stats=False, notify_systemd=False)
s.start()
time.sleep(0.5)
fmts = [st.pipeline.input_format for st in s.streams if st.pipeline is not None]
s.stop()
print(json.dumps({m: m in sys.modules for m in ("cv2", "numpy")} | {"formats": fmts}))
"""


def loaded_after_start(source: str, substream: bool = False, hook: str = "", **env: str) -> dict:
    """Start a 320x240 streamer of `source` (with a 160x120 sub stream, with a `hook`) in a
    fresh interpreter with `env` added: whether cv2 and numpy are loaded, and each encoder's
    input format."""
    res = subprocess.run(
        [
            sys.executable, "-c", textwrap.dedent(PROBE), source,
            "sub" if substream else "-", str(free_port()), hook,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **env},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def play_until_idr(url: str) -> float:
    """DESCRIBE, SETUP (TCP), PLAY; seconds from PLAY to the first IDR."""
    probe = RtspProbe(url, timeout=10)
    try:
        probe.setup_tcp(probe.control_url(probe.describe().body))
        result = probe.play_until_idr(timeout=10)
        assert result.first_idr is not None, "no IDR after PLAY"
        return float(result.idr_delay or 0.0)
    finally:
        probe.close()
