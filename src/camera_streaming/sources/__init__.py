"""Frame sources: test pattern, V4L2 camera, video file. `open_source()` picks one from a spec.

Each source's module is imported on first use: the test pattern needs no OpenCV, and a `gst:`
camera needs neither OpenCV nor NumPy."""

from __future__ import annotations

import glob
import logging
from typing import TYPE_CHECKING, Any

from ..config.model import SourceSpec, VideoConfig
from ..errors import SourceError
from .base import FrameSource

if TYPE_CHECKING:
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


_LAZY = {
    "CameraSource": "opencv",
    "FileSource": "opencv",
    "TestPatternSource": "pattern",
    "read_code": "pattern",
    "write_code": "pattern",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)


def open_source(spec: SourceSpec, video: VideoConfig) -> FrameSource:
    """Build and open the source a spec names. `auto` tries each /dev/video* in order and falls
    back to the test pattern with a warning."""
    from .pattern import TestPatternSource

    if spec.kind == "test":
        src: FrameSource = TestPatternSource(video.width, video.height, video.fps)
    elif spec.kind == "v4l2":
        from .opencv import CameraSource

        src = CameraSource(spec.location, video.width, video.height, video.fps)
    elif spec.kind == "file":
        from .opencv import FileSource

        src = FileSource(spec.location, loop=spec.loop)
    elif spec.kind == "auto":
        for dev in sorted(glob.glob("/dev/video*")):
            from .opencv import CameraSource

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
