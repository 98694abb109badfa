"""Soak (make soak): hundreds of output (re)builds and minutes of pushing must leave RSS and
the allocator's in-use bytes flat (docs/gstreamer.md, fact 16: measure both)."""

from __future__ import annotations

import gc
import time
from dataclasses import replace
from pathlib import Path

import pytest

from camera_streaming.config import OutputsConfig
from camera_streaming.telemetry.stats import allocator_in_use, malloc_trim, rss_bytes
from support.env import free_port, wait_for
from support.fakes import make_config, running
from support.peers import NginxRtmp

pytestmark = pytest.mark.soak


def memory() -> tuple[float, float]:
    gc.collect()
    malloc_trim()
    return rss_bytes() / 1e6, (allocator_in_use() or 0) / 1e6


def test_output_rebuilds_do_not_grow_memory(port: int) -> None:
    dead = f"rtmp://127.0.0.1:{free_port()}/live/cam"
    config = replace(make_config(port), outputs=OutputsConfig(rtmp_url=dead))
    with running(config) as streamer:
        (rtmp,) = streamer.outputs
        rtmp.backoff = (0.02,)
        marks = []
        for n in (50, 150, 300):
            assert wait_for(lambda n=n: rtmp.attempts >= n, 300)
            marks.append((n, *memory()))
            print(f"attempts={n} rss={marks[-1][1]:.1f}MB heap={marks[-1][2]:.1f}MB")
    (_, rss50, heap50), _, (_, rss300, heap300) = marks
    assert heap300 - heap50 < 2.0, marks  # < 8 KB per rebuild
    assert rss300 - rss50 < 8.0, marks


def test_pushing_for_minutes_keeps_memory_flat(tmp_path: Path, port: int) -> None:
    with NginxRtmp(tmp_path / "nginx", free_port()) as nginx:
        outputs = OutputsConfig(
            rtmp_url=nginx.url(), save_dir=str(tmp_path / "rec"), segment_s=5, keep_segments=3
        )
        with running(replace(make_config(port), outputs=outputs)) as streamer:
            time.sleep(20)  # warm-up
            first = memory()
            time.sleep(120)
            last = memory()
            print(
                f"after warm-up rss={first[0]:.1f}MB heap={first[1]:.1f}MB; "
                f"2 min later rss={last[0]:.1f}MB heap={last[1]:.1f}MB"
            )
            assert all(o.errors == 0 for o in streamer.outputs)
    assert last[1] - first[1] < 2.0 and last[0] - first[0] < 8.0, (first, last)
