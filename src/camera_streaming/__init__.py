"""camera-streaming: camera, file or test pattern -> your Python hook -> one H.264 encode ->
RTSP to many clients, with flat memory."""

from __future__ import annotations

import logging

from .api import RtspStreamer
from .config import Config, OutputsConfig, RtspConfig, SourceSpec, VideoConfig
from .errors import (
    CameraStreamingError,
    ConfigError,
    MissingElementError,
    PipelineError,
    PortInUseError,
    SourceError,
)
from .stats import OutputStatus

__version__ = "0.1.0"
__all__ = [
    "RtspStreamer",
    "Config",
    "OutputsConfig",
    "OutputStatus",
    "RtspConfig",
    "SourceSpec",
    "VideoConfig",
    "CameraStreamingError",
    "ConfigError",
    "MissingElementError",
    "PipelineError",
    "PortInUseError",
    "SourceError",
    "__version__",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
