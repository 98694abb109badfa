"""Wiring and lifecycle: source -> FrameProcessor -> H264Encoder -> RtspServer.

`Streamer.start()` builds everything (raising `CameraStreamingError` with a one-line reason),
`serve()` blocks until `stop()` or a pipeline error, `stop()` tears everything down in a
bounded time. The CLI and the Python API both drive this one class.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from .capture import CaptureSupervisor, FaultCounters
from .config import Config, validate
from .errors import CameraStreamingError, PipelineError
from .frames import FrameHook, FrameProcessor, load_hook
from .sources import FrameSource, open_source
from .stats import FpsMeter, Snapshot, allocator_in_use, rss_bytes, summary_line

if TYPE_CHECKING:  # gi is imported only when a streamer starts
    from .gst.encoder import H264Encoder
    from .gst.rtsp import RtspServer
    from .gst.runtime import MainLoopThread

log = logging.getLogger(__name__)


class Streamer:
    """One running camera-streaming instance. Not reusable after `stop()`."""

    def __init__(
        self,
        config: Config,
        hook: FrameHook | None = None,
        source: FrameSource | None = None,
        log_stats: bool = True,
    ) -> None:
        self.config = validate(config)
        self._log_stats = log_stats
        self._hook = hook
        self._source = source
        self._stop = threading.Event()
        self._push_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._fps = FpsMeter()
        self._started_at = 0.0
        self._stopped = False
        self.error: CameraStreamingError | None = None
        self.frames = 0  # frames offered by the source or the API
        self.idle_frames = 0  # frames not encoded because nobody was watching
        self._capture: CaptureSupervisor | None = None
        self.encoder: H264Encoder | None = None
        self.rtsp: RtspServer | None = None
        self._mainloop: MainLoopThread | None = None
        self.processor: FrameProcessor | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        from .gst.encoder import H264Encoder
        from .gst.launch import CLIENT_ELEMENTS, ENCODER_ELEMENTS
        from .gst.rtsp import RtspServer
        from .gst.runtime import MainLoopThread, require_elements

        cfg = self.config
        require_elements((*ENCODER_ELEMENTS, *CLIENT_ELEMENTS))
        hook = self._hook or (load_hook(cfg.hook) if cfg.hook else None)
        self.processor = FrameProcessor(cfg.video.width, cfg.video.height, hook)
        if self._source is None and cfg.source.kind != "api":
            self._source = open_source(cfg.source, cfg.video)
        try:
            encoder = self.encoder = H264Encoder(cfg.video, on_error=self._on_pipeline_error)
            encoder.start()
            rtsp = self.rtsp = RtspServer(cfg.rtsp, cfg.video, encoder)
            rtsp.start()
            mainloop = self._mainloop = MainLoopThread()
            mainloop.start()
        except BaseException:
            self.stop()
            raise
        self._started_at = time.monotonic()
        # Capture, slate and watchdogs; with frames from the API only the encoder watchdog.
        self._capture = CaptureSupervisor(
            self._source,
            self.push_frame,
            lambda: self.encoder,
            self.rebuild_encoder,
            cfg.video.width,
            cfg.video.height,
            cfg.video.fps,
            stall_timeout_s=cfg.recovery.stall_timeout_s,
            retry_max_s=cfg.recovery.retry_max_s,
        )
        self._capture.start()
        if self._log_stats:
            self._spawn("stats", self._stats_loop)
        log.info(
            "streaming %s at %dx%d@%d to %s",
            self.source_name,
            cfg.video.width,
            cfg.video.height,
            cfg.video.fps,
            cfg.rtsp.url(),
        )

    def _spawn(self, name: str, target: object) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads.append(t)
        t.start()

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
        """Stop threads, close clients, release the pipeline and the source. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        if self._capture is not None:
            self._capture.stop(max(0.1, deadline - time.monotonic()))
        if self.rtsp is not None:
            self.rtsp.stop()
        if self.encoder is not None:
            self.encoder.stop()
        if self._mainloop is not None:
            self._mainloop.stop()
        if self._source is not None:
            self._source.close()
        if self._started_at:
            log.info(summary_line(self.frames, time.monotonic() - self._started_at))

    @property
    def is_running(self) -> bool:
        return self._started_at > 0 and not self._stop.is_set()

    @property
    def source_name(self) -> str:
        return self._source.name if self._source is not None else "api"

    # -- frames ------------------------------------------------------------------------------
    def push_frame(self, frame: np.ndarray) -> bool:
        """Resize, hook, convert and encode one BGR frame. True when accepted (encoded, or
        discarded because nobody is watching); False when stopped or the encoder is behind
        (the drop is counted)."""
        encoder, processor = self.encoder, self.processor
        if encoder is None or processor is None or not self.is_running:
            return False
        with self._push_lock:
            self.frames += 1
            self._fps.tick()
            if not encoder.wanted:
                self.idle_frames += 1
                return True
            i420 = processor.process(frame)
            return bool(encoder.push_i420(i420))

    def rebuild_encoder(self) -> None:
        """Replace the encoder pipeline (the watchdog calls this when it stalls); frames pushed
        meanwhile wait for the lock, RTSP clients keep their sessions."""
        encoder = self.encoder
        if encoder is None:
            return
        with self._push_lock:
            encoder.rebuild()

    @property
    def faults(self) -> FaultCounters:
        """Source losses, stalls, re-opens, slate frames and encoder rebuilds so far."""
        return self._capture.counters if self._capture is not None else FaultCounters()

    # -- figures -----------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        enc, rtsp = self.encoder, self.rtsp
        dropped = (enc.dropped if enc else 0) + (rtsp.dropped if rtsp else 0)
        return Snapshot(
            uptime_s=time.monotonic() - self._started_at if self._started_at else 0.0,
            frames=self.frames,
            fps=self._fps.fps,
            dropped=dropped,
            clients=rtsp.clients if rtsp else 0,
            sessions=rtsp.sessions if rtsp else 0,
            rss_bytes=rss_bytes(),
            heap_bytes=allocator_in_use(),
            encoded=enc.frames_out if enc else 0,
            hook_errors=self.processor.hook_errors if self.processor else 0,
            faults=dataclasses.asdict(self.faults),
        )

    def _stats_loop(self) -> None:
        interval = self.config.stats_interval_s
        while not self._stop.wait(interval):
            log.info("%s", self.snapshot().line())

    def _on_pipeline_error(self, error: PipelineError) -> None:
        if self.error is None:
            self.error = error
        self._stop.set()
