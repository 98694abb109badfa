"""Wiring and lifecycle: source -> FrameProcessor -> H264Encoder -> RtspServer and the other
outputs of the same encode (RTMP push, recording, RTSP publish: gst/output.py), plus the
HTTP side port (http.py), systemd notifications (notify.py) and the memory history.

`Streamer.start()` builds everything (raising `CameraStreamingError` with a one-line reason),
`serve()` blocks until `stop()` or a pipeline error, `stop()` tears everything down in a
bounded time. The CLI and the Python API both drive this one class.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .config.model import Config, validate
from .errors import CameraStreamingError, PipelineError
from .frames.overlay import StatusOverlay
from .frames.processor import FrameHook, FrameProcessor, LatestFrame, load_hook
from .sources import FrameSource, open_source
from .sources.supervisor import CaptureSupervisor, FaultCounters, join_threads
from .telemetry.stats import (
    FpsMeter,
    MemoryHistory,
    Snapshot,
    allocator_in_use,
    malloc_trim,
    rss_bytes,
    summary_line,
)
from .telemetry.systemd import Notifier
from .web.http import HttpServer

if TYPE_CHECKING:  # gi is imported only when a streamer starts
    from .gst.encoder import H264Encoder
    from .gst.encoder_catalog import EncoderSpec
    from .gst.outputs.base import EncodedOutput
    from .gst.rtsp.server import RtspServer
    from .gst.runtime import MainLoopThread

log = logging.getLogger(__name__)

# Seconds between malloc_trim(0) calls; 0 disables (CAMERA_STREAMING_MALLOC_TRIM_S, for
# measuring the allocator policy: docs/memory.md).
TRIM_INTERVAL_S = float(os.environ.get("CAMERA_STREAMING_MALLOC_TRIM_S", "30"))
MEMORY_SAMPLE_S = 10.0  # the status page's memory chart: one sample every 10 s, one hour kept
STATUS_INTERVAL_S = 10.0  # systemd STATUS= line


class Streamer:
    """One running camera-streaming instance. Not reusable after `stop()`."""

    def __init__(
        self,
        config: Config,
        hook: FrameHook | None = None,
        source: FrameSource | None = None,
        log_stats: bool = True,
        notify_systemd: bool = True,
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
        self.outputs: list[EncodedOutput] = []
        self._mainloop: MainLoopThread | None = None
        self.processor: FrameProcessor | None = None
        self.http: HttpServer | None = None
        self.encoder_spec: EncoderSpec | None = None
        # READY/WATCHDOG/STOPPING to $NOTIFY_SOCKET when systemd started us (notify.py)
        self.notifier = Notifier() if notify_systemd else Notifier({})
        self.memory = MemoryHistory(capacity=int(3600 / MEMORY_SAMPLE_S), interval=MEMORY_SAMPLE_S)
        self._last_frame_at = 0.0
        self._native_at, self._native_fps = 0.0, 0.0  # gst: sources (_count_native_frames)
        self.latest = LatestFrame(config.http.snapshot_max_fps)  # for /snapshot.jpg

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        from .gst.encoder import H264Encoder
        from .gst.encoder_catalog import AUTO, fallbacks, select_encoder
        from .gst.launch import NATIVE_ELEMENTS, client_elements
        from .gst.rtsp.server import RtspServer
        from .gst.runtime import (
            MainLoopThread,
            available_elements,
            check_native_source,
            require_elements,
        )

        cfg = self.config
        available = available_elements()
        spec = select_encoder(available, cfg.video.encoder, cfg.video.codec)
        # auto: if the picked encoder cannot start, the next usable one is tried
        specs = [spec, *(fallbacks(spec, available) if cfg.video.encoder == AUTO else [])]
        # The encoder branch's elements were checked by select_encoder; these are common.
        rtsp_elements = client_elements(cfg.video.codec) if cfg.rtsp.enabled else ()
        require_elements(("appsrc", "appsink", *rtsp_elements))
        if cfg.source.native:
            require_elements(NATIVE_ELEMENTS)
            check_native_source(cfg.source.location)
        require_elements(_output_elements(cfg))
        hook = self._hook or (load_hook(cfg.hook) if cfg.hook else None)
        overlay = StatusOverlay(self._overlay_figures) if cfg.overlay else None
        self.processor = FrameProcessor(cfg.video.width, cfg.video.height, hook, overlay)
        if self._source is None and cfg.source.kind != "api" and not cfg.source.native:
            self._source = open_source(cfg.source, cfg.video)
        try:
            encoder = self.encoder = self._start_encoder(H264Encoder, specs)
            if cfg.rtsp.enabled:
                rtsp = self.rtsp = RtspServer(cfg.rtsp, cfg.video, encoder)
                rtsp.start()
            self.outputs = _make_outputs(cfg, encoder)
            for output in self.outputs:
                output.start()
            if cfg.http.enabled and cfg.http.port:
                self.http = HttpServer(cfg.http, self)
                self.http.start()
            mainloop = self._mainloop = MainLoopThread()
            mainloop.start()
        except BaseException:
            self.stop()
            raise
        self._started_at = time.monotonic()
        if cfg.source.native:  # GStreamer makes the frames: no capture thread, no slate
            self._start_reporting()
            return
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
        self._start_reporting()

    def _start_reporting(self) -> None:
        cfg = self.config
        if self._log_stats:
            self._spawn("stats", self._stats_loop)
        self.memory.maybe_sample()
        self._spawn("monitor", self._monitor_loop)
        targets = [cfg.rtsp.url()] if cfg.rtsp.enabled else []
        targets += [f"{o.name} {o.target}" for o in self.outputs]
        log.info(
            "streaming %s at %dx%d@%d with %s to %s%s",
            self.source_name,
            cfg.video.width,
            cfg.video.height,
            cfg.video.fps,
            self.encoder_spec.name if self.encoder_spec else "?",
            ", ".join(targets),
            f", status page http://127.0.0.1:{self.http.port}/" if self.http else "",
        )
        self.notifier.ready(f"streaming to {cfg.rtsp.url()}")

    def _start_encoder(self, factory: Any, specs: list[EncoderSpec]) -> H264Encoder:
        for i, spec in enumerate(specs):
            encoder = factory(
                self.config.video,
                on_error=self._on_pipeline_error,
                encoder=spec,
                native_source=self.config.source.location if self.config.source.native else None,
            )
            try:
                encoder.start()
            except PipelineError as exc:
                if i + 1 == len(specs):
                    raise
                log.warning("%s; trying %s instead", exc, specs[i + 1].name)
                continue
            self.encoder_spec = spec
            return encoder  # type: ignore[no-any-return]
        raise AssertionError("no encoder to start")

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
        join_threads(self._threads, deadline)
        if self._capture is not None:  # no more frames in before the outputs close
            self._capture.stop(max(0.1, deadline - time.monotonic()))
        self.notifier.stopping()
        if self.http is not None:
            self.http.stop()
        for output in self.outputs:  # all at once: each finishes its pipeline in parallel
            output.request_stop()
        for output in self.outputs:
            output.stop(max(0.5, deadline + 1.0 - time.monotonic()))
        if self.rtsp is not None:
            self.rtsp.stop()
        if self.encoder is not None:
            self.encoder.stop()
        if self._mainloop is not None:
            self._mainloop.stop()
        if self._source is not None:
            self._source.close()
        self.notifier.close()
        if self._started_at:
            log.info(summary_line(self.frames, time.monotonic() - self._started_at))

    @property
    def is_running(self) -> bool:
        return self._started_at > 0 and not self._stop.is_set()

    @property
    def source_name(self) -> str:
        if self.config.source.native:
            return str(self.config.source)
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
            now = self._last_frame_at = time.monotonic()
            snapshot_due = self.latest.due(now)
            if not encoder.wanted:
                self.idle_frames += 1
                if snapshot_due:  # someone asked for /snapshot.jpg: process this one
                    processor.process(frame)
                    self.latest.keep(processor.last_bgr, now)
                return True
            i420 = processor.process(frame)
            if snapshot_due:
                self.latest.keep(processor.last_bgr, now)
            return bool(encoder.push_i420(i420))

    def _overlay_figures(self) -> tuple[int, float]:
        return self.frames, self._fps.fps

    def snapshot_jpeg(self) -> bytes | None:
        """The latest frame as JPEG (see `frames.LatestFrame`); None before any frame."""
        return self.latest.jpeg()

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
            fps=self._native_fps if self.config.source.native else self._fps.fps,
            dropped=dropped,
            clients=rtsp.clients if rtsp else 0,
            sessions=rtsp.sessions if rtsp else 0,
            rss_bytes=rss_bytes(),
            heap_bytes=allocator_in_use(),
            encoded=enc.frames_out if enc else 0,
            hook_errors=self.processor.hook_errors if self.processor else 0,
            medias=rtsp.feeds if rtsp else 0,
            connected=rtsp.clients_connected if rtsp else 0,
            closed=rtsp.clients_closed if rtsp else 0,
            bytes_sent=rtsp.bytes_sent if rtsp else 0,
            hook_seconds=self.processor.hook_seconds if self.processor else 0.0,
            encoder=self.encoder_spec.name if self.encoder_spec else "",
            source_restarts=self.faults.source_reopens,
            idle_frames=self.idle_frames,
            keyframes=enc.keyframes_out if enc else 0,
            last_frame_age_s=time.monotonic() - self._last_frame_at
            if self._last_frame_at
            else None,
            outputs=tuple(o.status() for o in self.outputs),
            faults=dataclasses.asdict(self.faults),
        )

    def memory_history(self) -> list[tuple[float, int, int | None]]:
        return self.memory.samples()

    def describe(self) -> Mapping[str, Any]:
        """Static facts for /api/status and the status page."""
        from . import __version__

        cfg = self.config
        urls = [cfg.rtsp.url()]
        if cfg.rtsp.bind in ("0.0.0.0", "::"):
            urls.append(cfg.rtsp.url(socket.gethostname()))
        return {
            "version": __version__,
            "urls": urls,
            "source": self.source_name,
            "video": f"{cfg.video.width}x{cfg.video.height}@{cfg.video.fps} "
            f"{cfg.video.bitrate_kbps} kbps",
            "codec": cfg.video.codec,
            "encoder": self.encoder_spec.name if self.encoder_spec else "",
        }

    def _monitor_loop(self) -> None:
        """Memory history for the status page; systemd's watchdog, fed only while frames
        flow (a process alive but stuck gets restarted)."""
        notifier = self.notifier
        watchdog_s = notifier.watchdog_s
        period = min(1.0, watchdog_s / 3) if watchdog_s else 1.0
        stale_s = min(self.config.http.health_timeout_s, watchdog_s or 1e9)
        next_status = 0.0
        next_trim = time.monotonic() + TRIM_INTERVAL_S
        while not self._stop.wait(period):
            self.memory.maybe_sample()
            now = time.monotonic()
            if self.config.source.native and self.encoder is not None:
                self.encoder.update_gate()  # stop encoding once nobody wants frames
                self._count_native_frames(now)
            if TRIM_INTERVAL_S > 0 and now >= next_trim:
                # Hand glibc's free lists back to the kernel so RSS tracks what is in use
                # (fragmentation, not leaks, is what grows RSS here: GSTREAMER_NOTES 16).
                malloc_trim()
                next_trim = now + TRIM_INTERVAL_S
            if watchdog_s and self._last_frame_at and now - self._last_frame_at < stale_s:
                notifier.watchdog()
            if notifier.enabled and now >= next_status:  # what `systemctl status` shows
                next_status = now + STATUS_INTERVAL_S
                s = self.snapshot()
                notifier.status(
                    f"{s.fps:.1f} fps, {s.clients} client(s), {s.encoder}, "
                    f"RSS {s.rss_bytes / 1e6:.0f} MB"
                )

    def _count_native_frames(self, now: float) -> None:
        """A gst: source's frames never reach Python: count them where they leave the
        encoder, once per monitor period (no per-frame callback)."""
        enc = self.encoder
        out = enc.frames_out if enc is not None else self.frames
        if self._native_at and now > self._native_at:
            self._native_fps = (out - self.frames) / (now - self._native_at)
        if out != self.frames:
            self.frames, self._last_frame_at = out, now
        self._native_at = now

    def _stats_loop(self) -> None:
        interval = self.config.stats_interval_s
        while not self._stop.wait(interval):
            log.info("%s", self.snapshot().line())

    def _on_pipeline_error(self, error: PipelineError) -> None:
        if self.error is None:
            self.error = error
        self._stop.set()


def _output_elements(cfg: Config) -> tuple[str, ...]:
    from .gst.launch import PUBLISH_ELEMENTS, RECORD_ELEMENTS, RTMP_ELEMENTS

    o = cfg.outputs
    return (
        *(RTMP_ELEMENTS if o.rtmp_url else ()),
        *(RECORD_ELEMENTS if o.save_dir else ()),
        *(PUBLISH_ELEMENTS if o.publish_url else ()),
    )


def _make_outputs(cfg: Config, encoder: H264Encoder) -> list[EncodedOutput]:
    from .gst.outputs.publish import RtspPublisher
    from .gst.outputs.record import Recorder
    from .gst.outputs.rtmp import RtmpOutput

    o = cfg.outputs
    outputs: list[EncodedOutput] = []
    if o.save_dir:
        outputs.append(Recorder(o, cfg.video, encoder))
    if o.rtmp_url:
        outputs.append(RtmpOutput(o.rtmp_url, cfg.video, encoder))
    if o.publish_url:
        outputs.append(RtspPublisher(o.publish_url, cfg.video, encoder))
    return outputs
