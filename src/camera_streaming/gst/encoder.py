"""A stream's one encode: I420 frames in through a bounded appsrc fed from a buffer pool, access
units out through one appsink whose handler hands each to every consumer of the stream (its
RTSP mount, RTMP push, recording, publish).

A `gst:` camera with several streams has one pipeline for all of them (source ! tee, then per
stream scale/rate/gate/encoder/appsink): the first stream's `H264Encoder` owns it and each
other stream gets an `EncodedBranch` of it."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Protocol

from ..config.model import VideoConfig
from ..errors import PipelineError
from .encoder_catalog import EncoderSpec
from .frame_pool import FramePool
from .launch import branch_name, encoder_launch, input_frame_size, native_split_launch, raw_caps
from .runtime import GLib, Gst, GstVideo, bus_error, init

if TYPE_CHECKING:  # NumPy is imported by the first push: a `gst:` camera never loads it
    import numpy as np

log = logging.getLogger(__name__)

INPUT_QUEUE = 2  # frames waiting for the encoder; more are dropped and counted
# At most the queued frames, the one in the encoder (or videoconvert) and the one being
# filled; the pool starts with one (gst/frame_pool.py).
POOL_BUFFERS = INPUT_QUEUE + 2
PARK_AFTER_S = 10.0  # a pipeline fed from Python that nobody wanted this long is parked
KEYFRAME_RETRY_S = 0.5  # a forced keyframe not seen by then may be asked for again


class EncodedConsumer(Protocol):
    """Something that takes the encoder's output: one call per access unit, on the encoder's
    streaming thread. It must not block and must not keep `buffer` writable."""

    @property
    def wants_frames(self) -> bool: ...

    def deliver(self, buffer: Any, is_key: bool) -> None: ...


class EncodedBranch:
    """One stream's encoded output: its appsink, gate and consumers. Consumers are added and
    removed from any thread (the tuple is replaced, never mutated, so delivery takes no lock)."""

    def __init__(self, video: VideoConfig, index: int = 0) -> None:
        self.video = video
        self.index = index
        self._consumers: tuple[EncodedConsumer, ...] = ()
        self._lock = threading.Lock()
        self._appsink: Any = None
        self._gate: Any = None
        self._sink_handler = 0
        self._key_requested_at = 0.0
        # Counters, read by stats without locking (ints are replaced atomically).
        self.frames_out = 0
        self.keyframes_out = 0
        self.bytes_out = 0

    def _attach(self, pipeline: Any) -> None:
        self._appsink = pipeline.get_by_name(branch_name("sink", self.index))
        self._gate = pipeline.get_by_name(branch_name("gate", self.index))  # gst: sources
        self._sink_handler = self._appsink.connect("new-sample", self._on_new_sample)

    def _detach(self) -> None:
        if self._appsink is not None and self._sink_handler:
            self._appsink.disconnect(self._sink_handler)
        self._sink_handler = 0
        self._appsink = self._gate = None
        with self._lock:
            self._key_requested_at = 0.0

    # -- consumers ---------------------------------------------------------------------------
    def add_consumer(self, consumer: EncodedConsumer) -> None:
        with self._lock:
            self._consumers = (*self._consumers, consumer)
        self._set_gate(True)

    def remove_consumer(self, consumer: EncodedConsumer) -> None:
        with self._lock:
            self._consumers = tuple(c for c in self._consumers if c is not consumer)

    @property
    def wanted(self) -> bool:
        """True when some consumer wants frames; otherwise nothing is encoded."""
        return any(c.wants_frames for c in self._consumers)

    def request_keyframe(self) -> None:
        """Ask the encoder for an IDR on the next frame; coalesces requests still pending."""
        sink = self._appsink
        if sink is None:
            return
        self._set_gate(True)  # a client is joining: a gst: source's frames must flow
        now = time.monotonic()
        with self._lock:
            if now - self._key_requested_at < KEYFRAME_RETRY_S:
                return
            self._key_requested_at = now
        event = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
        sink.send_event(event)

    def update_gate(self) -> None:
        """For a `gst:` source: stop encoding while no consumer wants frames (called about
        once a second; joining clients and new outputs open the gate at once)."""
        self._set_gate(self.wanted)

    def _set_gate(self, open_: bool) -> None:
        """Called from the upkeep, GLib and API threads: the check and the change are one
        step under the lock, and the valve's own `drop` is the state (nothing cached that
        could disagree with it)."""
        gate = self._gate
        if gate is None:
            return
        with self._lock:
            if gate.get_property("drop") == open_:
                gate.set_property("drop", not open_)

    # -- frames out (encoder streaming thread) -----------------------------------------------
    def _on_new_sample(self, sink: Any) -> Any:
        sample = sink.pull_sample()
        if sample is None:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        is_key = not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
        self.frames_out += 1
        self.bytes_out += buf.get_size()
        if is_key:
            self.keyframes_out += 1
            self._key_requested_at = 0.0
        for consumer in self._consumers:
            consumer.deliver(buf, is_key)
        return Gst.FlowReturn.OK


class H264Encoder(EncodedBranch):
    """Owns an encoder pipeline and is its first branch. Frames go in from any one thread:
    `push_frame()` copies a frame in `input_format` (I420, or BGR that `videoconvert`
    converts in the pipeline), `push_into()` lets a function write the frame straight into
    the pooled buffer. `extra_streams` (a `gst:` camera only): more branches of the same
    source, `branches[1:]`."""

    def __init__(
        self,
        video: VideoConfig,
        on_error: Callable[[PipelineError], None] | None = None,
        encoder: EncoderSpec | None = None,
        native_source: str | None = None,
        extra_streams: tuple[tuple[VideoConfig, EncoderSpec | None], ...] = (),
        input_format: str = "I420",
        native_rate: bool = True,
    ) -> None:
        super().__init__(video, 0)
        self.spec = encoder  # None: x264enc (launch.encoder_launch's default)
        # A `gst:` source's launch fragment: GStreamer makes the frames, nothing is pushed.
        self.native_source = native_source
        self.native_rate = native_rate  # the first branch needs videorate (launch.native_branch)
        self.on_error = on_error
        self._extra = extra_streams
        self.branches: tuple[EncodedBranch, ...] = (
            self,
            *(EncodedBranch(v, i + 1) for i, (v, _) in enumerate(extra_streams)),
        )
        self._pipeline: Any = None
        self._appsrc: Any = None
        self._pool: FramePool | None = None
        self._bus: Any = None
        self._bus_handler = 0
        self.input_format = input_format
        self._frame_size = input_frame_size(video, input_format)
        self._queue_bytes = INPUT_QUEUE * self._frame_size
        self.frames_offered = 0  # pushes while running (the stall check's input)
        self.frames_in = 0
        self.dropped = 0
        self.alloc_failures = 0
        self.rebuilds = 0
        self.parks = 0
        self._parked = False

    def launch(self) -> str:
        """The launch text of this encoder's pipeline (logged at debug level on start)."""
        if self._extra and self.native_source:
            streams = [(self.video, self.spec), *self._extra]
            return native_split_launch(self.native_source, streams, self.native_rate)
        return encoder_launch(
            self.video,
            INPUT_QUEUE,
            self.spec,
            self.native_source,
            self.input_format,
            self.native_rate,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        init()
        try:
            text = self.launch()
            log.debug("encoder pipeline: %s", text)
            pipeline = Gst.parse_launch(text)
        except GLib.Error as exc:  # e.g. a property this version of the element lacks
            name = self.spec.name if self.spec is not None else "x264enc"
            raise PipelineError(name, f"cannot build the encoder pipeline: {exc.message}") from None
        self._appsrc = pipeline.get_by_name("src")
        for branch in self.branches:
            branch._attach(pipeline)
        bus = pipeline.get_bus()
        bus.add_signal_watch()
        self._bus_handler = bus.connect("message::error", self._on_bus_error)
        self._bus = bus
        if self._appsrc is not None:
            self._pool = self._make_pool()
        self._pipeline = pipeline
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            error = PipelineError("encoder", "the encoder pipeline failed to start")
            message = bus.pop_filtered(Gst.MessageType.ERROR)
            if message is not None:  # e.g. a gst: source's device that is missing
                element, text, debug = bus_error(message)
                error = PipelineError(element, text, debug)
            self.stop()
            raise error

    def _make_pool(self) -> FramePool:
        caps = raw_caps(self.video, self.input_format)
        return FramePool(caps, self._frame_size, POOL_BUFFERS)

    def stop(self) -> None:
        for branch in self.branches:
            with branch._lock:
                branch._consumers = ()
        self._teardown()

    def rebuild(self) -> None:
        """Replace a stalled pipeline with a fresh one, keeping the consumers: RTSP feeds stay
        registered and get the new encoder's first access unit, an IDR with SPS/PPS."""
        self._teardown()
        self.start()
        self.rebuilds += 1
        for branch in self.branches:
            branch.request_keyframe()

    def _inject_stall(self) -> None:
        """Fault injection for tests (internal, documented in docs/faults.md): block the
        encoder's output pad, as a hung encoder would. Frames keep being offered; none come out
        until `rebuild()` replaces the pipeline."""
        pipeline = self._pipeline
        if pipeline is not None:
            pad = pipeline.get_by_name("enc").get_static_pad("src")
            pad.add_probe(Gst.PadProbeType.BLOCK_DOWNSTREAM, _block_probe)

    def _teardown(self) -> None:
        for branch in self.branches:
            branch._detach()
        if self._bus is not None and self._bus_handler:
            self._bus.disconnect(self._bus_handler)
        self._bus_handler = 0
        if self._pipeline is not None:
            self._pipeline.set_state(Gst.State.NULL)
        if self._bus is not None:
            self._bus.remove_signal_watch()
        if self._pool is not None:
            self._pool.close()
        self._pipeline = self._appsrc = self._pool = self._bus = None
        self._parked = False

    @property
    def running(self) -> bool:
        return self._pipeline is not None

    @property
    def parked(self) -> bool:
        return self._parked

    def park(self) -> bool:
        """Bring a pipeline fed from Python that nobody watches down to READY: the encoder
        frees its frames (x264 at 720p: ~20 MB) and the pool its buffers. The next push
        starts it again, and its first frame is an IDR with SPS/PPS. Same thread rules as
        the pushes (the stream's lock). False when there is nothing to park."""
        pipeline, pool = self._pipeline, self._pool
        if pipeline is None or pool is None or self._parked:
            return False
        pipeline.set_state(Gst.State.READY)
        pool.set_active(False)
        self._parked = True
        self.parks += 1
        return True

    def _unpark(self) -> bool:
        pool, pipeline = self._pool, self._pipeline
        assert pool is not None  # parked: the pipeline and its pool are kept
        pool.set_active(True)
        self._parked = False
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            log.error("the parked encoder pipeline failed to start again")
            if self.on_error is not None:
                self.on_error(PipelineError("encoder", "the encoder pipeline failed to restart"))
            return False
        return True

    # -- frames in ---------------------------------------------------------------------------
    def push_frame(self, frame: np.ndarray) -> bool:
        """Copy one frame (`input_format`, this stream's size) into a pooled buffer and queue
        it. False (and counted) when the encoder is behind, the pool is exhausted, or the
        pipeline is gone."""
        return self.push_into(_copy_into, frame)

    push_i420 = push_frame  # for an I420 pipeline (tests, the ceiling bench)

    def push_into(self, fill: Callable[[np.ndarray, Any], None], arg: Any) -> bool:
        """Like `push_frame`, but `fill(view, arg)` writes the frame into `view`, the pooled
        buffer as a flat uint8 array (valid only during the call)."""
        appsrc, pool = self._appsrc, self._pool
        if appsrc is None or pool is None:
            return False
        if self._parked and not self._unpark():
            return False
        self.frames_offered += 1
        if appsrc.get_property("current-level-bytes") >= self._queue_bytes:
            self.dropped += 1
            return False
        buf = pool.acquire()
        if buf is None:
            self.alloc_failures += 1
            self.dropped += 1
            return False
        ok, info = buf.map(Gst.MapFlags.WRITE)
        if not ok:
            self.alloc_failures += 1
            self.dropped += 1
            return False
        import numpy as np

        try:
            # The view lives only inside the map (docs/gstreamer.md, fact 3).
            view = np.frombuffer(info.data, dtype=np.uint8, count=self._frame_size)
            fill(view, arg)
            del view
        finally:
            buf.unmap(info)
        # Stamp it here, as do-timestamp would: appsrc stamps an unstamped buffer with
        # make_writable(), and while our reference is alive that copies it; the pool then
        # sees its memory shared, frees the buffer and allocates a new frame for the next
        # push (a 3 MB malloc+free per 1080p frame, resident between trims).
        buf.pts = buf.dts = appsrc.get_current_running_time()
        ret = appsrc.push_buffer(buf)
        if ret != Gst.FlowReturn.OK:
            self.dropped += 1
            return False
        self.frames_in += 1
        return True

    def trim_pool(self) -> None:
        """Give back the frames a load spike added to the pool (`FramePool.trim`): the next
        push starts a fresh pool. Any thread; the upkeep thread calls it every trim
        interval."""
        pool = self._pool
        if pool is not None:
            pool.trim()

    def _on_bus_error(self, _bus: Any, message: Any) -> None:
        element, text, debug = bus_error(message)
        log.error("encoder pipeline error from %s: %s", element, text)
        log.debug("GStreamer debug: %s", debug)
        if self.on_error is not None:
            self.on_error(PipelineError(element, text, debug))


def _copy_into(view: np.ndarray, frame: np.ndarray) -> None:
    view[:] = frame.reshape(-1)


def _block_probe(_pad: Any, _info: Any) -> Any:
    return Gst.PadProbeReturn.OK  # keep blocking (a BLOCK probe holds data while it is OK)
