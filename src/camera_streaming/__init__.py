"""camera-streaming: camera, file or test pattern -> your Python hook -> one H.264 encode ->
RTSP to many clients, with flat memory."""

from __future__ import annotations

import logging

from .api import RtspStreamer
from .config import Config, HttpConfig, OutputsConfig, RtspConfig, SourceSpec, VideoConfig
from .errors import (
    CameraStreamingError,
    ConfigError,
    MissingElementError,
    PipelineError,
    PortInUseError,
    SourceError,
)
from .frames.overlay import Track, draw_stream_overlay
from .telemetry.stats import OutputStatus

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
