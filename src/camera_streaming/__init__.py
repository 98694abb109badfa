"""camera-streaming: camera, file or test pattern -> your Python hook -> one H.264 encode ->
RTSP to many clients, with flat memory.

`RtspStreamer`, `Track`, `draw_stream_overlay` and `OutputStatus` are imported on first use, so
that importing the configuration (or the command line that only checks it) loads no NumPy,
OpenCV or GStreamer."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from .config import Config, HttpConfig, OutputsConfig, RtspConfig, SourceSpec, VideoConfig
from .errors import (
    CameraStreamingError,
    ConfigError,
    MissingElementError,
    PipelineError,
    PortInUseError,
    SourceError,
)

if TYPE_CHECKING:
    from .api import RtspStreamer
    from .frames.overlay import Track, draw_stream_overlay
    from .telemetry.stats import OutputStatus

_LAZY = {
    "RtspStreamer": ".api",
    "Track": ".frames.overlay",
    "draw_stream_overlay": ".frames.overlay",
    "OutputStatus": ".telemetry.stats",
}

__version__ = "0.1.0"
__all__ = [
    "RtspStreamer",
    "Config",
    "OutputsConfig",
    "OutputStatus",
    "RtspConfig",
    "SourceSpec",
    "VideoConfig",
    "HttpConfig",
    "Track",
    "draw_stream_overlay",
    "CameraStreamingError",
    "ConfigError",
    "MissingElementError",
    "PipelineError",
    "PortInUseError",
    "SourceError",
    "__version__",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
