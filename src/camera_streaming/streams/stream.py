"""One stream of a camera: its share of the camera's frames, resized into its own buffers, ONE
encode, and the consumers of that encode (the RTSP mount is added by the server; the RTMP,
recording and publish outputs are the stream's own).

Threads: `push()` runs on the camera's capture (or watchdog, or API) thread; `check_stall()`
on the upkeep thread. The push lock keeps a rebuild from racing a push."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..config.model import StreamConfig
from ..errors import PipelineError
from ..frames.decimate import RateShare
from ..frames.processor import StreamScaler
from ..stall import EncoderStall
from ..telemetry.stats import FpsMeter, StreamSnapshot

if TYPE_CHECKING:
    from ..gst.encoder import EncodedBranch, H264Encoder
    from ..gst.encoder_catalog import EncoderSpec
    from ..gst.outputs.base import EncodedOutput
    from ..gst.rtsp.mount import Mount
    from ..web.webrtc.feed import WebRtcFeed

log = logging.getLogger(__name__)


def start_encoder(
    make: Callable[[EncoderSpec], H264Encoder], specs: list[EncoderSpec]
) -> tuple[H264Encoder, EncoderSpec]:
    """Start the first encoder of `specs` that starts (`auto` lists fallbacks after it)."""
    for i, spec in enumerate(specs):
        encoder = make(spec)
        try:
            encoder.start()
        except PipelineError as exc:
            if i + 1 == len(specs):
                raise
            log.warning("%s; trying %s instead", exc, specs[i + 1].name)
            continue
        return encoder, spec
    raise AssertionError("no encoder to start")


class Stream:
    """Not reusable after `stop()`."""

    def __init__(self, cfg: StreamConfig, camera_fps: int, stall_timeout_s: float) -> None:
        self.cfg = cfg
        self.path = cfg.path
        self.video = cfg.video
        self.share = RateShare(cfg.video.fps, camera_fps)
        self.scaler = StreamScaler(cfg.video.width, cfg.video.height)
        self._lock = threading.Lock()
        self._fps = FpsMeter()
        self._stall = EncoderStall(stall_timeout_s, time.monotonic())
        # `encoder` is this stream's branch; `pipeline` the encoder that owns the pipeline
        # (the same object, except for the other streams of a `gst:` camera).
        self.encoder: EncodedBranch | None = None
        self.pipeline: H264Encoder | None = None
        self.spec: EncoderSpec | None = None
        self.outputs: list[EncodedOutput] = []
        self.mount: Mount | None = None
        self.webrtc: WebRtcFeed | None = None  # its WebRTC viewers (set by the WHEP service)
        self.frames = 0
        self.encoder_stalls = 0
        self._counted_at, self._counted_rate = 0.0, 0.0  # gst: cameras (count_encoded)

    def attach(self, encoder: EncodedBranch, pipeline: H264Encoder, spec: EncoderSpec) -> None:
        self.encoder, self.pipeline, self.spec = encoder, pipeline, spec

    def start_outputs(self) -> None:
        from ..gst.outputs.publish import RtspPublisher
        from ..gst.outputs.record import Recorder
        from ..gst.outputs.rtmp import RtmpOutput

        o, encoder = self.cfg.outputs, self.encoder
        assert encoder is not None
        if o.save_dir:
            self.outputs.append(Recorder(o, self.video, encoder))  # type: ignore[arg-type]
        if o.rtmp_url:
            self.outputs.append(RtmpOutput(o.rtmp_url, self.video, encoder))  # type: ignore[arg-type]
        if o.publish_url:
            self.outputs.append(RtspPublisher(o.publish_url, self.video, encoder))  # type: ignore[arg-type]
        for output in self.outputs:
            output.start()

    @property
    def wanted(self) -> bool:
        encoder = self.encoder
        return encoder is not None and encoder.wanted

    # -- frames ------------------------------------------------------------------------------
    def push(self, bgr: np.ndarray, full_i420: np.ndarray | None = None) -> np.ndarray | None:
        """Resize and convert the camera's frame (from `full_i420`, the same frame in I420 at
        the camera's size, when another stream made it), hand it to the encoder. Returns the
        I420 frame pushed (valid until the next push), None when the encoder is gone or
        behind (counted there)."""
        with self._lock:
            pipeline = self.pipeline
            if pipeline is None:
                return None
            self.frames += 1
            self._fps.tick()
            h, w = bgr.shape[:2]
            smaller = self.video.width < w and self.video.height < h
            if full_i420 is not None and smaller:
                i420 = self.scaler.i420_from_i420(full_i420)
            else:
                i420 = self.scaler.i420(bgr)
            return i420 if pipeline.push_i420(i420) else None

    def rebuild_encoder(self) -> None:
        """Replace the encoder pipeline; frames pushed meanwhile wait for the lock, RTSP
        clients keep their sessions."""
        pipeline = self.pipeline
        if pipeline is None:
            return
        with self._lock:
            pipeline.rebuild()

    def check_stall(self, now: float) -> None:
        """Upkeep: rebuild the encoder when frames went in and nothing came out for the stall
        timeout (only an encoder this stream owns and feeds from Python)."""
        enc = self.pipeline
        if enc is None or enc is not self.encoder or not enc.running:
            return
        offered, out = enc.frames_offered, enc.frames_out
        if not self._stall.check(offered, out, now):
            return
        self.encoder_stalls += 1
        log.warning(
            "encoder of %s produced nothing for %.1f s while %d frames went in; rebuilding it",
            self.path,
            self._stall.stalled_for(now),
            self._stall.offered_since(offered),
        )
        try:
            self.rebuild_encoder()
        except PipelineError as exc:
            log.error("encoder rebuild failed: %s", exc)
        else:
            log.info("encoder of %s rebuilt", self.path)
        self._stall.reset(enc.frames_offered, enc.frames_out, time.monotonic())

    def count_encoded(self, now: float) -> int:
        """A `gst:` camera's stream: its frames never reach Python, so they are counted where
        they leave its encoder, once per upkeep period. Returns how many came out since."""
        enc = self.encoder
        out = enc.frames_out if enc is not None else self.frames
        new = out - self.frames
        if self._counted_at and now > self._counted_at:
            self._counted_rate = new / (now - self._counted_at)
        self.frames, self._counted_at = out, now
        return new

    # -- lifecycle ---------------------------------------------------------------------------
    def request_stop_outputs(self) -> None:
        for output in self.outputs:  # all at once: each finishes its pipeline in parallel
            output.request_stop()

    def stop_outputs(self, deadline: float) -> None:
        for output in self.outputs:
            output.stop(max(0.5, deadline - time.monotonic()))

    def stop_encoder(self) -> None:
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None and pipeline is self.encoder:
            pipeline.stop()

    # -- figures -----------------------------------------------------------------------------
    def snapshot(self) -> StreamSnapshot:
        enc, mount, webrtc, v = self.encoder, self.mount, self.webrtc, self.video
        own = self.pipeline if self.pipeline is self.encoder else None
        return StreamSnapshot(
            path=self.path,
            video=f"{v.width}x{v.height}@{v.fps} {v.bitrate_kbps} kbps",
            frames=self.frames,
            fps=self._counted_rate if self._counted_at else self._fps.fps,
            encoded=enc.frames_out if enc else 0,
            keyframes=enc.keyframes_out if enc else 0,
            dropped=sum(x.dropped for x in (own, mount, webrtc) if x is not None),
            clients=mount.live_feeds if mount else 0,
            medias=mount.feeds if mount else 0,
            bytes_sent=mount.bytes_sent if mount else 0,
            encoder=self.spec.name if self.spec else "",
            outputs=tuple(o.status() for o in self.outputs),
            codec=v.codec,
            webrtc_viewers=webrtc.viewers if webrtc else 0,
            webrtc_joined=webrtc.joined if webrtc else 0,
            webrtc_left=webrtc.left if webrtc else 0,
            webrtc_dropped=webrtc.dropped_viewers if webrtc else 0,
        )
