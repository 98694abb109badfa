"""Configuration: the validated, frozen model (`model`) and the layers it is built from:
defaults < TOML file < `CAMERA_STREAMING_*` environment < command line (`layers`).

Pure: importing it loads no GStreamer, OpenCV or NumPy."""

from .model import (
    AUTH_METHODS,
    FANOUTS,
    MAX_FPS,
    MAX_SIDE,
    USERS_ENV,
    CameraConfig,
    Config,
    HttpConfig,
    LogConfig,
    OnvifConfig,
    OutputsConfig,
    RecoveryConfig,
    RtspConfig,
    SourceSpec,
    StreamConfig,
    Substream,
    VideoConfig,
    WebRtcConfig,
)
from .validation import parse_users, users_from_env, validate

__all__ = [
    "AUTH_METHODS",
    "FANOUTS",
    "MAX_FPS",
    "MAX_SIDE",
    "USERS_ENV",
    "CameraConfig",
    "Config",
    "HttpConfig",
    "LogConfig",
    "OnvifConfig",
    "OutputsConfig",
    "RecoveryConfig",
    "RtspConfig",
    "SourceSpec",
    "StreamConfig",
    "Substream",
    "VideoConfig",
    "WebRtcConfig",
    "parse_users",
    "users_from_env",
    "validate",
]
