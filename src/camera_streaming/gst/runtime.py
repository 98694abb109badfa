"""GStreamer start-up: `Gst.init`, element checks, and the one GLib main-loop thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstApp, GstRtsp, GstRtspServer, GstVideo  # noqa: E402

from ..config.model import VideoConfig  # noqa: E402
from ..errors import MissingElementError, SourceError  # noqa: E402
from .launch import ELEMENT_PACKAGES, native_probe_launch  # noqa: E402

__all__ = [
    "GLib",
    "Gst",
    "GstApp",
    "GstRtsp",
    "GstRtspServer",
    "GstVideo",
    "init",
    "require_elements",
    "MainLoopThread",
]

log = logging.getLogger(__name__)
_init_lock = threading.Lock()


def init() -> None:
    with _init_lock:
        if not Gst.is_initialized():
            Gst.init(None)


def deinit_for_leak_check() -> None:
    """At exit under GStreamer's leaks tracer: drop Python's references, then `Gst.deinit()`
    so the tracer lists every GStreamer object still alive (docs/gstreamer.md, "Leak hunting")."""
    import gc

    gc.collect()
    if Gst.is_initialized():
        Gst.deinit()


def require_elements(names: Iterable[str]) -> None:
    """Raise `MissingElementError` for the first element that is not installed."""
    init()
    for name in names:
        if Gst.ElementFactory.find(name) is None:
            raise MissingElementError(name, ELEMENT_PACKAGES.get(name, "gstreamer1.0-plugins-*"))


def check_native_source(
    fragment: str, video: VideoConfig | None = None, timeout_s: float = 5.0
) -> bool:
    """Open a `gst:` source fragment once into a fakesink and close it, so that a typo or a
    missing device is a one-line `SourceError` before any encoder is tried.

    With `video` (the first stream's), first play it at that stream's caps without
    `videorate` (`launch.native_probe_launch`) for at most `RATE_PROBE_S`. Returns whether
    the stream needs `videorate`: False when those caps negotiated (the source delivers the
    rate itself), True otherwise."""
    init()
    if video is not None and _negotiates(native_probe_launch(video, fragment), RATE_PROBE_S):
        return False
    _check_opens(fragment, timeout_s)
    return True


RATE_PROBE_S = 3.0  # a camera's first frame comes well within this; later: keep videorate


def _negotiates(launch: str, timeout_s: float) -> bool:
    """Whether `launch` (ending in a fakesink named `probe`) gets caps on the fakesink within
    `timeout_s` when played, with no error first."""
    try:
        pipeline = Gst.parse_launch(launch)
    except GLib.Error:
        return False
    bus = pipeline.get_bus()
    pad = pipeline.get_by_name("probe").get_static_pad("sink")
    deadline = time.monotonic() + timeout_s
    try:
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            return False
        while time.monotonic() < deadline:
            if pad.get_current_caps() is not None:
                return True
            if bus.timed_pop_filtered(20 * Gst.MSECOND, Gst.MessageType.ERROR) is not None:
                return False
        return False
    finally:
        pipeline.set_state(Gst.State.NULL)


def _check_opens(fragment: str, timeout_s: float) -> None:
    try:
        pipeline = Gst.parse_launch(f"{fragment} ! fakesink")
    except GLib.Error as exc:
        raise SourceError(f"--source gst:{fragment}: {exc.message}") from None
    bus = pipeline.get_bus()
    try:
        ret = pipeline.set_state(Gst.State.PAUSED)
        if ret == Gst.StateChangeReturn.ASYNC:
            ret, _, _ = pipeline.get_state(int(timeout_s * Gst.SECOND))
        message = bus.pop_filtered(Gst.MessageType.ERROR)
        if message is not None:
            element, text, _ = bus_error(message)
            raise SourceError(f"--source gst:{fragment}: {element}: {text}")
        if ret == Gst.StateChangeReturn.FAILURE:
            raise SourceError(f"--source gst:{fragment}: the source failed to start")
    finally:
        pipeline.set_state(Gst.State.NULL)


def available_elements(names: Iterable[str] | None = None) -> set[str]:
    """Which of `names` (default: every element an encoder branch may use) are installed."""
    init()
    if names is None:
        from .encoder_catalog import ENCODERS

        names = {n for e in ENCODERS for n in e.elements}
    return {n for n in names if Gst.ElementFactory.find(n) is not None}


class MainLoopThread:
    """Runs the default GLib main context in one named thread. Everything attached to the
    default context (RTSP server, bus watches, the one cleanup timer) is dispatched here."""

    def __init__(self) -> None:
        self.loop = GLib.MainLoop()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop.run, name="glib-main", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread is None:
            return
        self.loop.quit()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("GLib main loop did not stop within %.1f s", timeout)
        self._thread = None


def bus_error(message: Any) -> tuple[str, str, str | None]:
    """(element name, message, debug) of a bus ERROR message."""
    err, debug = message.parse_error()
    src = message.src.get_name() if message.src is not None else "pipeline"
    return src, err.message, debug
