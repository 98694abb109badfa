"""Minutes-long soak runs (make soak): the real CLI server under the full client mix.

Each runs bench/soak.py, which prints progress and PASS/FAIL per target and writes a CSV
and a PNG under out/; the test passes when every verdict passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.soak


def soak(*args: str, timeout: float) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), *args], timeout=timeout, cwd=ROOT
    )
    assert out.returncode == 0, "a soak target failed: see the report above"


def test_ten_thousand_mixed_sessions_flat() -> None:
    """10,000 mixed sessions: RSS growth after warm-up <= 2 MB, sessions back to 0, fds and
    threads back to their warm-up values, connected == closed."""
    soak(
        "--sessions",
        "10000",
        "--width",
        "320",
        "--height",
        "240",
        "--fps",
        "15",
        "--concurrency",
        "3",
        "--sample-interval",
        "10",
        "--out",
        "out/soak-10k",
        timeout=3 * 3600,
    )


def test_no_live_gstreamer_objects_after_1000_sessions() -> None:
    soak(
        "--sessions",
        "1000",
        "--width",
        "320",
        "--height",
        "240",
        "--leaks-tracer",
        "--sample-interval",
        "5",
        "--out",
        "out/soak-tracer",
        timeout=3600,
    )
