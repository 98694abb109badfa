"""The RTSP server: gst-rtsp-server with light medias (`appsrc ! rtph264pay`) fed with the one
encoder's access units, in one of two fan-outs (`--fanout`, docs/rtsp.md):

  per-client  a media per client: each has its own streaming and sending threads.
  shared      one media for every client, built and prepared by the server itself at start
              (the "anchor") and held prepared until stop, so the clients never tear it down:
              one streaming and one sending thread for all clients.

Why the anchor: stock gst-rtsp-server 1.22.0 aborts in `gst_rtsp_media_get_rates` under
concurrent client churn when a shared media is torn down by its last client while another
joins (GSTREAMER_NOTES 17). Held prepared, it is never torn down; churn tests cover both modes.

A client's feed goes through these states (`ClientFeed.state`):
  PRIMING   media configured (DESCRIBE): the next IDR is pushed so the media can preroll
  PRIMED    the stream is blocked until PLAY; nothing is pushed
  WAIT_KEY  PLAY seen: a keyframe was requested; deltas are skipped until it arrives
  LIVE      every access unit is pushed
A feed is dropped on the media's `unprepared` signal or when a push returns FLUSHING (the
client went away): no reference to a dead media or appsrc is kept (GSTREAMER_NOTES 8, 9).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from ...config.model import RtspConfig, VideoConfig
from ...errors import PortInUseError
from ..encoder import H264Encoder
from ..launch import client_media_launch, client_queue_bytes
from ..runtime import GLib, Gst, GstRtsp, GstRtspServer, init
from .auth import allow_viewers, make_auth
from .clients import ClientState, shutdown_client, stopped_reading

log = logging.getLogger(__name__)

PRIMING, PRIMED, WAIT_KEY, LIVE = "priming", "primed", "wait-key", "live"
CLEANUP_INTERVAL_S = 2
CLIENT_THREADS = -1  # gst-rtsp-server thread pool: -1 = a thread per client connection


class ClientFeed:
    """One client's media input. Touched by the encoder thread (push, PRIMING -> PRIMED and
    WAIT_KEY -> LIVE) and the GLib thread (-> WAIT_KEY); state changes take the server's lock,
    pushes in the LIVE state take none."""

    __slots__ = ("key", "appsrc", "state", "pushed", "dropped")

    def __init__(self, key: str, appsrc: Any) -> None:
        self.key = key
        self.appsrc = appsrc
        self.state = PRIMING
        self.pushed = 0
        self.dropped = 0


class SharedMediaFactory(GstRtspServer.RTSPMediaFactory):
    """A shared factory that maps every URL of its mount to one media: the default key has the
    query string in it, so `.../stream?x` would build a second media that nothing anchors."""

    def do_gen_key(self, _url: Any) -> str:
        return "anchored"


def check_port_free(address: str, port: int) -> None:
    """Raise `PortInUseError` if (address, port) cannot be bound for TCP."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
    except OSError as exc:
        raise PortInUseError.from_oserror(exc, "port", address, port, "--port", "--bind") from None
    finally:
        s.close()


class RtspServer:
    """Serves the encoder's output at `rtsp://bind:port/path` to any number of clients."""

    def __init__(self, rtsp: RtspConfig, video: VideoConfig, encoder: H264Encoder) -> None:
        self.cfg = rtsp
        self.video = video
        self.encoder = encoder
        self._lock = threading.Lock()
        self._feeds: dict[str, ClientFeed] = {}
        self._feed_list: tuple[ClientFeed, ...] = ()
        self._clients: dict[Any, ClientState] = {}
        self._server: Any = None
        self._factory: Any = None
        self._attach_id = 0
        self._cleanup_id = 0
        self._shared = rtsp.fanout == "shared"
        self._anchor: Any = None  # the prepared shared media (shared fan-out)
        self._anchoring: threading.Thread | None = None
        self._last_play = float("-inf")
        self._queue_bytes = client_queue_bytes(video)
        self._clock = Gst.SystemClock.obtain()  # the clock every media pipeline runs on
        self.clients_connected = 0
        self.clients_closed = 0
        self.sessions_created = 0
        self.medias_configured = 0
        self.medias_released = 0
        self.dropped = 0  # access units dropped because a client's queue was full
        self.bytes_sent = 0  # encoded bytes pushed into clients' media
        self.keyframe_requests = 0
        self.idle_closed = 0  # connections closed because they had no session for too long
        self.stalled_closed = 0  # connections closed because the client stopped reading

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        init()
        check_port_free(self.cfg.bind, self.cfg.port)
        server = GstRtspServer.RTSPServer()
        server.set_address(self.cfg.bind)
        server.set_service(str(self.cfg.port))
        # One thread (and main context) per connection, not one shared by all: gst-rtsp-server
        # parses a request line or header at ~1 us per byte, so a client sending a 1 MB header
        # would stall every other client's TCP stream for ~1 s (measured: docs/faults.md).
        server.get_thread_pool().set_max_threads(CLIENT_THREADS)
        pool = server.get_session_pool()
        if self.cfg.max_clients:
            pool.set_max_sessions(self.cfg.max_clients)
        factory = SharedMediaFactory() if self._shared else GstRtspServer.RTSPMediaFactory()
        factory.set_launch(client_media_launch(self.video))
        factory.set_shared(self._shared)
        auth = make_auth(self.cfg.auth, dict(self.cfg.users), self.cfg.tls_cert, self.cfg.tls_key)
        if auth is not None:
            server.set_auth(auth)
            allow_viewers(factory)
        if self.cfg.tls:  # RTSPS protects the control connection and interleaved RTP only
            factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        factory.connect("media-configure", self._on_media_configure)
        server.get_mount_points().add_factory(self.cfg.path, factory)
        server.connect("client-connected", self._on_client_connected)
        self._attach_id = server.attach(None)
        if not self._attach_id:
            raise PortInUseError(
                f"cannot listen on {self.cfg.bind}:{self.cfg.port}: choose another --port"
            )
        # One long-lived timer, created once: removes sessions whose clients vanished
        # (GSTREAMER_NOTES 10). Never one per client or per frame (GSTREAMER_NOTES 1).
        self._cleanup_id = GLib.timeout_add_seconds(CLEANUP_INTERVAL_S, self._on_cleanup_timer)
        self._server, self._factory = server, factory
        self.encoder.add_consumer(self)
        if self._shared:
            self._start_anchor()
        log.info("RTSP server listening at %s (%s fan-out)", self.cfg.url(), self.cfg.fanout)

    def stop(self) -> None:
        """Stop accepting, close every client and session, forget every feed."""
        self.encoder.remove_consumer(self)
        server = self._server
        if server is None:
            return
        for source_id in (self._cleanup_id, self._attach_id):
            if source_id:
                GLib.source_remove(source_id)
        self._cleanup_id = self._attach_id = 0
        # Stop the data first: no more pushes, and each client media's appsrc flushing so its
        # streaming thread stops sending. Removing sessions while a media still sends raced
        # in gst-rtsp-server (`get_data_seq: 'data_seq' should not be NULL`, seen once in 4
        # stops right after 32 clients left, by the benchmark).
        with self._lock:
            feeds = list(self._feeds.values())
            self._feeds.clear()
            self._feed_list = ()
        for feed in feeds:
            feed.appsrc.send_event(Gst.Event.new_flush_start())
        # Sessions next: removing a session re-arms its client's control timer, and a client
        # finalized with that timer armed aborts (rtsp-client.c gst_rtsp_client_finalize);
        # closing the client afterwards disarms it.
        server.get_session_pool().filter(_remove_all)
        server.client_filter(_remove_all)
        server.get_mount_points().remove_factory(self.cfg.path)
        with self._lock:
            self._clients.clear()
            anchoring = self._anchoring
        self._server = self._factory = None
        if anchoring is not None:
            anchoring.join(10)
        self._release_anchor()

    # -- figures -----------------------------------------------------------------------------
    @property
    def clients(self) -> int:
        """RTSP connections open now."""
        return len(self._clients)

    @property
    def sessions(self) -> int:
        server = self._server
        return server.get_session_pool().get_n_sessions() if server is not None else 0

    @property
    def live_feeds(self) -> int:
        return sum(1 for f in self._feed_list if f.state == LIVE)

    @property
    def feeds(self) -> int:
        return len(self._feed_list)

    @property
    def wants_frames(self) -> bool:
        return any(f.state != PRIMED for f in self._feed_list)

    # -- encoder output (encoder streaming thread) -------------------------------------------
    def deliver(self, buffer: Any, is_key: bool) -> None:
        now = self._clock.get_time()
        size = 0
        for feed in self._feed_list:
            state = feed.state
            if state == PRIMED or (not is_key and state != LIVE):
                continue
            appsrc = feed.appsrc
            if appsrc.get_property("current-level-bytes") >= self._queue_bytes:
                # The client cannot keep up. Dropping one access unit mid-GOP would corrupt
                # every frame until the next IDR, so skip to the next (natural) keyframe: the
                # client sees a freeze of at most one GOP, not garbage, and a slow client does
                # not force extra IDRs on everyone.
                feed.dropped += 1
                self.dropped += 1
                feed.state = WAIT_KEY
                continue
            out = buffer.copy()  # shallow: shares the encoded memory
            # Rebase to this media's running time. Before its pipeline runs (base time 0)
            # appsrc's do-timestamp stamps the priming keyframe when it is dequeued; it
            # cannot be left to do that for deltas (it stamps only keyframes' PTS).
            base = appsrc.get_base_time()
            out.pts = out.dts = now - base if base and now > base else Gst.CLOCK_TIME_NONE
            ret = appsrc.push_buffer(out)
            if ret != Gst.FlowReturn.OK:
                # FLUSHING/EOS: this client's media is being torn down - detach, not an error.
                self._drop_feed(feed.key)
                continue
            feed.pushed += 1
            size = size or buffer.get_size()
            self.bytes_sent += size
            if state == PRIMING:
                self._advance(feed, PRIMING, PRIMED)
            elif state == WAIT_KEY:
                self._advance(feed, WAIT_KEY, LIVE)

    def _advance(self, feed: ClientFeed, expected: str, new: str) -> None:
        """Move `feed` from `expected` to `new` unless the GLib thread changed it meanwhile:
        a PLAY (WAIT_KEY) landing while the priming keyframe was being pushed must not be
        overwritten with PRIMED, or the client never goes live (it gets one frame)."""
        with self._lock:
            if feed.state == expected:
                feed.state = new

    # -- gst-rtsp-server signals (GLib thread) -----------------------------------------------
    def _on_media_configure(self, _factory: Any, media: Any) -> None:
        element = media.get_element()
        key = element.get_name()
        feed = ClientFeed(key, element.get_by_name("src"))
        media.connect("unprepared", self._on_media_unprepared)
        with self._lock:
            self._feeds[key] = feed
            self._feed_list = tuple(self._feeds.values())
        self.medias_configured += 1
        self._request_keyframe()

    def _on_media_unprepared(self, media: Any) -> None:
        self.medias_released += 1
        self._drop_feed(media.get_element().get_name())
        with self._lock:
            if media is self._anchor:  # an error tore it down: the cleanup timer re-anchors
                self._anchor = None

    def _drop_feed(self, key: str) -> None:
        with self._lock:
            if self._feeds.pop(key, None) is not None:
                self._feed_list = tuple(self._feeds.values())

    def _on_client_connected(self, _server: Any, client: Any) -> None:
        self.clients_connected += 1
        # The client is held here until it closes, so the timer can close idle ones. (Not
        # `post-session-timeout`: on 1.22.0 it re-arms a timer on a client whose connection
        # is gone, and finalizing that client aborts the process - measured here.)
        with self._lock:
            self._clients[client] = ClientState(time.monotonic())
        client.connect("closed", self._on_client_closed)
        client.connect("new-session", self._on_new_session)
        client.connect("pre-play-request", self._on_pre_play_request)
        client.connect("teardown-request", self._on_teardown_request)

    def _on_client_closed(self, client: Any) -> None:
        self.clients_closed += 1
        with self._lock:
            self._clients.pop(client, None)

    def _on_new_session(self, client: Any, session: Any) -> None:
        self.sessions_created += 1
        session.set_timeout(self.cfg.session_timeout_s)
        state = self._clients.get(client)
        if state is not None:
            state.had_session = True

    def _on_pre_play_request(self, client: Any, ctx: Any) -> Any:
        media = ctx.media
        with self._lock:
            self._last_play = time.monotonic()
            state = self._clients.get(client)
            if state is not None:
                state.played = True
            feed = self._feeds.get(media.get_element().get_name()) if media is not None else None
            # A shared media already live keeps flowing to the others; the IDR asked for
            # below lets the newcomer start decoding.
            if feed is not None and not (self._shared and feed.state == LIVE):
                feed.state = WAIT_KEY
        if feed is not None:
            self._request_keyframe()
        return GstRtsp.RTSPStatusCode.OK

    def _on_teardown_request(self, client: Any, _ctx: Any) -> None:
        state = self._clients.get(client)
        if state is not None:
            state.played = False

    def _request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self.encoder.request_keyframe()

    # -- the shared media's anchor -------------------------------------------------------------
    def _start_anchor(self) -> None:
        """Build and prepare the shared media in a worker thread: `prepare()` blocks until the
        media prerolls on an IDR that the encoder thread delivers, with its bus served by the
        GLib thread, so it can run on neither (from the GLib thread it fails)."""
        with self._lock:
            if self._anchoring is not None or self._anchor is not None:
                return
            self._anchoring = threading.Thread(
                target=self._anchor_shared_media, name="rtsp-anchor", daemon=True
            )
            self._anchoring.start()

    def _anchor_shared_media(self) -> None:
        try:
            factory = self._factory
            res, url = GstRtsp.RTSPUrl.parse(f"rtsp://127.0.0.1:{self.cfg.port}{self.cfg.path}")
            media = factory.construct(url) if factory and res == GstRtsp.RTSPResult.OK else None
            if media is None or not media.prepare(None):
                log.warning("could not prepare the shared RTSP media; retrying")
                return
            with self._lock:
                stopped = self._server is None
                if not stopped:
                    self._anchor = media
            if stopped:
                media.unprepare()
            else:
                log.debug("shared RTSP media prepared")
        finally:
            with self._lock:
                self._anchoring = None

    def _release_anchor(self) -> None:
        with self._lock:
            media, self._anchor = self._anchor, None
        if media is not None:
            media.unprepare()

    def _idle_shared_feed(self, now: float) -> None:
        """Shared fan-out: once no client plays (none has sent PLAY without a TEARDOWN since,
        and none did in the last few seconds), stop pushing so that the encoder can stop; the
        next PLAY asks for an IDR and starts it again."""
        with self._lock:
            if now - self._last_play < 5 or any(c.played for c in self._clients.values()):
                return
            for feed in self._feed_list:
                if feed.state in (LIVE, WAIT_KEY):
                    feed.state = PRIMED

    def _on_cleanup_timer(self) -> bool:
        server = self._server
        if server is not None:
            server.get_session_pool().cleanup()
            now = time.monotonic()
            self._close_idle_clients(now)
            if self._shared:
                self._idle_shared_feed(now)
                if self._anchor is None:
                    self._start_anchor()
        return True

    def _close_idle_clients(self, now: float) -> None:
        """Close connections that have had no session for a while: a client whose session
        expired (it froze or vanished) after `post_session_timeout_s`, one that never set up
        a session after `session_timeout_s` (GSTREAMER_NOTES 11)."""
        with self._lock:
            clients = list(self._clients.items())
        for client, state in clients:
            if state.played and stopped_reading(client, state, now, self.cfg.session_timeout_s):
                # Over TCP a session never expires while its connection is open, and
                # gst-rtsp-server drops what does not fit the client's backlog: without this, a
                # client that stops reading would be kept forever.
                self.stalled_closed += 1
                log.info("closing an RTSP client that stopped reading")
                shutdown_client(client)
                continue
            if client.session_filter(None):
                state.idle_since = None
                continue
            if state.idle_since is None:
                state.idle_since = state.connected_at if not state.had_session else now
            limit = (
                self.cfg.post_session_timeout_s if state.had_session else self.cfg.session_timeout_s
            )
            if now - state.idle_since >= limit:
                self.idle_closed += 1
                shutdown_client(client)


def _remove_all(*_args: Any) -> Any:
    return GstRtspServer.RTSPFilterResult.REMOVE
