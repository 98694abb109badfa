"""One camera: its source and supervisor (re-open, NO SIGNAL slate, stall watchdog), the user
hook, and its streams.

Frames: capture once -> `FrameProcessor.prepare` (resized to the capture size, the hook run
once on the full-size BGR frame, the overlay) -> each wanted stream whose rate share takes the
frame resizes it into its own buffers and encodes it. While no stream of the camera is wanted
nothing is processed (the frame is counted idle), unless a snapshot is due.

A `gst:` camera has no Python per frame: one pipeline (source ! tee, a branch per stream)
whose first stream's encoder owns it."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Callable

from ..config.model import CameraConfig, RecoveryConfig, VideoConfig
from ..errors import PipelineError
from ..frames.i420 import I420Frame
from ..sources import FrameSource
from ..sources.supervisor import CaptureSupervisor, FaultCounters
from ..telemetry.stats import CameraSnapshot, FpsMeter
from .stream import Stream, input_format, start_encoder

if TYPE_CHECKING:  # the frame path (NumPy) is imported by NumPy cameras only
    import numpy as np

    from ..frames.processor import FrameHook, FrameProcessor, LatestFrame
    from ..gst.encoder import H264Encoder
    from ..gst.encoder_catalog import EncoderSpec

log = logging.getLogger(__name__)

# "opencv": OpenCV converts BGR to I420 even where nothing else needs it (~1.7 ms less CPU
# per 720p frame than videoconvert, ~36 MB more RSS: docs/memory.md).
CONVERTER_ENV = "CAMERA_STREAMING_CONVERTER"

OnError = Callable[[PipelineError], None]


class Camera:
    """Not reusable after `stop()`. `hook` and `source` override the config's (API use)."""

    def __init__(
        self,
        cfg: CameraConfig,
        recovery: RecoveryConfig,
        snapshot_max_fps: float = 4.0,
        hook: FrameHook | None = None,
        source: FrameSource | None = None,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.capture = cfg.capture
        self.recovery = recovery
        self.native = cfg.source.native
        # A `gst:` source that does not deliver the first stream's rate itself gets videorate
        # (`gst.runtime.check_native_source` decides before the encoders start).
        self.native_rate = True
        self.streams = [Stream(s, self.capture.fps, recovery.stall_timeout_s) for s in cfg.streams]
        self._hook = hook
        self._source = source
        self._lock = threading.Lock()
        self._fps = FpsMeter()
        self.processor: FrameProcessor | None = None
        self.i420 = False  # the source was switched to I420 frames (`_use_i420_frames`)
        self.supervisor: CaptureSupervisor | None = None
        self._snapshot_max_fps = snapshot_max_fps
        self._latest: LatestFrame | None = None  # for the JPEG snapshot
        self._latest_lock = threading.Lock()
        self.frames = 0  # frames offered by the source or the API
        self.idle_frames = 0  # frames not processed because no stream was wanted
        self.last_frame_at = 0.0
        self._native_at, self._native_fps = 0.0, 0.0

    @property
    def latest(self) -> LatestFrame:
        """The latest frame for the JPEG snapshot (created on first use)."""
        with self._latest_lock:  # HTTP threads may ask at once
            if self._latest is None:
                from ..frames.processor import LatestFrame

                self._latest = LatestFrame(self._snapshot_max_fps)
            return self._latest

    @property
    def source_name(self) -> str:
        if self.native or self._source is None:
            return str(self.cfg.source) if self.native else "api"
        return self._source.name

    # -- lifecycle ---------------------------------------------------------------------------
    def start_encoders(self, available: Collection[str], on_error: OnError) -> None:
        """Start every stream's encoder (each the best one installed, with fallbacks for
        `auto`) and outputs. Raises `CameraStreamingError` with a one-line reason."""
        from ..gst.encoder import H264Encoder

        specs = [_encoder_specs(available, s.video.encoder, s.video.codec) for s in self.streams]
        if self.native:
            main, *others = self.streams
            extra = tuple((s.video, sp[0]) for s, sp in zip(others, specs[1:]))

            def make(spec: EncoderSpec) -> H264Encoder:
                return H264Encoder(
                    main.video,
                    on_error,
                    spec,
                    self.cfg.source.location,
                    extra,
                    native_rate=self.native_rate,
                )

            pipeline, spec = start_encoder(make, specs[0])
            main.attach(pipeline, pipeline, spec)
            for stream, branch, sp in zip(others, pipeline.branches[1:], specs[1:]):
                stream.attach(branch, pipeline, sp[0])
        else:
            cap = self.capture
            i420 = self.i420 = self._use_i420_frames()
            # OpenCV is loaded already (the source, the hook, the application), or will be
            # for a stream's resize, or asked for: then it converts every stream's frames.
            opencv = (
                os.environ.get(CONVERTER_ENV) == "opencv"
                or "cv2" in sys.modules
                or any(
                    (s.video.width, s.video.height) != (cap.width, cap.height) for s in self.streams
                )
            )
            for stream, sp in zip(self.streams, specs):
                video = stream.video
                fmt = input_format((cap.width, cap.height), video, opencv, i420)

                def make_one(
                    spec: EncoderSpec, video: VideoConfig = video, fmt: str = fmt
                ) -> H264Encoder:
                    return H264Encoder(video, on_error, spec, input_format=fmt)

                encoder, spec = start_encoder(make_one, sp)
                stream.attach(encoder, encoder, spec)
        for stream in self.streams:
            stream.start_outputs()

    def _use_i420_frames(self) -> bool:
        """Switch the source to I420 frames when it can make them and nothing on this
        camera's frame path needs BGR: no hook, no overlay, every stream at the capture size.
        Then no frame is colour-converted at all (docs/memory.md, "The I420 frame path")."""
        source, processor, cap = self._source, self.processor, self.capture
        if source is None or "I420" not in source.formats or processor is None:
            return False
        if processor.hook is not None or processor.overlay is not None:
            return False
        if cap.width % 2 or cap.height % 2:
            return False
        if any((s.video.width, s.video.height) != (cap.width, cap.height) for s in self.streams):
            return False
        source.use_i420()
        return True

    def prepare(self, from_api: bool) -> None:
        """Import the hook and open the source (unless frames come from the API or from
        GStreamer), before anything else starts: a bad hook or a missing camera fails the
        start with one line."""
        if self.native:
            return
        from ..frames.processor import FrameProcessor, load_hook
        from ..sources import open_source

        if self._hook is None and self.cfg.hook:
            self._hook = load_hook(self.cfg.hook)
        overlay = None
        if self.cfg.overlay:
            from ..frames.overlay import StatusOverlay  # draws with OpenCV

            overlay = StatusOverlay(self._overlay_figures)
        self.processor = FrameProcessor(
            self.capture.width, self.capture.height, self._hook, overlay
        )
        if self._source is None and not from_api:
            self._source = open_source(self.cfg.source, self.capture)

    def start_capture(self) -> None:
        """Start the capture and watchdog threads (frames from the API: none)."""
        if self.native:
            return
        self.supervisor = CaptureSupervisor(
            self._source,
            self.push_frame,
            self.capture.width,
            self.capture.height,
            self.capture.fps,
            stall_timeout_s=self.recovery.stall_timeout_s,
            retry_max_s=self.recovery.retry_max_s,
            name=self.name,
        )
        self.supervisor.start()

    def stop_capture(self, timeout: float) -> None:
        if self.supervisor is not None:
            self.supervisor.stop(timeout)

    def stop_encoders(self) -> None:
        for stream in self.streams:
            stream.stop_encoder()

    def close_source(self) -> None:
        if self._source is not None:
            self._source.close()

    # -- frames ------------------------------------------------------------------------------
    def push_frame(self, frame: np.ndarray | I420Frame) -> bool:
        """Hook the frame once, hand it to each stream whose share takes it. True when
        accepted (encoded, or not needed because nobody is watching); False when an encoder
        is behind (counted there) or not running. An `I420Frame` (a source switched to I420:
        no hook, no overlay, no resize) goes to the streams as it is."""
        processor = self.processor
        if processor is None:
            return False
        with self._lock:
            self.frames += 1
            self._fps.tick()
            now = self.last_frame_at = time.monotonic()
            latest = self._latest
            snapshot_due = latest is not None and latest.due(now)
            wanted = [s for s in self.streams if s.wanted]
            if not wanted and not snapshot_due:
                self.idle_frames += 1
                return True
            if isinstance(frame, I420Frame) and not self.i420:
                frame = frame.to_bgr()  # a source that did not say it makes I420 (OpenCV)
            ready = frame if isinstance(frame, I420Frame) else processor.prepare(frame)
            if snapshot_due:  # someone asked for a snapshot: keep this one
                self.latest.keep(ready, now)
            if not wanted:
                self.idle_frames += 1
                return True
            ok = True
            for stream in wanted:
                if stream.share.take(now):
                    ok = stream.push(ready) and ok
            return ok

    def _overlay_figures(self) -> tuple[int, float]:
        return self.frames, self._fps.fps

    # -- upkeep (once a second or so) --------------------------------------------------------
    def tick(self, now: float) -> None:
        for stream in self.streams:
            stream.check_stall(now)
            if not self.native:
                stream.check_idle(now)
        if self.native:
            for stream in self.streams:
                if stream.encoder is not None:
                    stream.encoder.update_gate()  # stop encoding once nobody wants frames
            self._count_native_frames(now)

    def trim_pools(self) -> None:
        """Let each encoder's frame pool give back what a load spike added (upkeep, every
        trim interval). A `gst:` camera's encoder has no pool: nothing to do there."""
        for stream in self.streams:
            if stream.pipeline is not None:
                stream.pipeline.trim_pool()

    def _count_native_frames(self, now: float) -> None:
        """A gst: camera's frames never reach Python: each stream counts what left its
        encoder; the camera counts as many frames as its busiest stream encoded (the rate of
        the source itself is not seen while no stream is watched)."""
        new = max(s.count_encoded(now) for s in self.streams)
        if self._native_at and now > self._native_at:
            self._native_fps = new / (now - self._native_at)
        if new:
            self.frames, self.last_frame_at = self.frames + new, now
        self._native_at = now

    # -- figures -----------------------------------------------------------------------------
    @property
    def faults(self) -> FaultCounters:
        """Source losses, stalls, re-opens, slate frames and encoder rebuilds so far."""
        counters = self.supervisor.counters if self.supervisor is not None else FaultCounters()
        stalls = sum(s.encoder_stalls for s in self.streams)
        return dataclasses.replace(counters, encoder_stalls=counters.encoder_stalls + stalls)

    @property
    def fps(self) -> float:
        return self._native_fps if self.native else self._fps.fps

    def snapshot(self) -> CameraSnapshot:
        p = self.processor
        now = time.monotonic()
        return CameraSnapshot(
            name=self.name,
            source=self.source_name,
            frames=self.frames,
            fps=self.fps,
            idle_frames=self.idle_frames,
            hook_errors=p.hook_errors if p else 0,
            hook_seconds=p.hook_seconds if p else 0.0,
            last_frame_age_s=now - self.last_frame_at if self.last_frame_at else None,
            streams=tuple(s.snapshot() for s in self.streams),
            faults=dataclasses.asdict(self.faults),
        )


def _encoder_specs(available: Collection[str], wanted: str, codec: str) -> list[EncoderSpec]:
    from ..gst.encoder_catalog import AUTO, fallbacks, select_encoder

    spec = select_encoder(available, wanted, codec)
    return [spec, *(fallbacks(spec, available) if wanted == AUTO else [])]
