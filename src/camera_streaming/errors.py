"""One small exception hierarchy. The CLI maps every `CameraStreamingError` to one line on stderr
and exit code 2; everything else is a bug and keeps its traceback."""

from __future__ import annotations


class CameraStreamingError(Exception):
    """Base class: a problem the user can fix. `str()` names the problem and the fix."""


class ConfigError(CameraStreamingError):
    """A configuration value is invalid; `field` names it (`video.width`, `--fps`, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class SourceError(CameraStreamingError):
    """A frame source (camera, file) cannot be opened or read."""


class PortInUseError(CameraStreamingError):
    """The RTSP (or HTTP) port cannot be bound."""


class MissingElementError(CameraStreamingError):
    """A GStreamer element is not installed."""

    def __init__(self, element: str, package: str) -> None:
        super().__init__(
            f"GStreamer element '{element}' is missing: install it with "
            f"'apt-get install {package}' (or run 'make run' which installs it)"
        )
        self.element = element
        self.package = package


class PipelineError(CameraStreamingError):
    """A GStreamer bus error, with the element that posted it and GStreamer's debug string."""

    def __init__(self, element: str, message: str, debug: str | None = None) -> None:
        super().__init__(f"GStreamer error from {element}: {message}")
        self.element = element
        self.debug = debug
