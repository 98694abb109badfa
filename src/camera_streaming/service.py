"""Wiring and lifecycle: source -> FrameProcessor -> H264Encoder -> RtspServer and the other
outputs of the same encode (RTMP push, recording, RTSP publish: gst/output.py).

`Streamer.start()` builds everything (raising `CameraStreamingError` with a one-line reason),
`serve()` blocks until `stop()` or a pipeline error, `stop()` tears everything down in a
bounded time. The CLI and the Python API both drive this one class.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from .config import Config, validate
from .errors import CameraStreamingError, PipelineError
from .frames import FrameHook, FrameProcessor, load_hook
from .sources import FrameSource, open_source
from .stats import FpsMeter, Snapshot, allocator_in_use, rss_bytes, summary_line

if TYPE_CHECKING:  # gi is imported only when a streamer starts
    from .gst.encoder import H264Encoder
    from .gst.output import EncodedOutput
    from .gst.rtsp import RtspServer
    from .gst.runtime import MainLoopThread

log = logging.getLogger(__name__)

SOURCE_RETRY_S = (0.5, 1.0, 2.0, 5.0)


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
        self.source_failures = 0
        self.encoder: H264Encoder | None = None
        self.rtsp: RtspServer | None = None
        self.outputs: list[EncodedOutput] = []
        self._mainloop: MainLoopThread | None = None
        self.processor: FrameProcessor | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        from .gst.encoder import H264Encoder
        from .gst.launch import CLIENT_ELEMENTS, ENCODER_ELEMENTS
        from .gst.rtsp import RtspServer
        from .gst.runtime import MainLoopThread, require_elements

        cfg = self.config
        require_elements((*ENCODER_ELEMENTS, *(CLIENT_ELEMENTS if cfg.rtsp.enabled else ())))
        require_elements(_output_elements(cfg))
        hook = self._hook or (load_hook(cfg.hook) if cfg.hook else None)
        self.processor = FrameProcessor(cfg.video.width, cfg.video.height, hook)
        if self._source is None and cfg.source.kind != "api":
            self._source = open_source(cfg.source, cfg.video)
        try:
            encoder = self.encoder = H264Encoder(cfg.video, on_error=self._on_pipeline_error)
            encoder.start()
            if cfg.rtsp.enabled:
                rtsp = self.rtsp = RtspServer(cfg.rtsp, cfg.video, encoder)
                rtsp.start()
            self.outputs = _make_outputs(cfg, encoder)
            for output in self.outputs:
                output.start()
            mainloop = self._mainloop = MainLoopThread()
            mainloop.start()
        except BaseException:
            self.stop()
            raise
        self._started_at = time.monotonic()
        if self._source is not None:
            self._spawn("capture", self._capture_loop)
        if self._log_stats:
            self._spawn("stats", self._stats_loop)
        targets = [cfg.rtsp.url()] if cfg.rtsp.enabled else []
        targets += [f"{o.name} {o.target}" for o in self.outputs]
        log.info(
            "streaming %s at %dx%d@%d to %s",
            self.source_name,
            cfg.video.width,
            cfg.video.height,
            cfg.video.fps,
            ", ".join(targets),
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

    def _capture_loop(self) -> None:
        source = self._source
        assert source is not None
        period = 1.0 / self.config.video.fps
        next_t = time.monotonic()
        failures = 0
        while not self._stop.is_set():
            if not source.paced:
                delay = next_t - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                next_t += period
                if time.monotonic() - next_t > period:  # fell behind: do not burst
                    next_t = time.monotonic()
            frame = source.read()
            if frame is None:
                failures = self._recover_source(source, failures)
                continue
            failures = 0
            self.push_frame(frame)

    def _recover_source(self, source: FrameSource, failures: int) -> int:
        self.source_failures += 1
        wait = SOURCE_RETRY_S[min(failures, len(SOURCE_RETRY_S) - 1)]
        if failures == 0:
            log.warning("source %s stopped delivering frames; re-opening", source.name)
        if self._stop.wait(wait):
            return failures + 1
        source.close()
        try:
            source.open()
            log.info("source %s re-opened", source.name)
        except CameraStreamingError as exc:
            log.debug("re-open failed: %s", exc)
        return failures + 1

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
            outputs=tuple(o.status() for o in self.outputs),
        )

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
    from .gst.publish import RtspPublisher
    from .gst.recorder import Recorder
    from .gst.rtmp import RtmpOutput

    o = cfg.outputs
    outputs: list[EncodedOutput] = []
    if o.save_dir:
        outputs.append(Recorder(o, cfg.video, encoder))
    if o.rtmp_url:
        outputs.append(RtmpOutput(o.rtmp_url, cfg.video, encoder))
    if o.publish_url:
        outputs.append(RtspPublisher(o.publish_url, cfg.video, encoder))
    return outputs
