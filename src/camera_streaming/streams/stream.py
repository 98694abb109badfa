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

from ..config.model import StreamConfig, VideoConfig
from ..errors import PipelineError
from ..frames.decimate import RateShare
from ..frames.i420 import I420Frame
from ..stall import EncoderStall
from ..telemetry.stats import FpsMeter, StreamSnapshot

if TYPE_CHECKING:
    import numpy as np

    from ..frames.processor import StreamScaler
    from ..gst.encoder import EncodedBranch, H264Encoder
    from ..gst.encoder_catalog import EncoderSpec
    from ..gst.outputs.base import EncodedOutput
    from ..gst.rtsp.mount import Mount
    from ..web.mse.feed import MseFeed
    from ..web.webrtc.feed import WebRtcFeed

log = logging.getLogger(__name__)


def input_format(capture: tuple[int, int], video: VideoConfig, opencv: bool, i420: bool) -> str:
    """What a stream's encoder takes from a NumPy camera capturing at `capture` (w, h).

    `i420`: the camera hands on I420 frames (nothing on its frame path needs BGR): I420,
    written into the pooled buffer as it is. Otherwise a stream at the capture size in a
    process without OpenCV (`opencv`: loaded anyway, or asked for) gets BGR, converted by
    `videoconvert` in its pipeline: no OpenCV (~36 MB RSS) for the conversion alone.
    Otherwise I420, converted by OpenCV straight into the pooled buffer in about a third of
    videoconvert's CPU time (docs/memory.md)."""
    if i420:
        return "I420"
    return "BGR" if capture == (video.width, video.height) and not opencv else "I420"


def _fill(view: np.ndarray, frame: I420Frame) -> None:
    frame.fill(view)


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
        self.scaler: StreamScaler | None = None  # made for the first BGR frame to convert
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
        self.mse: MseFeed | None = None  # browsers over MSE, made on the first (service.py)
        self.webrtc: WebRtcFeed | None = None  # its WebRTC viewers (set by the WHEP service)
        self.frames = 0
        self.encoder_stalls = 0
        self._wanted_at = time.monotonic()  # the last upkeep tick that saw it wanted
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
    def push(self, frame: np.ndarray | I420Frame) -> bool:
        """Hand the camera's frame to the encoder: an I420 frame writes itself into the pooled
        buffer (`I420Frame.fill`), a BGR one at this size into a BGR encoder is copied, any
        other BGR frame resized and converted into it. False when the encoder is behind
        (counted there) or gone."""
        with self._lock:
            pipeline = self.pipeline
            if pipeline is None:
                return False
            self.frames += 1
            self._fps.tick()
            if isinstance(frame, I420Frame):  # the camera chose I420 frames for this size
                return pipeline.push_into(_fill, frame)
            if pipeline.input_format == "BGR":  # at this size: videoconvert converts it
                return pipeline.push_frame(frame)
            scaler = self.scaler
            if scaler is None:
                from ..frames.processor import StreamScaler

                scaler = self.scaler = StreamScaler(self.video.width, self.video.height)
            return pipeline.push_into(scaler.i420_into, frame)

    def rebuild_encoder(self) -> None:
        """Replace the encoder pipeline; frames pushed meanwhile wait for the lock, RTSP
        clients keep their sessions."""
        pipeline = self.pipeline
        if pipeline is None:
            return
        with self._lock:
            pipeline.rebuild()

    def check_idle(self, now: float) -> None:
        """Upkeep: park this stream's own encoder pipeline (fed from Python) once nothing has
        wanted its frames for PARK_AFTER_S; the next frame pushed starts it again."""
        from ..gst.encoder import PARK_AFTER_S

        if self.wanted:
            self._wanted_at = now
            return
        enc = self.pipeline
        if enc is None or enc is not self.encoder or enc.native_source or enc.parked:
            return
        if now - self._wanted_at >= PARK_AFTER_S:
            with self._lock:
                if not self.wanted and enc.park():
                    log.debug("encoder of %s parked: nobody watches", self.path)

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
        enc, mount, mse, webrtc, v = self.encoder, self.mount, self.mse, self.webrtc, self.video
        own = self.pipeline if self.pipeline is self.encoder else None
        return StreamSnapshot(
            path=self.path,
            video=f"{v.width}x{v.height}@{v.fps} {v.bitrate_kbps} kbps",
            frames=self.frames,
            fps=self._counted_rate if self._counted_at else self._fps.fps,
            encoded=enc.frames_out if enc else 0,
            keyframes=enc.keyframes_out if enc else 0,
            dropped=sum(x.dropped for x in (own, mount, mse, webrtc) if x is not None),
            clients=mount.live_feeds if mount else 0,
            medias=mount.feeds if mount else 0,
            bytes_sent=mount.bytes_sent if mount else 0,
            encoder=self.spec.name if self.spec else "",
            outputs=tuple(o.status() for o in self.outputs),
            codec=v.codec,
            mse_viewers=mse.viewers if mse else 0,
            mse_joined=mse.viewers_joined if mse else 0,
            mse_left=mse.viewers_left if mse else 0,
            mse_dropped=mse.dropped if mse else 0,
            webrtc_viewers=webrtc.viewers if webrtc else 0,
            webrtc_joined=webrtc.joined if webrtc else 0,
            webrtc_left=webrtc.left if webrtc else 0,
            webrtc_dropped=webrtc.dropped_viewers if webrtc else 0,
        )
