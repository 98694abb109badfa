"""What every output of the one encode shares (RTMP push, recording, RTSP publish): a small
pipeline of its own fed through a bounded appsrc, and one supervisor thread that builds it,
watches its bus, tears it down on error and rebuilds it after a backoff.

Threads: `deliver()` runs on the encoder's streaming thread and only pushes into the current
appsrc (one slot, replaced atomically). Everything else - building, the bus, teardown,
retention - runs on the output's own named thread, woken by its stop Event. No GLib source is
created per attempt or per frame (docs/gstreamer.md, fact 1): the bus is polled with
`timed_pop_filtered`, and a failed pipeline is set to NULL and dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ...backoff import OUTPUT_BACKOFF, Backoff
from ...config.model import VideoConfig
from ...telemetry.stats import OutputStatus
from ..encoder import H264Encoder
from ..launch import client_queue_bytes
from ..runtime import Gst, bus_error, init

log = logging.getLogger(__name__)

BUS_POLL_S = 0.25
EOS_WAIT_S = 1.0  # on stop: how long the pipeline may take to finish (close the file)
CONFIRM_S = 0.5  # data flowing this long without an error: connected
STABLE_S = 5.0  # connected this long before failing: the backoff starts again from 0.5 s
STARTING, CONNECTED, RETRYING, STOPPED = "starting", "connected", "retrying", "stopped"


class EncodedOutput:
    """Base class. A subclass gives `launch()` and may override `configure()` (set object
    properties on the fresh pipeline), `on_element_message()` and `on_tick()`."""

    kind = "output"

    def __init__(
        self,
        name: str,
        target: str,
        video: VideoConfig,
        encoder: H264Encoder,
        backoff: Backoff = OUTPUT_BACKOFF,
    ) -> None:
        self.name = name
        self.target = target
        self.video = video
        self.encoder = encoder
        self.backoff = backoff
        self._queue_bytes = client_queue_bytes(video)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._appsrc: Any = None  # the slot deliver() pushes into; None while down
        self._wait_key = True
        self._clock: Any = None
        self.state = STOPPED
        self.bytes = 0
        self.buffers = 0
        self.dropped = 0
        self.errors = 0
        self.reconnects = 0
        self.attempts = 0
        self.last_error = ""
        self.connected_at = 0.0  # monotonic time data started to flow, once confirmed
        self._flow_since = 0.0
        self._outage_logged = False  # one warning per outage; the rest at DEBUG
        self._up_logged = False

    # -- subclass hooks ----------------------------------------------------------------------
    def launch(self) -> str:
        raise NotImplementedError

    def configure(self, pipeline: Any) -> None:
        """Called on the new pipeline before PLAYING."""

    def on_element_message(self, message: Any) -> None:
        """An ELEMENT message from the pipeline's bus (supervisor thread)."""

    def on_tick(self) -> None:
        """Called about every BUS_POLL_S while the pipeline runs (supervisor thread)."""

    def status(self) -> OutputStatus:
        return OutputStatus(
            name=self.name,
            target=self.target,
            state=self.state,
            bytes=self.bytes,
            buffers=self.buffers,
            dropped=self.dropped,
            errors=self.errors,
            reconnects=self.reconnects,
            last_error=self.last_error,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        init()
        self._clock = Gst.SystemClock.obtain()
        self.state = STARTING
        self.encoder.add_consumer(self)
        self._thread = threading.Thread(target=self._run, name=f"output-{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 3.0) -> None:
        """Finish the current pipeline (EOS, so a recording's last file is closed properly)
        and join the thread. Idempotent."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s output did not stop within %.1f s", self.name, timeout)
        self.encoder.remove_consumer(self)
        self.state = STOPPED

    # -- encoder output (encoder streaming thread) -------------------------------------------
    @property
    def wants_frames(self) -> bool:
        return self._appsrc is not None

    def deliver(self, buffer: Any, is_key: bool) -> None:
        appsrc = self._appsrc
        if appsrc is None or (self._wait_key and not is_key):
            return
        base = appsrc.get_base_time()
        if not base:  # not PLAYING yet: nothing to stamp against
            return
        now = self._clock.get_time()
        if appsrc.get_property("current-level-bytes") >= self._queue_bytes:
            self.dropped += 1  # the output is behind: appsrc drops the oldest
        # A deep copy (one access unit, ~10 KB at 2 Mbit/s). With a shallow copy sharing the
        # memory of the RTSP clients' buffers, every RTSP client stalled once an output ran
        # (measured; likely h264parse's in-place AVC conversion): docs/outputs.md.
        out = buffer.copy_deep()
        out.pts = out.dts = now - base if now > base else 0
        if appsrc.push_buffer(out) != Gst.FlowReturn.OK:
            return  # FLUSHING: being torn down by the supervisor
        self._wait_key = False
        self.buffers += 1
        self.bytes += buffer.get_size()

    # -- supervisor thread -------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self.attempts += 1
            error = self._attempt()
            if self._stop.is_set():
                break
            if self.connected_at and time.monotonic() - self.connected_at >= STABLE_S:
                failures = 0  # it worked for a while: start the backoff again
                self._outage_logged = False  # and a failure now is a new outage
            self._record_error(error)
            wait = self.backoff.delay(failures)
            failures += 1
            self.state = RETRYING
            if self._stop.wait(wait):
                break
            self.reconnects += 1
        self.state = STOPPED

    def _attempt(self) -> str:
        """Build, run until error or stop, tear down. Returns the error ('' on stop)."""
        self.connected_at = self._flow_since = 0.0
        self.state = STARTING
        try:
            pipeline = Gst.parse_launch(self.launch())
        except Exception as exc:  # GLib.Error: a bad launch line
            return f"cannot build the pipeline: {exc}"
        bus = pipeline.get_bus()
        try:
            self.configure(pipeline)
            if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
                return self._first_error(bus) or "the pipeline failed to start"
            self._wait_key = True
            self._appsrc = pipeline.get_by_name("src")
            self.encoder.request_keyframe()
            return self._watch(bus)
        finally:
            self._teardown(pipeline, bus)

    def _watch(self, bus: Any) -> str:
        wanted = Gst.MessageType.ERROR | Gst.MessageType.EOS | Gst.MessageType.ELEMENT
        while not self._stop.is_set():
            msg = bus.timed_pop_filtered(int(BUS_POLL_S * Gst.SECOND), wanted)
            if msg is not None:
                if msg.type == Gst.MessageType.ERROR:
                    return _error_text(msg)
                if msg.type == Gst.MessageType.EOS:
                    return "the pipeline ended (EOS)"
                self.on_element_message(msg)
            self._update_connected()
            self.on_tick()
        return ""

    def _update_connected(self) -> None:
        appsrc = self._appsrc
        if appsrc is None or self.connected_at or self._wait_key:
            return
        # Data leaves our queue and no error came for CONFIRM_S: downstream takes it.
        if appsrc.get_property("current-level-bytes") >= self._queue_bytes // 2:
            self._flow_since = 0.0
            return
        now = time.monotonic()
        if not self._flow_since:
            self._flow_since = now
        elif now - self._flow_since >= CONFIRM_S:
            self.connected_at = self._flow_since
            self.state = CONNECTED
            if not self._up_logged:
                self._up_logged = True
                how = "is back" if self.errors else "is running"
                log.info("%s output to %s %s", self.name, self.target, how)

    def _teardown(self, pipeline: Any, bus: Any) -> None:
        appsrc, self._appsrc = self._appsrc, None
        if appsrc is not None and self._stop.is_set():
            # Clean stop: let the muxers finish (a recording's last segment gets its index).
            appsrc.end_of_stream()
            bus.timed_pop_filtered(
                int(EOS_WAIT_S * Gst.SECOND), Gst.MessageType.EOS | Gst.MessageType.ERROR
            )
        pipeline.set_state(Gst.State.NULL)
        bus.set_flushing(True)  # drop queued messages (they reference the pipeline's elements)

    @staticmethod
    def _first_error(bus: Any) -> str:
        msg = bus.pop_filtered(Gst.MessageType.ERROR)
        return _error_text(msg) if msg is not None else ""

    def _record_error(self, error: str) -> None:
        error = error or "stopped without an error"
        self.errors += 1
        self.last_error = error
        if not self._outage_logged:  # once per outage, however long it lasts
            self._outage_logged = True
            self._up_logged = False
            log.warning("%s output to %s failed: %s; retrying", self.name, self.target, error)
        else:
            log.debug("%s output to %s failed again: %s", self.name, self.target, error)


def _error_text(message: Any) -> str:
    """'element: message (system error)' of a bus ERROR, e.g. the errno text filesink and
    rtmpsink put only in the debug string ('No space left on device')."""
    element, text, debug = bus_error(message)
    log.debug("output pipeline error from %s: %s (%s)", element, text, debug)
    detail = (
        debug.rsplit("system error: ", 1)[1].strip() if debug and "system error: " in debug else ""
    )
    return f"{element}: {text}" + (f" ({detail})" if detail else "")


class UrlOutput(EncodedOutput):
    """An output that sends to one URL (RTMP push, RTSP publish): named by its `kind`; a
    subclass gives `kind` and `launch()`."""

    def __init__(
        self,
        url: str,
        video: VideoConfig,
        encoder: H264Encoder,
        backoff: Backoff = OUTPUT_BACKOFF,
    ) -> None:
        super().__init__(self.kind, url, video, encoder, backoff)
        self.url = url
