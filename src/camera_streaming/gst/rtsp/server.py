"""The RTSP server: one gst-rtsp-server on one port with a `Mount` per stream, plus what is
shared by every mount: authentication, the session pool, and client policing (connections
that stopped reading, never set up a session, or outlived theirs).

One long-lived GLib timer, created once, does the periodic work: the session pool's cleanup
(sessions of vanished clients: docs/gstreamer.md, fact 10), closing idle or stalled
connections, and each mount's shared-media upkeep. Nothing is scheduled per client or per
frame (docs/gstreamer.md, fact 1).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Callable

from ...config.model import RtspConfig, VideoConfig
from ...errors import PortInUseError
from ..encoder import EncodedBranch
from ..runtime import GLib, Gst, GstRtsp, GstRtspServer, init
from .auth import make_auth
from .clients import ClientState, shutdown_client, stopped_reading
from .mount import Mount

log = logging.getLogger(__name__)

CLEANUP_INTERVAL_S = 2
CLIENT_THREADS = -1  # gst-rtsp-server thread pool: -1 = a thread per client connection


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
    """Serves each stream's encoder output at `rtsp://bind:port/<its path>` to any number of
    clients. `add_mount()` before `start()`; with `video` and `encoder` given, the server has
    one mount at `rtsp.path` (the single-stream form)."""

    def __init__(
        self,
        rtsp: RtspConfig,
        video: VideoConfig | None = None,
        encoder: EncodedBranch | None = None,
    ) -> None:
        self.cfg = rtsp
        self._lock = threading.Lock()
        self._clients: dict[Any, ClientState] = {}
        self._server: Any = None
        self._attach_id = 0
        self._cleanup_id = 0
        self._shared = rtsp.fanout == "shared"
        self._clock = Gst.SystemClock.obtain()  # the clock every media pipeline runs on
        self.mounts: dict[str, Mount] = {}
        # Clients served elsewhere that --max-clients counts too (WebRTC viewers).
        self.other_clients: Callable[[], int] = lambda: 0
        self.clients_connected = 0
        self.clients_closed = 0
        self.sessions_created = 0
        self.idle_closed = 0  # connections closed because they had no session for too long
        self.stalled_closed = 0  # connections closed because the client stopped reading
        if video is not None and encoder is not None:
            self.add_mount(rtsp.path, video, encoder)

    def add_mount(self, path: str, video: VideoConfig, encoder: EncodedBranch) -> Mount:
        mount = Mount(path, video, encoder, self._shared, self._clock)
        self.mounts[path] = mount
        return mount

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
        auth = make_auth(self.cfg.auth, dict(self.cfg.users), self.cfg.tls_cert, self.cfg.tls_key)
        if auth is not None:
            server.set_auth(auth)
        mount_points = server.get_mount_points()
        for path, mount in self.mounts.items():
            mount_points.add_factory(path, mount.make_factory(auth is not None, self.cfg.tls))
        server.connect("client-connected", self._on_client_connected)
        self._attach_id = server.attach(None)
        if not self._attach_id:
            raise PortInUseError(
                f"cannot listen on {self.cfg.bind}:{self.cfg.port}: choose another --port"
            )
        self._cleanup_id = GLib.timeout_add_seconds(CLEANUP_INTERVAL_S, self._on_cleanup_timer)
        self._server = server
        if self._shared:
            for mount in self.mounts.values():
                mount.start_anchor(self.cfg.port)
        log.info(
            "RTSP server listening at %s (%s fan-out)",
            ", ".join(self.cfg.url(path=p) for p in self.mounts),
            self.cfg.fanout,
        )

    def stop(self) -> None:
        """Stop accepting, close every client and session, forget every feed."""
        server = self._server
        if server is None:
            for mount in self.mounts.values():
                mount.encoder.remove_consumer(mount)
            return
        for source_id in (self._cleanup_id, self._attach_id):
            if source_id:
                GLib.source_remove(source_id)
        self._cleanup_id = self._attach_id = 0
        # Stop the data first: no more pushes, and each client media's appsrc flushing so its
        # streaming thread stops sending. Removing sessions while a media still sends raced
        # in gst-rtsp-server (`get_data_seq: 'data_seq' should not be NULL`, seen once in 4
        # stops right after 32 clients left, by the benchmark).
        for mount in self.mounts.values():
            mount.stop()
        # Sessions next: removing a session re-arms its client's control timer, and a client
        # finalized with that timer armed aborts (rtsp-client.c gst_rtsp_client_finalize);
        # closing the client afterwards disarms it.
        server.get_session_pool().filter(_remove_all)
        server.client_filter(_remove_all)
        mount_points = server.get_mount_points()
        for path in self.mounts:
            mount_points.remove_factory(path)
        with self._lock:
            self._clients.clear()
        self._server = None
        for mount in self.mounts.values():
            mount.release()

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
        return sum(m.live_feeds for m in self.mounts.values())

    @property
    def feeds(self) -> int:
        return sum(m.feeds for m in self.mounts.values())

    @property
    def anchored(self) -> int:
        """Shared medias held prepared by the server itself (one per mount when shared)."""
        return sum(m.anchored for m in self.mounts.values())

    @property
    def medias_configured(self) -> int:
        return sum(m.medias_configured for m in self.mounts.values())

    @property
    def medias_released(self) -> int:
        return sum(m.medias_released for m in self.mounts.values())

    @property
    def dropped(self) -> int:
        return sum(m.dropped for m in self.mounts.values())

    @property
    def bytes_sent(self) -> int:
        return sum(m.bytes_sent for m in self.mounts.values())

    @property
    def keyframe_requests(self) -> int:
        return sum(m.keyframe_requests for m in self.mounts.values())

    # -- gst-rtsp-server signals (GLib thread) -----------------------------------------------
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
        if self.cfg.max_clients:
            client.connect("pre-setup-request", self._on_pre_setup_request)

    def _on_client_closed(self, client: Any) -> None:
        self.clients_closed += 1
        with self._lock:
            self._clients.pop(client, None)
        for mount in self.mounts.values():
            mount.forget(client)

    def _on_new_session(self, client: Any, session: Any) -> None:
        self.sessions_created += 1
        session.set_timeout(self.cfg.session_timeout_s)
        state = self._clients.get(client)
        if state is not None:
            state.had_session = True

    def _on_pre_play_request(self, client: Any, ctx: Any) -> Any:
        media = ctx.media
        with self._lock:
            state = self._clients.get(client)
            if state is not None:
                state.played = True
        if media is not None:
            key = media.get_element().get_name()
            for mount in self.mounts.values():
                if mount.owns(key):
                    mount.play(client, key)
                    break
        return GstRtsp.RTSPStatusCode.OK

    def _on_pre_setup_request(self, _client: Any, ctx: Any) -> Any:
        """A new session is refused with 503 when it and the other clients (WebRTC viewers)
        would be more than --max-clients (the pool's own limit counts RTSP sessions only)."""
        if ctx.session is None and self.sessions + self.other_clients() >= self.cfg.max_clients:
            return GstRtsp.RTSPStatusCode.SERVICE_UNAVAILABLE
        return GstRtsp.RTSPStatusCode.OK

    def _on_teardown_request(self, client: Any, _ctx: Any) -> None:
        state = self._clients.get(client)
        if state is not None:
            state.played = False
        for mount in self.mounts.values():
            mount.forget(client)

    def _on_cleanup_timer(self) -> bool:
        server = self._server
        if server is not None:
            server.get_session_pool().cleanup()
            now = time.monotonic()
            self._close_idle_clients(now)
            for mount in self.mounts.values():
                mount.tick(now, self.cfg.port)
        return True

    def _close_idle_clients(self, now: float) -> None:
        """Close connections that have had no session for a while: a client whose session
        expired (it froze or vanished) after `post_session_timeout_s`, one that never set up
        a session after `session_timeout_s` (docs/gstreamer.md, fact 11)."""
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
