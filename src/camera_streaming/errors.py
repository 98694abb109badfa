"""One small exception hierarchy. The CLI maps every `CameraStreamingError` to one line on stderr
and exit code 2; everything else is a bug and keeps its traceback."""

from __future__ import annotations

import errno


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

    @classmethod
    def from_oserror(
        cls, exc: OSError, what: str, address: str, port: int, port_flag: str, bind_flag: str
    ) -> PortInUseError:
        """One line for a failed bind of `what` ("port", "HTTP port"), naming the flags that
        choose another port or address."""
        if exc.errno == errno.EADDRINUSE:
            return cls(
                f"{what} {port} on {address} is already in use: stop the other server or "
                f"choose another with {port_flag}"
            )
        return cls(
            f"cannot listen on {address}:{port} ({exc.strerror}): check {bind_flag} and {port_flag}"
        )


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
