"""Wiring and lifecycle of the process: the cameras (each a source, its hook and its streams,
every stream one encode with its outputs: streams/), one RTSP server with a mount per stream
(gst/rtsp/), one HTTP side port (web/), systemd notifications (telemetry/systemd.py) and one
upkeep loop (upkeep.py).

`Streamer.start()` builds everything (raising `CameraStreamingError` with a one-line reason),
`serve()` blocks until `stop()` or a pipeline error, `stop()` tears everything down in a
bounded time. The CLI and the Python API both drive this one class (`run(config)`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .config.model import Config
from .config.validation import validate
from .errors import CameraStreamingError, PipelineError
from .signals import CapturedSignals
from .sources import FrameSource
from .sources.supervisor import FaultCounters
from .streams.camera import Camera
from .streams.stream import Stream
from .telemetry.figures import describe, process_snapshot
from .telemetry.stats import MemoryHistory, Snapshot, summary_line
from .telemetry.systemd import Notifier
from .upkeep import Upkeep

if TYPE_CHECKING:  # gi is imported only when a streamer starts; NumPy by NumPy cameras only
    import numpy as np

    from .frames.processor import FrameHook, FrameProcessor
    from .gst.encoder import H264Encoder
    from .gst.outputs.base import EncodedOutput
    from .gst.rtsp.server import RtspServer
    from .gst.runtime import MainLoopThread
    from .onvif import DiscoveryResponder
    from .web.http import HttpServer
    from .web.mse.feed import MseFeed
    from .web.webrtc.whep import WhepService

log = logging.getLogger(__name__)

MEMORY_SAMPLE_S = 10.0  # the status page's memory chart: one sample every 10 s, one hour kept


class Streamer:
    """One running camera-streaming process. Not reusable after `stop()`. `hook` and `source`
    apply to the first camera (the Python API's)."""

    def __init__(
        self,
        config: Config,
        hook: FrameHook | None = None,
        source: FrameSource | None = None,
        log_stats: bool = True,
        notify_systemd: bool = True,
    ) -> None:
        self.config = validate(config)
        self.cameras = [
            Camera(
                c,
                config.recovery,
                config.http.snapshot_max_fps,
                hook=hook if i == 0 else None,
                source=source if i == 0 else None,
            )
            for i, c in enumerate(self.config.all_cameras)
        ]
        self._stop = threading.Event()
        self._started_at = 0.0
        self._stopped = False
        self.error: CameraStreamingError | None = None
        self.rtsp: RtspServer | None = None
        self.http: HttpServer | None = None
        self.whep: WhepService | None = None
        self.discovery: DiscoveryResponder | None = None
        self._mainloop: MainLoopThread | None = None
        # READY/WATCHDOG/STOPPING to $NOTIFY_SOCKET when systemd started us (telemetry/systemd)
        self.notifier = Notifier() if notify_systemd else Notifier({})
        self.memory = MemoryHistory(capacity=int(3600 / MEMORY_SAMPLE_S), interval=MEMORY_SAMPLE_S)
        self._upkeep = Upkeep(self, log_stats)

    @property
    def streams(self) -> list[Stream]:
        return [s for c in self.cameras for s in c.streams]

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        from .gst.launch import (
            NATIVE_ELEMENTS,
            NATIVE_SPLIT_ELEMENTS,
            client_elements,
            output_elements,
        )
        from .gst.rtsp.server import RtspServer
        from .gst.runtime import (
            MainLoopThread,
            available_elements,
            check_native_source,
            require_elements,
        )

        cfg = self.config
        available = available_elements()
        require_elements(("appsrc", "appsink"))
        for stream in self.streams:
            if cfg.rtsp.enabled:
                require_elements(client_elements(stream.video.codec))
            require_elements(output_elements(stream.cfg.outputs, stream.video.codec))
        for camera in self.cameras:
            if camera.native:
                require_elements(NATIVE_ELEMENTS)
                if len(camera.streams) > 1:
                    require_elements(NATIVE_SPLIT_ELEMENTS)
                location, main = camera.cfg.source.location, camera.streams[0].video
                camera.native_rate = check_native_source(location, main)
        try:
            for camera in self.cameras:
                camera.prepare(from_api=camera.cfg.source.kind == "api")
            for camera in self.cameras:
                camera.start_encoders(available, self._on_pipeline_error)
            if cfg.rtsp.enabled:
                rtsp = self.rtsp = RtspServer(cfg.rtsp)
                rtsp.other_clients = lambda: self.whep.viewers if self.whep else 0
                for stream in self.streams:
                    assert stream.encoder is not None
                    stream.mount = rtsp.add_mount(stream.path, stream.video, stream.encoder)
                rtsp.start()
            if cfg.http.enabled and cfg.http.port:
                self._start_http()
            mainloop = self._mainloop = MainLoopThread()
            mainloop.start()
            self._started_at = time.monotonic()
            for camera in self.cameras:
                camera.start_capture()
        except BaseException:
            self.stop()
            raise
        self._upkeep.start()
        self._log_start()

    def _start_http(self) -> None:
        """The HTTP port behind the RTSP users and method, over TLS with the RTSP certificate;
        with ONVIF on, its services there and the WS-Discovery responder."""
        from .web.http import HttpServer

        cfg = self.config
        users = dict(cfg.rtsp.users) if cfg.rtsp.auth != "none" else {}
        http = self.http = HttpServer(
            cfg.http,
            self,
            auth=cfg.rtsp.auth,
            users=users,
            tls_cert=cfg.rtsp.tls_cert,
            tls_key=cfg.rtsp.tls_key,
        )
        if cfg.onvif.enabled:
            from .web.onvif import add_onvif

            add_onvif(http, cfg, users)
        from .web.webrtc.whep import WhepService, add_whep

        whep = self.whep = WhepService(
            cfg.webrtc,
            self.streams,
            cfg.rtsp.max_clients,
            lambda: self.rtsp.sessions if self.rtsp else 0,
        )
        add_whep(http, whep)
        whep.start()
        http.start()
        if cfg.onvif.enabled and cfg.onvif.discovery:
            from . import __version__
            from .onvif import DiscoveryResponder
            from .onvif.facts import device_facts

            self.discovery = DiscoveryResponder(
                lambda: device_facts(cfg, http.port, __version__), cfg.onvif.discovery_port
            )
            self.discovery.start()

    def _log_start(self) -> None:
        cfg = self.config
        for camera in self.cameras:
            for stream in camera.streams:
                v = stream.video
                targets = [cfg.rtsp.url(path=stream.path)] if cfg.rtsp.enabled else []
                targets += [f"{o.name} {o.target}" for o in stream.outputs]
                log.info(
                    "streaming %s at %dx%d@%d with %s to %s",
                    camera.source_name,
                    v.width,
                    v.height,
                    v.fps,
                    stream.spec.name if stream.spec else "?",
                    ", ".join(targets),
                )
        if self.http is not None:
            log.info("status page http://127.0.0.1:%d/", self.http.port)
        self.notifier.ready(f"streaming to {cfg.rtsp.url(path=self.streams[0].path)}")

    def serve(self) -> None:
        """Block until `stop()` is called (from a signal handler or another thread) or a
        pipeline fails; then stop. Raises the pipeline's error, if any."""
        while not self._stop.wait(0.5):
            pass
        self.stop()
        if self.error is not None:
            raise self.error

    def request_stop(self) -> None:
        """Ask `serve()` to return; safe from signal handlers and any thread."""
        self._stop.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop threads, close clients, release the pipelines and the sources. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        deadline = time.monotonic() + timeout
        self._upkeep.stop(deadline)
        for camera in self.cameras:  # no more frames in before the outputs close
            camera.stop_capture(max(0.1, deadline - time.monotonic()))
        self.notifier.stopping()
        if self.discovery is not None:
            self.discovery.stop()  # says Bye
        if self.http is not None:
            self.http.stop()
        if self.whep is not None:
            self.whep.stop()  # every WebRTC viewer's pipeline, before the encoders go
        for stream in self.streams:
            stream.request_stop_outputs()
        for stream in self.streams:
            stream.stop_outputs(deadline + 1.0)
        if self.rtsp is not None:
            self.rtsp.stop()
        for camera in self.cameras:
            camera.stop_encoders()
        if self._mainloop is not None:
            self._mainloop.stop()
        for camera in self.cameras:
            camera.close_source()
        self.notifier.close()
        if self._started_at:
            log.info(summary_line(self.frames, time.monotonic() - self._started_at))

    @property
    def is_running(self) -> bool:
        return self._started_at > 0 and not self._stop.is_set()

    # -- the first camera and stream (the single-camera API and its tests) -------------------
    @property
    def source_name(self) -> str:
        return self.cameras[0].source_name

    @property
    def encoder(self) -> H264Encoder | None:
        """The first stream's encoder pipeline."""
        return self.streams[0].pipeline

    @property
    def processor(self) -> FrameProcessor | None:
        return self.cameras[0].processor

    @property
    def outputs(self) -> list[EncodedOutput]:
        return [o for s in self.streams for o in s.outputs]

    @property
    def frames(self) -> int:
        return sum(c.frames for c in self.cameras)

    @property
    def idle_frames(self) -> int:
        return sum(c.idle_frames for c in self.cameras)

    @property
    def faults(self) -> FaultCounters:
        """Source losses, stalls, re-opens, slate frames and encoder rebuilds, all cameras."""
        total: dict[str, int] = {}
        for camera in self.cameras:
            for k, v in dataclasses.asdict(camera.faults).items():
                total[k] = total.get(k, 0) + v
        return FaultCounters(**total)

    def push_frame(self, frame: np.ndarray) -> bool:
        """Hook, resize and encode one BGR frame of the first camera. True when accepted
        (encoded, or not needed because nobody is watching); False when stopped or an encoder
        is behind (the drop is counted)."""
        if not self.is_running:
            return False
        return self.cameras[0].push_frame(frame)

    def mse_feed(self, path: str) -> MseFeed | None:
        """The MSE feed of the stream at `path` (`/stream`), made on first use; None for a
        path that is no stream (or before the encoders started). Called from the HTTP loop."""
        from .web.mse.feed import MseFeed

        for stream in self.streams:
            if stream.path == path and stream.encoder is not None:
                if stream.mse is None:
                    v = stream.video
                    stream.mse = MseFeed(stream.encoder, v.width, v.height, v.fps, v.codec)
                return stream.mse
        return None

    def snapshot_jpeg(self, camera: str | None = None) -> bytes | None:
        """The latest frame of a camera (default: the first) as JPEG; None before any frame
        or for an unknown camera."""
        for c in self.cameras:
            if camera is None or c.name == camera:
                return c.latest.jpeg()
        return None

    def rebuild_encoder(self) -> None:
        """Replace the first stream's encoder pipeline (tests and fault injection)."""
        self.streams[0].rebuild_encoder()

    # -- figures -----------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Process totals and each camera and stream, now."""
        return process_snapshot(self)

    def memory_history(self) -> list[tuple[float, int, int | None]]:
        return self.memory.samples()

    def describe(self) -> Mapping[str, Any]:
        """Static facts for /api/status and the status page."""
        return describe(self)

    def _on_pipeline_error(self, error: PipelineError) -> None:
        if self.error is None:
            self.error = error
        self._stop.set()


def run(config: Config, handle_signals: bool = False, **kwargs: Any) -> None:
    """Start a streamer for `config`, serve until it is asked to stop (with `handle_signals`:
    by SIGINT or SIGTERM), stop it: the CLI's entry point, and a blocking form for the API.
    Raises `CameraStreamingError` on a bad start or a pipeline failure."""
    streamer = Streamer(config, **kwargs)
    if not handle_signals:
        streamer.start()
        streamer.serve()
        return
    with CapturedSignals(streamer):
        streamer.start()
        streamer.serve()
