"""Frame sources: test pattern, V4L2 camera, video file. `open_source()` picks one from a spec."""

from __future__ import annotations

import glob
import logging

from ..config.model import SourceSpec, VideoConfig
from ..errors import SourceError
from .base import FrameSource
from .opencv import CameraSource, FileSource
from .pattern import TestPatternSource, read_code, write_code

__all__ = [
    "FrameSource",
    "CameraSource",
    "FileSource",
    "TestPatternSource",
    "open_source",
    "read_code",
    "write_code",
]

log = logging.getLogger(__name__)


def open_source(spec: SourceSpec, video: VideoConfig) -> FrameSource:
    """Build and open the source a spec names. `auto` tries each /dev/video* in order and falls
    back to the test pattern with a warning."""
    if spec.kind == "test":
        src: FrameSource = TestPatternSource(video.width, video.height, video.fps)
    elif spec.kind == "v4l2":
        src = CameraSource(spec.location, video.width, video.height, video.fps)
    elif spec.kind == "file":
        src = FileSource(spec.location, loop=spec.loop)
    elif spec.kind == "auto":
        for dev in sorted(glob.glob("/dev/video*")):
            cam = CameraSource(dev, video.width, video.height, video.fps)
            try:
                cam.open()
            except SourceError:
                continue
            if cam.read() is not None:
                return cam
            cam.close()
        log.warning("no camera found; streaming the test pattern (use --source to choose)")
        src = TestPatternSource(video.width, video.height, video.fps)
    else:
        raise SourceError(f"source '{spec}' cannot be opened here")
    src.open()
    return src
