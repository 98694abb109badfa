"""`camera-streaming monitor PID`: one row per interval until the process exits."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_monitor_samples_until_the_process_exits(tmp_path: Path) -> None:
    target = subprocess.Popen(
        [sys.executable, "-c", "import time; b = bytearray(30_000_000); time.sleep(1.5)"]
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "camera_streaming",
            "monitor",
            str(target.pid),
            "--interval",
            "0.2",
            "--csv",
            str(tmp_path / "m.csv"),
            "--plot",
            str(tmp_path / "m.png"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    target.wait()
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader((tmp_path / "m.csv").open()))
    assert 4 <= len(rows) <= 12  # ended with the process, not before, not long after
    assert rows[0].keys() == {"time_s", "rss_mb", "vsz_mb", "cpu_percent"}
    assert max(float(r["rss_mb"]) for r in rows) > 30
    assert (tmp_path / "m.png").stat().st_size > 5000
    assert "rss_mb" in out.stdout.splitlines()[0]


def test_monitor_unknown_pid_is_one_line_exit_2() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "camera_streaming", "monitor", "999999999"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "999999999" in out.stderr
