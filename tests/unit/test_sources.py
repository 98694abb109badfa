"""OpenCV sources on a real file made at test time."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_streaming.errors import SourceError
from camera_streaming.sources import CameraSource, FileSource


def make_clip(path: Path, frames: int = 5) -> None:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        out.write(np.full((48, 64, 3), i * 40, np.uint8))
    out.release()


def test_file_source_loops_into_one_reused_buffer(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    make_clip(clip)
    src = FileSource(str(clip), loop=True)
    src.open()
    frames = [src.read() for _ in range(12)]
    assert all(f is not None and f.shape == (48, 64, 3) for f in frames)
    assert len({id(f) for f in frames}) == 1  # the same array every time
    src.close()
    assert src.read() is None


def test_file_source_without_loop_ends(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    make_clip(clip, 3)
    src = FileSource(str(clip), loop=False)
    src.open()
    got = [src.read() is not None for _ in range(5)]
    assert got == [True, True, True, False, False]


def test_missing_file_and_camera_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        FileSource(str(tmp_path / "nope.mp4")).open()
    with pytest.raises(SourceError, match="--source test"):
        CameraSource("/dev/video99", 640, 480, 30).open()
