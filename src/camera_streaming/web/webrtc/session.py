"""One WebRTC viewer: its own small pipeline, `appsrc ! rtph264pay ! webrtcbin`, fed the
stream's access units (a shallow copy each, no encode), the WHEP answer, and a teardown that
gives back every fd and thread (docs/gstreamer.md, facts 19-26).

Threads. `answer()` runs on a WHEP worker thread, which emits webrtcbin's action signals
itself and blocks on each `Gst.Promise` (no GLib main loop, no per-viewer GLib source: fact
1). webrtcbin calls back on its own `:pc` thread (connection and gathering state) and its
RTP session's thread (RTCP in); those handlers only set fields and events. `deliver()` runs
on the encoder's streaming thread. `close()` runs on a WHEP worker or the reaper thread,
never on one of webrtcbin's (setting the pipeline to NULL joins them).

Feed states (gst/rtsp/feeds.py's policy): PRIMED until the connection is up (nothing is
pushed), then WAIT_KEY (deltas skipped; a keyframe is requested from the encoder) and LIVE;
a viewer whose queue is full goes back to WAIT_KEY and resumes at the next keyframe.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from ...gst.rtsp.feeds import BEHIND, LIVE, PRIMED, PUSH, SKIP, WAIT_KEY, deliver_action
from ...gst.runtime import Gst
from . import nice
from .sdp import OfferError, parse_offer

log = logging.getLogger(__name__)

GATHER_TIMEOUT_S = 3.0  # the answer waits this long at most for every candidate
RTCP_PSFB, PLI, FIR = 206, 1, 4  # RTCP payload-specific feedback: picture loss, full intra

_types: dict[str, Any] = {}


def gst_webrtc() -> tuple[Any, Any]:
    """GstWebRTC and GstSdp, imported on first use (gir1.2-gst-plugins-bad-1.0)."""
    if not _types:
        import gi

        gi.require_version("GstWebRTC", "1.0")
        gi.require_version("GstSdp", "1.0")
        from gi.repository import GstSdp, GstWebRTC

        _types.update(webrtc=GstWebRTC, sdp=GstSdp)
    return _types["webrtc"], _types["sdp"]


@dataclass(frozen=True)
class IceOptions:
    """How a viewer's ICE agent gathers: `ports` (0, 0 for any), STUN and TURN URLs, and
    `addresses`, the host addresses to gather on (empty: libnice's own choice)."""

    ports: tuple[int, int] = (0, 0)
    stun: str = ""
    turn: str = ""
    addresses: tuple[str, ...] = ()


def host_addresses(peer: str, offer: str) -> tuple[str, ...]:
    """Loopback joins libnice's host addresses when the peer is on loopback: its HTTP request
    came from there, or its offer has a loopback candidate. Otherwise libnice chooses."""
    loopback = _is_loopback(peer) or any(
        _is_loopback(p[4]) for p in (line.split() for line in offer.splitlines())
        if len(p) > 5 and p[0].startswith("a=candidate:")
    )  # fmt: skip
    if not loopback:
        return ()
    return tuple(a for a in nice.local_addresses() if "%" not in a)  # no link-local scopes


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class AnswerError(Exception):
    """webrtcbin could not answer the offer; the message says why (400 to the client)."""


class NoCandidates(Exception):
    """The answer has no candidate: no port left in `[webrtc] udp_ports` (503)."""


class WebRtcSession:
    """One viewer. Build with the payload type to answer with, then `answer()` once."""

    def __init__(
        self,
        sid: str,
        pt: int,
        queue_bytes: int,
        clock: Any,
        on_keyframe: Callable[[], None],
        wake: Callable[[], None],
        ice: IceOptions,
    ) -> None:
        self.sid = sid
        self.queue_bytes = queue_bytes
        self._clock = clock
        self._on_keyframe = on_keyframe  # asks the stream's encoder for an IDR (coalesced)
        self._wake = wake  # wakes the reaper: this viewer failed
        self._lock = threading.Lock()
        self._gathered = threading.Event()
        self._handlers: list[tuple[Any, int]] = []
        self.state = PRIMED
        self.failed = ""  # why the viewer must go: ICE failed, a pipeline error
        self.closed = False
        self.created = time.monotonic()
        self.last_heard = self.created  # the last RTCP packet from the peer
        self.connected_at = 0.0
        self.first_frame_at = 0.0
        self.pushed = 0
        self.bytes = 0
        self.dropped = 0
        self.keyframe_requests = 0
        GstWebRTC, _ = gst_webrtc()
        self._connected = GstWebRTC.WebRTCPeerConnectionState.CONNECTED
        self._gone = (
            GstWebRTC.WebRTCPeerConnectionState.FAILED,
            GstWebRTC.WebRTCPeerConnectionState.CLOSED,
        )
        self._complete = GstWebRTC.WebRTCICEGatheringState.COMPLETE
        pipeline = Gst.parse_launch(
            f"appsrc name=src is-live=true format=time do-timestamp=false block=false "
            f"max-buffers=0 max-bytes={2 * queue_bytes} leaky-type=downstream "
            f"caps=video/x-h264,stream-format=byte-stream,alignment=au "
            f"! rtph264pay config-interval=0 aggregate-mode=zero-latency mtu=1200 pt={pt} "
            f"! webrtcbin name=webrtc bundle-policy=max-bundle"
        )
        pipeline.use_clock(clock)
        self.pipeline: Any = pipeline
        self.src: Any = pipeline.get_by_name("src")
        self.webrtc: Any = pipeline.get_by_name("webrtc")
        self._rtp_session: Any = None
        self._configure_ice(ice)
        self._connect(self.webrtc, "notify::connection-state", self._on_connection_state)
        self._connect(self.webrtc, "notify::ice-gathering-state", self._on_gathering_state)

    def _connect(self, obj: Any, signal: str, handler: Callable[..., Any]) -> None:
        self._handlers.append((obj, obj.connect(signal, handler)))

    def _configure_ice(self, options: IceOptions) -> None:
        webrtc = self.webrtc
        if options.stun:
            webrtc.set_property("stun-server", options.stun)
        if options.turn:
            webrtc.set_property("turn-server", options.turn)
        ice = nice.ice_agent(webrtc)
        nice.no_upnp(ice)
        first, last = options.ports
        if first:
            ice.set_property("max-rtp-port", last)
            ice.set_property("min-rtp-port", first)
        if options.addresses:
            nice.add_host_addresses(ice, list(options.addresses))

    # -- the answer (a WHEP worker thread) ---------------------------------------------------
    def answer(self, offer: str) -> str:
        """Start the pipeline, take the offer, return the answer with every candidate (no
        trickle). Raises AnswerError (the offer) or RuntimeError (the pipeline)."""
        GstWebRTC, GstSdp = gst_webrtc()
        res, message = GstSdp.SDPMessage.new_from_text(offer)
        if res != GstSdp.SDPResult.OK:
            raise AnswerError("the offer does not parse as SDP")
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise RuntimeError("the viewer's pipeline did not start")
        webrtc = self.webrtc
        description = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, message)
        self._call("set-remote-description", description)
        reply = self._call("create-answer", None)
        local = reply.get_value("answer") if reply is not None else None
        if local is None:
            raise AnswerError("webrtcbin made no answer to the offer")
        self._call("set-local-description", local)
        if not self._gathered.wait(GATHER_TIMEOUT_S):
            log.debug("webrtc %s: candidates still gathering after %.0f s", self.sid,
                      GATHER_TIMEOUT_S)  # fmt: skip
        self._watch_rtcp()
        text = str(webrtc.get_property("local-description").sdp.as_text())
        try:
            video = parse_offer(text).video
        except OfferError:
            video = ()
        if not video or video[0].port == 0 or video[0].direction != "sendonly":
            raise AnswerError("no video could be negotiated with the offer")
        if "a=candidate:" not in text:
            raise NoCandidates("no ICE candidate: every port of [webrtc] udp_ports is taken")
        return text

    def _call(self, signal: str, argument: Any) -> Any:
        """Emit one of webrtcbin's promise-taking signals and wait for its reply."""
        promise = Gst.Promise.new()
        self.webrtc.emit(signal, argument, promise)
        promise.wait()
        reply = promise.get_reply()
        if reply is not None and reply.has_field("error"):
            error = reply.get_value("error")
            raise AnswerError(f"{signal}: {getattr(error, 'message', error)}")
        return reply

    def _watch_rtcp(self) -> None:
        """RTCP from the peer: every packet is a sign of life, and a picture-loss report asks
        the encoder for a keyframe."""
        rtpbin = self.webrtc.get_by_name("rtpbin")
        session = rtpbin.emit("get-internal-session", 0) if rtpbin is not None else None
        if session is None:
            log.warning("webrtc %s: no RTP session to watch; liveness is by timeout", self.sid)
            return
        self._rtp_session = session
        self._connect(session, "on-receiving-rtcp", self._on_rtcp)
        self._connect(session, "on-feedback-rtcp", self._on_feedback)
        self._connect(session, "on-bye-ssrc", self._on_bye)

    # -- webrtcbin's threads -----------------------------------------------------------------
    def _on_gathering_state(self, webrtc: Any, _pspec: Any) -> None:
        if webrtc.get_property("ice-gathering-state") == self._complete:
            self._gathered.set()

    def _on_connection_state(self, webrtc: Any, _pspec: Any) -> None:
        state = webrtc.get_property("connection-state")
        if state == self._connected and not self.connected_at:
            self.connected_at = time.monotonic()
            self.state = WAIT_KEY  # from PRIMED: the encoder thread only moves it on from here
            self.request_keyframe()
        elif state in self._gone and not self.failed:
            self.failed = f"connection {state.value_nick}"
            self._wake()

    def _on_rtcp(self, _session: Any, _buffer: Any) -> None:
        self.last_heard = time.monotonic()

    def _on_bye(self, _session: Any, _source: Any) -> None:
        if not self.failed:
            self.failed = "the peer said goodbye (RTCP BYE)"
            self._wake()

    def _on_feedback(self, _session: Any, kind: int, fbtype: int, *_rest: Any) -> None:
        if kind == RTCP_PSFB and fbtype in (PLI, FIR) and self.state == LIVE:
            self.request_keyframe()

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._on_keyframe()

    # -- access units (the encoder's streaming thread) ---------------------------------------
    def deliver(self, buffer: Any, is_key: bool, now: int) -> int:
        """Push one access unit if this viewer takes it now; returns the bytes pushed."""
        state, src = self.state, self.src
        if src is None:
            return 0
        action = deliver_action(state, is_key, False)
        if action == PUSH and src.get_property("current-level-bytes") >= self.queue_bytes:
            action = deliver_action(state, is_key, True)
        if action == SKIP:
            return 0
        if action == BEHIND:
            self.dropped += 1
            self.state = WAIT_KEY
            return 0
        out = buffer.copy()  # shallow: shares the encoded memory
        base = src.get_base_time()
        out.pts = out.dts = now - base if base and now > base else Gst.CLOCK_TIME_NONE
        if src.push_buffer(out) != Gst.FlowReturn.OK:
            if not self.failed:  # FLUSHING: the pipeline is going away
                self.failed = "pipeline stopped"
                self._wake()
            return 0
        if state == WAIT_KEY:
            self.state = LIVE
            if not self.first_frame_at:
                self.first_frame_at = time.monotonic()
        size = int(buffer.get_size())
        self.pushed += 1
        self.bytes += size
        return size

    # -- the reaper thread -------------------------------------------------------------------
    def poll_bus(self) -> None:
        """Drain the pipeline's bus (nothing else reads it), noting the first error."""
        pipeline = self.pipeline
        bus = pipeline.get_bus() if pipeline is not None else None
        while bus is not None:
            message = bus.pop()
            if message is None:
                break
            if message.type == Gst.MessageType.ERROR and not self.failed:
                error, _debug = message.parse_error()
                self.failed = f"{message.src.get_name()}: {error.message}"

    def silent_for(self, now: float) -> float:
        return now - self.last_heard

    # -- teardown (a WHEP worker, the reaper or stop; never webrtcbin's threads) --------------
    def close(self) -> None:
        """Release everything the viewer holds: handlers, the pipeline's threads and sockets,
        every Python reference to its elements (docs/gstreamer.md, fact 24). Idempotent."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            handlers, self._handlers = self._handlers, []
            pipeline, src = self.pipeline, self.src
            self.pipeline = self.src = self.webrtc = self._rtp_session = None
        for obj, handler_id in handlers:
            obj.disconnect(handler_id)
        handlers.clear()
        if src is not None:
            src.end_of_stream()
        if pipeline is not None:
            pipeline.set_state(Gst.State.NULL)
            pipeline.get_bus().set_flushing(True)
        self._gathered.set()
