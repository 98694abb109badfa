"""Recording the one encode: Matroska segments readable after kill -9 and after SIGTERM,
retention by count, H.265 recorded as H.265, a full disk logged once while RTSP goes on, bad
--save at start."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from camera_streaming.backoff import Backoff
from camera_streaming.config import OutputsConfig
from camera_streaming.gst.outputs.record import segment_files
from support.env import wait_for
from support.fakes import decode_frames, make_config, running
from support.peers import decodable_frames, probe_span, probe_stream

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "camera_streaming", "--source", "test", "--width", "320"]
CLI += ["--height", "240", "--fps", "30", "--stats-interval", "1"]


def first_bytes_at(directory: Path, timeout: float = 20) -> float:
    """Monotonic time the first segment file had data."""

    def has_data() -> bool:
        files = segment_files(directory)
        return bool(files) and files[0].stat().st_size > 0

    assert wait_for(has_data, timeout, 0.02), list(directory.iterdir())
    return time.monotonic()


def test_kill_9_leaves_a_readable_last_file(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    proc = subprocess.Popen(
        [*CLI, "--save", str(rec), "--segment", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        started = first_bytes_at(rec)
        time.sleep(6.0)
        proc.kill()  # SIGKILL: nothing gets to close the file
        recorded = time.monotonic() - started
    finally:
        proc.kill()
        proc.wait(10)
    last = segment_files(rec)[-1]
    span, packets = probe_span(last)
    frames = decodable_frames(last)
    print(f"kill -9: recorded {recorded:.2f} s, ffprobe reads {span:.2f} s ({frames} frames)")
    assert span >= recorded - 2.0, (span, recorded)
    assert frames >= packets - 2


def test_sigterm_closes_segments_and_keeps_the_newest(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    proc = subprocess.Popen(
        [*CLI, "--save", str(rec), "--segment", "1", "--keep-segments", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_bytes_at(rec)
        time.sleep(6.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == 0, err
    files = segment_files(rec)
    assert len(files) == 3, files  # 6 s of 1 s segments, --keep-segments 3
    names = [f.name for f in files]
    assert names == sorted(names)
    durations = []
    for f in files:  # closed properly: Matroska with its duration written
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration,format_name"]
            + ["-of", "csv=p=0", str(f)],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert out.returncode == 0 and "matroska" in out.stdout, out
        durations.append(float(out.stdout.strip().split(",")[-1]))
        first = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1"]
            + ["-show_entries", "packet=flags", "-of", "csv=p=0", str(f)],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert first.stdout.startswith("K"), (f, first.stdout)  # every file opens on an IDR
    # The last one may have just begun (a segment starts on every keyframe past the limit).
    assert all(d > 0 for d in durations) and max(durations) >= 0.9, durations
    assert "record=" in err


def test_segments_and_retention_in_process(tmp_path: Path, port: int) -> None:
    rec = tmp_path / "rec"
    outputs = OutputsConfig(save_dir=str(rec), segment_s=1.0, keep_segments=2)
    config = replace(make_config(port), outputs=outputs)
    config = replace(config, rtsp=replace(config.rtsp, enabled=False))
    with running(config) as streamer:
        (recorder,) = streamer.outputs
        assert wait_for(lambda: recorder.deleted >= 2, 20), recorder.status()
        status = streamer.snapshot().outputs[0]
        assert status.name == "record" and status.files >= 3 and status.errors == 0
        assert len(segment_files(rec)) <= 2
    assert probe_stream(str(segment_files(rec)[-1]))["codec_name"] == "h264"


def test_h265_is_recorded_as_h265(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    proc = subprocess.Popen(
        [*CLI, "--codec", "h265", "--save", str(rec), "--segment", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = first_bytes_at(rec)
        time.sleep(3.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        recorded = time.monotonic() - started
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == 0, err
    (segment,) = segment_files(rec)  # one segment, written to, no empty retries
    info = probe_stream(str(segment))
    assert (info["codec_name"], info["width"], info["height"]) == ("hevc", 320, 240)
    span, packets = probe_span(segment)
    frames = decodable_frames(segment)
    print(f"h265: {segment.stat().st_size} bytes, {frames} frames over {span:.2f} s")
    assert span >= recorded - 1.5 and frames >= packets - 2 and frames >= 60, (span, frames)
    assert "record=connected" in err and "record=retrying" not in err, err


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 400 KiB tmpfs: a real ENOSPC after about 1.5 s of video."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {out.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_is_logged_once_and_rtsp_goes_on(
    tiny_disk: Path, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="camera_streaming")
    config = replace(make_config(port), outputs=OutputsConfig(save_dir=str(tiny_disk)))
    with running(config) as streamer:
        (recorder,) = streamer.outputs
        recorder.backoff = Backoff(0.2, 0.2)
        assert wait_for(lambda: recorder.errors >= 1, 20), recorder.status()
        frames = decode_frames(f"rtsp://127.0.0.1:{port}/stream", 3.0, 320, 240)
        assert wait_for(lambda: recorder.errors >= 3, 20), recorder.status()
        status = streamer.snapshot().outputs[0]
    assert len(frames) >= 3.0 * 30 * 0.9, len(frames)
    assert status.state in ("retrying", "starting") and status.errors >= 3
    assert "No space left" in status.last_error or "space" in status.last_error.lower()
    failures = [r for r in caplog.records if "record output" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in failures]


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--save", "{file}/rec"], "--save"),  # a directory under a regular file
        (["--rtmp", "http://127.0.0.1/live/x"], "--rtmp"),
        (["--publish", "rtmp://127.0.0.1/cam"], "--publish"),
        (["--segment", "0", "--save", "/tmp"], "--segment"),
        (["--keep-bytes", "lots", "--save", "/tmp"], "--keep-bytes"),
    ],
)
def test_bad_output_flags_are_one_line_exit_2(args: list[str], word: str, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    args = [a.replace("{file}", str(tmp_path / "file")) for a in args]
    out = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=30, env=dict(os.environ)
    )
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and word in lines[0] and "Traceback" not in out.stderr, out.stderr


def test_api_records_pushed_frames_without_rtsp(tmp_path: Path) -> None:
    import numpy as np

    from camera_streaming import OutputsConfig as PublicOutputsConfig
    from camera_streaming import RtspStreamer

    rec = tmp_path / "rec"
    frame = np.zeros((240, 320, 3), np.uint8)
    with RtspStreamer(
        width=320, height=240, fps=30, rtsp=False, outputs=PublicOutputsConfig(save_dir=str(rec))
    ) as s:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            frame[:] = int(time.monotonic() * 50) % 255
            s.push_frame(frame)
            time.sleep(1 / 30)
        stats = s.stats()
        assert stats is not None and stats.outputs[0].state == "connected", stats
        assert stats.outputs[0].bytes > 0 and not s.has_client
    assert probe_span(segment_files(rec)[-1])[0] >= 2.0
