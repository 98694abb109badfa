"""WHEP on the HTTP port, as MediaMTX serves it: `POST /<stream path>/whep` with an SDP offer
answers `201 Created` with the SDP answer (every candidate in it: no trickle) and a
`Location` naming the session, `/<stream path>/whep/<id>`; `DELETE` on it ends the session.
`OPTIONS` answers CORS preflights without credentials; everything else takes the port's users.

`WhepService` keeps the viewers: it counts them against `--max-clients` together with the
RTSP sessions, builds and answers each on a worker thread (`whep-worker`, at most four: an
answer waits for ICE gathering), and one reaper thread (`webrtc-reaper`) drops viewers that
failed or went silent (no RTCP for `[webrtc] timeout`: a peer that vanished without a DELETE
is otherwise never noticed, docs/gstreamer.md fact 25). No GLib source is made per viewer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ...config.checks import udp_port_range
from ...config.model import WebRtcConfig
from ...gst.launch import client_queue_bytes
from ..handler import TEXT, PortHandler, check_credentials, refuse
from ..http import HttpServer
from .feed import WebRtcFeed
from .sdp import OfferError, choose_payload, parse_offer

log = logging.getLogger(__name__)

WORKERS = 4
REAP_PERIOD_S = 0.5
NEEDED = ("webrtcbin", "nicesrc", "nicesink", "dtlsdec", "srtpenc", "rtph264pay")
PATTERN = r"/(.+)/whep(?:/([^/]+))?"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = TEXT
    headers: dict[str, str] = field(default_factory=dict)


def _text(status: int, reason: str) -> Reply:
    return Reply(status, reason.encode() + b"\n")


class WhepService:
    """The WebRTC viewers of every H.264 stream in `streams` (each with `.path`, `.video` and
    `.encoder`). `start()` before the HTTP port opens, `stop()` after it closed."""

    def __init__(
        self,
        cfg: WebRtcConfig,
        streams: Iterable[Any],
        max_clients: int = 0,
        other_clients: Callable[[], int] = lambda: 0,
    ) -> None:
        from ...gst.runtime import Gst, init

        init()
        self.cfg = cfg
        self.max_clients = max_clients
        self._other_clients = other_clients  # RTSP sessions: --max-clients counts both
        self.origins = tuple(o.strip() for o in cfg.allow_origin.split(",") if o.strip())
        self._clock = Gst.SystemClock.obtain()
        self.feeds: dict[str, WebRtcFeed] = {}
        self.refused: dict[str, str] = {}  # path -> why it cannot be played over WebRTC
        for stream in streams:
            if stream.encoder is None:
                continue
            if stream.video.codec != "h264":
                self.refused[stream.path] = f"{stream.path} is {stream.video.codec.upper()}: " \
                                            "WebRTC plays H.264 streams only"  # fmt: skip
                continue
            feed = WebRtcFeed(
                stream.path, stream.encoder, self._clock, client_queue_bytes(stream.video)
            )
            self.feeds[stream.path] = feed
            stream.webrtc = feed
        missing = [n for n in NEEDED if Gst.ElementFactory.find(n) is None]
        self.unavailable = (
            f"WebRTC is unavailable: GStreamer element(s) {', '.join(missing)} missing "
            "(install gstreamer1.0-nice and gstreamer1.0-plugins-bad)"
            if missing else ""
        )  # fmt: skip
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[Any, WebRtcFeed]] = {}
        self._pending = 0
        self._stopping = False
        self._wake = threading.Event()
        self.pool: ThreadPoolExecutor | None = None
        self._reaper: threading.Thread | None = None

    @property
    def viewers(self) -> int:
        return len(self._sessions)

    def start(self) -> None:
        if self.unavailable:
            log.warning("%s", self.unavailable)
            return
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="whep-worker")
        self._reaper = threading.Thread(target=self._reap_loop, name="webrtc-reaper", daemon=True)
        self._reaper.start()

    def stop(self) -> None:
        """End every viewer; join the reaper and the workers (an answer in progress finishes,
        within its gathering timeout, and is then closed too)."""
        with self._lock:
            self._stopping = True
        self._wake.set()
        if self._reaper is not None:
            self._reaper.join(5)
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        for sid in list(self._sessions):
            self._end(sid, by_viewer=False, reason="stopping")

    # -- requests (the HTTP loop checks, a worker answers) -----------------------------------
    def check(self, path: str, content_type: str, offer: bytes) -> Reply | int:
        """The quick checks, on the HTTP loop: a refusal, or the payload type to answer."""
        feed = self.feeds.get(path)
        if feed is None:
            reason = self.refused.get(path)
            return _text(400, reason) if reason else _text(404, f"no stream at {path}")
        if self.unavailable:
            return _text(503, self.unavailable)
        if content_type.split(";")[0].strip().lower() != "application/sdp":
            return _text(415, "the offer must be sent as Content-Type: application/sdp")
        try:
            return choose_payload(parse_offer(offer.decode("utf-8")))
        except UnicodeDecodeError:
            return _text(400, "the offer is not UTF-8 text")
        except OfferError as exc:
            return _text(400, str(exc))

    def reserve(self) -> Reply | None:
        """Hold a place for one more viewer, or the 503 when every place is taken."""
        with self._lock:
            if self._stopping:
                return _text(503, "stopping")
            taken = len(self._sessions) + self._pending + self._other_clients()
            if self.max_clients and taken >= self.max_clients:
                return _text(503, f"too many clients (max-clients {self.max_clients})")
            self._pending += 1
        return None

    def open(self, path: str, offer: str, pt: int, peer: str) -> Reply:
        """A worker: build the viewer's pipeline and answer its offer (a place is reserved)."""
        from .session import AnswerError, IceOptions, NoCandidates, WebRtcSession, host_addresses

        started = time.monotonic()
        feed = self.feeds[path]
        sid = uuid.uuid4().hex
        session = None
        try:
            ice = IceOptions(udp_port_range(self.cfg.udp_ports), self.cfg.stun, self.cfg.turn,
                             host_addresses(peer, offer))  # fmt: skip
            session = WebRtcSession(
                sid, pt, feed.queue_bytes, self._clock,
                feed.request_keyframe, self._wake.set, ice,
            )  # fmt: skip
            answer = session.answer(offer)
        except AnswerError as exc:
            reply = _text(400, str(exc))
        except NoCandidates as exc:
            reply = _text(503, str(exc))
        except Exception:
            log.exception("webrtc: answering an offer for %s failed", path)
            reply = _text(500, "could not answer the offer")
        else:
            with self._lock:
                self._pending -= 1
                stopping = self._stopping
                if not stopping:
                    self._sessions[sid] = (session, feed)
                    feed.add(session)
            if stopping:
                session.close()
                return _text(503, "stopping")
            log.info("webrtc viewer %s of %s from %s (answered in %.0f ms)", sid[:8], path,
                     peer, 1000 * (time.monotonic() - started))  # fmt: skip
            location = f"{path}/whep/{sid}"
            return Reply(201, answer.encode(), "application/sdp", {"Location": location})
        with self._lock:
            self._pending -= 1
        if session is not None:
            session.close()
        return reply

    def delete(self, path: str, sid: str) -> Reply:
        entry = self._sessions.get(sid)
        if entry is None or entry[1].path != path:
            return _text(404, "no such session")
        self._end(sid, by_viewer=True, reason="DELETE")
        return _text(200, "ok")

    def _end(self, sid: str, by_viewer: bool, reason: str) -> None:
        with self._lock:
            entry = self._sessions.pop(sid, None)
        if entry is None:
            return
        session, feed = entry
        feed.remove(session, by_viewer)
        session.close()
        log.info("webrtc viewer %s of %s gone: %s", sid[:8], feed.path, reason)

    # -- the reaper --------------------------------------------------------------------------
    def _reap_loop(self) -> None:
        from ...gst.runtime import Gst

        # The DTLS certificate is made once per process, on the first DTLS element: 0.3-1 s
        # that the first viewer would otherwise wait (docs/gstreamer.md, fact 26).
        Gst.ElementFactory.make("dtlsdec", None)
        while not self._stopping:
            self._wake.wait(REAP_PERIOD_S)
            self._wake.clear()
            try:
                self._reap(time.monotonic())
            except Exception:  # the reaper must outlive any one viewer's trouble
                log.exception("webrtc: reaping viewers failed")

    def _reap(self, now: float) -> None:
        for sid, (session, _feed) in list(self._sessions.items()):
            session.poll_bus()
            reason = session.failed
            if not reason and session.silent_for(now) > self.cfg.timeout_s:
                reason = f"no RTCP for {session.silent_for(now):.1f} s"
            if reason:
                self._end(sid, by_viewer=False, reason=reason)


class WhepHandler(PortHandler):
    """`/<path>/whep` and `/<path>/whep/<id>`."""

    ALLOW = None  # its own 405s name the methods (`_not_allowed`)
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "OPTIONS", "PATCH")

    def initialize(self, server: HttpServer, whep: WhepService) -> None:
        self.server = server
        self.whep = whep
        self.set_default_headers()  # again: Tornado sets them before initialize()

    def set_default_headers(self) -> None:
        super().set_default_headers()
        whep = getattr(self, "whep", None)
        if whep is None:
            return
        origins = whep.origins
        origin = self.request.headers.get("Origin")
        if "*" in origins:
            self.set_header("Access-Control-Allow-Origin", "*")
        elif origin and origin in origins:
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Vary", "Origin")
        self.set_header("Access-Control-Expose-Headers", "Location")

    def prepare(self) -> None:
        auth = self.server.auth
        if auth is None or self.request.method == "OPTIONS":
            return  # a CORS preflight carries no credentials (Fetch standard)
        verdict = check_credentials(self, auth)
        if verdict is not None and not verdict.ok:
            refuse(self, auth, verdict.stale)

    def _send(self, reply: Reply) -> None:
        self.set_status(reply.status)
        self.set_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.set_header(name, value)
        self.finish(reply.body)

    def _allowed(self, sid: str | None) -> str:
        return "DELETE, OPTIONS" if sid else "POST, OPTIONS"

    def _not_allowed(self, sid: str | None) -> None:
        self._send(Reply(405, b"405 Method Not Allowed\n", TEXT, {"Allow": self._allowed(sid)}))

    async def post(self, path: str, sid: str | None) -> None:
        if sid:
            self._not_allowed(sid)
            return
        whep, req = self.whep, self.request
        checked = whep.check("/" + path, req.headers.get("Content-Type", ""), req.body or b"")
        if isinstance(checked, Reply):
            self._send(checked)
            return
        refused = whep.reserve()
        if refused is not None:
            self._send(refused)
            return
        loop = asyncio.get_running_loop()
        offer = (req.body or b"").decode("utf-8")
        reply = await loop.run_in_executor(
            whep.pool, whep.open, "/" + path, offer, checked, req.remote_ip or ""
        )
        self._send(reply)

    async def delete(self, path: str, sid: str | None) -> None:
        if not sid:
            self._not_allowed(sid)
            return
        whep = self.whep
        if whep.pool is None:
            self._send(_text(404, "no such session"))
            return
        loop = asyncio.get_running_loop()
        self._send(await loop.run_in_executor(whep.pool, whep.delete, "/" + path, sid))

    def options(self, path: str, sid: str | None) -> None:
        allowed = self._allowed(sid)
        self.set_status(204)
        self.set_header("Allow", allowed)
        self.set_header("Access-Control-Allow-Methods", allowed)
        self.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
        self.set_header("Access-Control-Max-Age", "600")
        self.finish()

    async def get(self, path: str, sid: str | None) -> None:
        self._not_allowed(sid)

    async def head(self, path: str, sid: str | None) -> None:
        self._not_allowed(sid)

    async def patch(self, path: str, sid: str | None) -> None:
        self._not_allowed(sid)  # no trickle ICE: the answer carries every candidate


def add_whep(http: HttpServer, whep: WhepService) -> None:
    """Route `/<path>/whep[/<id>]` to `whep` on the HTTP port (before its catch-all)."""
    http.handlers.append((PATTERN, WhepHandler, {"server": http, "whep": whep}))
