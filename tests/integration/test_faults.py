"""Faults in the frame path: a source that fails and returns, a file that disappears, a source
that stalls, an encoder that stops producing. A real ffmpeg client stays connected throughout."""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from camera_streaming.config import RecoveryConfig, SourceSpec
from camera_streaming.sources import TestPatternSource
from support.fakes import SwitchableSource, decode_frames, make_config, running

pytestmark = pytest.mark.integration
W, H, FPS = 320, 240, 30


class StallingSource(TestPatternSource):
    """A test pattern whose read blocks while `stalled` is set, like a camera that stops
    delivering without an error."""

    name = "stalling"

    def __init__(self) -> None:
        super().__init__(W, H, FPS)
        self.stalled = threading.Event()
        self.opens = 0

    def open(self) -> None:
        self.opens += 1
        super().open()

    def read(self) -> np.ndarray | None:
        while self.stalled.is_set():
            time.sleep(0.05)
        return super().read()


def watch(url: str, seconds: float) -> tuple[list, threading.Thread]:
    """Decode `seconds` of the stream in a thread; return once its first frame is in (a slow
    ffmpeg start on a loaded machine must not eat the window the test acts in)."""
    out: list = []
    started = threading.Event()
    t = threading.Thread(
        target=lambda: out.extend(decode_frames(url, seconds, W, H, "tcp", started))
    )
    t.start()
    assert started.wait(20), "ffmpeg decoded no frame in 20 s"
    return out, t


def is_slate(code: tuple[int, int] | None) -> bool:
    return code == (0, 0)


def max_gap(frames: list, t0: float, t1: float) -> float:
    times = [t for t, _ in frames if t0 <= t <= t1]
    return max((b - a for a, b in zip(times, times[1:])), default=99.0)


def test_source_loss_shows_slate_and_recovers_within_2s(port: int) -> None:
    source = SwitchableSource(W, H, FPS)
    cfg = make_config(port, W, H, FPS)
    with running(cfg, source=source) as s:
        frames, t = watch(cfg.rtsp.url(), 7.0)
        time.sleep(2.0)
        lost0, reopens0 = s.faults.source_lost, s.faults.source_reopens  # (the first open)
        broke = time.monotonic()
        source.broken.set()
        time.sleep(2.5)
        fixed = time.monotonic()
        source.broken.clear()
        t.join(30)
        faults = s.faults
    assert faults.source_lost - lost0 == 1 and faults.source_reopens - reopens0 == 1, faults
    assert faults.slate_frames > 30
    during = [c for ts, c in frames if broke + 0.5 < ts < fixed]
    assert during and all(is_slate(c) for c in during), during[:5]
    # The client kept receiving frames at about the configured rate, slate included.
    assert max_gap(frames, frames[0][0] + 0.5, frames[-1][0]) < 0.5
    assert len(during) >= (fixed - broke - 0.5) * FPS * 0.8
    back = [ts for ts, c in frames if ts > fixed and c is not None and not is_slate(c)]
    assert back, "the picture never came back"
    recovery = back[0] - fixed
    print(f"recovery after the source returned: {recovery:.2f} s")
    assert recovery < 2.0


def test_file_that_disappears_and_comes_back(port: int, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size={W}x{H}:rate={FPS}",
            "-t",
            "1",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(video),
        ],
        check=True,
        timeout=60,
    )
    hidden = tmp_path / "hidden.mp4"
    cfg = replace(make_config(port, W, H, FPS), source=SourceSpec("file", str(video), loop=False))
    with running(cfg) as s:
        frames, t = watch(cfg.rtsp.url(), 6.0)
        video.rename(hidden)  # the file ends after 1 s and cannot be re-opened
        time.sleep(3.0)
        assert s.faults.source_lost >= 1 and s.faults.reopen_failures >= 1, s.faults
        slate_before = s.faults.slate_frames
        assert slate_before > FPS
        hidden.rename(video)
        back_at = time.monotonic()
        while s.faults.source_reopens == 0 and time.monotonic() - back_at < 3:
            time.sleep(0.05)
        reopened = time.monotonic() - back_at
        t.join(30)
    assert reopened < 2.0
    assert max_gap(frames, frames[0][0] + 0.5, frames[-1][0]) < 0.5
    assert len(frames) >= 4 * FPS


def test_stalled_source_is_treated_as_lost(port: int) -> None:
    source = StallingSource()
    cfg = replace(make_config(port, W, H, FPS), recovery=RecoveryConfig(stall_timeout_s=0.5))
    with running(cfg, source=source) as s:
        frames, t = watch(cfg.rtsp.url(), 4.0)
        time.sleep(1.0)
        opens0, reopens0 = source.opens, s.faults.source_reopens
        source.stalled.set()
        time.sleep(1.5)
        assert s.faults.source_stalls == 1 and s.faults.slate_frames > 10, s.faults
        source.stalled.clear()
        time.sleep(1.0)
        t.join(30)
        faults = s.faults
    assert source.opens - opens0 == 1 and faults.source_reopens - reopens0 == 1, faults
    # A stalled read delivers nothing until the stall timeout says so: the picture pauses for
    # that long (0.5 s), then the slate comes within a frame or two, never a longer freeze.
    stall_s = cfg.recovery.stall_timeout_s
    assert max_gap(frames, frames[0][0] + 0.5, frames[-1][0]) < stall_s + 0.35
    assert any(is_slate(c) for _, c in frames)
    assert frames[-1][1] is not None and not is_slate(frames[-1][1])


def watch_through_an_encoder_stall(s, url: str) -> tuple[list, float]:  # type: ignore[no-untyped-def]
    """Watch for 8 s; 1.5 s in, make the encoder stop producing. (frames, when it stalled)."""
    frames, t = watch(url, 8.0)
    time.sleep(1.5)
    assert s.encoder is not None
    s.encoder._inject_stall()
    stalled_at = time.monotonic()
    t.join(30)
    return frames, stalled_at


def test_stalled_encoder_is_rebuilt_and_the_client_keeps_playing(port: int) -> None:
    cfg = replace(make_config(port, W, H, FPS), recovery=RecoveryConfig(stall_timeout_s=1.0))
    with running(cfg) as s:
        frames, stalled_at = watch_through_an_encoder_stall(s, cfg.rtsp.url())
        assert s.faults.encoder_stalls == 1 and s.encoder.rebuilds == 1, s.faults
    after = [ts for ts, _ in frames if ts > stalled_at + 4.5]
    assert len(after) >= FPS, len(after)  # the same session plays again after the rebuild


def test_encoder_watchdog_also_guards_frames_pushed_from_python(port: int) -> None:
    cfg = replace(make_config(port, W, H, FPS), source=SourceSpec("api"))
    pattern = TestPatternSource(W, H, FPS)
    pattern.open()
    with running(cfg) as s:
        stop = threading.Event()

        def pusher() -> None:
            while not stop.wait(1 / FPS):
                frame = pattern.read()
                assert frame is not None
                s.push_frame(frame)

        t_push = threading.Thread(target=pusher, name="pusher")
        t_push.start()
        try:
            frames, stalled_at = watch_through_an_encoder_stall(s, cfg.rtsp.url())
        finally:
            stop.set()
            t_push.join()
        assert s.faults.encoder_stalls == 1 and s.faults.slate_frames == 0, s.faults
    assert len([ts for ts, _ in frames if ts > stalled_at + 4.5]) >= FPS
