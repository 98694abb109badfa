"""The HTTP side port: `/metrics` (Prometheus), `/healthz`, `/api/status` (JSON),
`/snapshot.jpg`, `/`, the status page, and the browser view: `/view/<stream path>`, a player
page, fed over the WebSocket `/<stream path>/ws` (web/mse/); over TLS when given a
certificate, behind the RTSP users when given an auth method (docs/web.md, docs/browser.md).

It only serialises what it is handed (snapshots, the memory history, JPEG bytes); it never
touches GStreamer. Tornado serves on an asyncio loop in one thread, `http`; a route that may
take a while (the snapshot's JPEG encode) runs in a pool of at most two threads, `http-worker`,
started on first use, so it never holds up the loop. `stop()` closes the listening sockets and
every open connection, then joins the threads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

import tornado.httpserver
import tornado.netutil
import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector

from ..config.model import HttpConfig
from ..errors import ConfigError, PortInUseError
from ..telemetry.stats import Snapshot
from .auth import METHODS, Authenticator
from .handler import TEXT, Reply, Request, Route, RouteHandler, log_request
from .metrics import SnapshotCollector, healthy, status_json
from .page import render_page
from .view import view_reply

if TYPE_CHECKING:
    from .mse.feed import MseFeed

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 15.0  # a connection silent this long (before or between requests) is closed
MAX_BODY = 1 << 20  # request bodies (none are read yet; SOAP and SDP offers are a few KB)
WORKERS = 2


class StatusSource(Protocol):
    """What the HTTP server reads; `service.Streamer` provides it."""

    def snapshot(self) -> Snapshot: ...

    def memory_history(self) -> list[tuple[float, int, int | None]]: ...

    def snapshot_jpeg(self, camera: str | None = None) -> bytes | None: ...

    def describe(self) -> Mapping[str, Any]: ...

    def mse_feed(self, path: str) -> MseFeed | None: ...


class HttpServer:
    """`start()` binds (raising `PortInUseError`) and serves in thread `http`; `stop()` joins.

    `auth` ("none", "basic", "digest") and `users` put every route behind those users (the
    RTSP ones), except that `/healthz` still tells an anonymous caller `ok` / `not ok` and
    `/metrics` also takes Basic when the method is Digest. `tls_cert` and `tls_key` (PEM files)
    serve https instead of http.
    """

    def __init__(
        self,
        cfg: HttpConfig,
        source: StatusSource,
        *,
        auth: str = "none",
        users: Mapping[str, str] | None = None,
        tls_cert: str = "",
        tls_key: str = "",
    ) -> None:
        if auth not in METHODS:
            raise ConfigError("auth", f"must be one of {', '.join(METHODS)}, got {auth!r}")
        if auth != "none" and not users:
            raise ConfigError("auth", f"{auth} needs users")
        if bool(tls_cert) != bool(tls_key):
            raise ConfigError("tls-cert", "--tls-cert and --tls-key go together")
        self.cfg = cfg
        self.source = source
        self.auth = Authenticator(auth, users or {}) if auth != "none" else None
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(source))  # type: ignore[arg-type]
        self.registry.register(ProcessCollector(registry=None))
        self.routes: dict[str, Route] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/api/status": self._status,
            "/snapshot.jpg": self._snapshot,
            "/": self._page,
            "/index.html": self._page,
        }
        self.prefix_routes: list[tuple[str, Route]] = [("/view/", self._view)]  # longest first
        self.post_routes: dict[str, Route] = {}
        # Routes that authenticate by themselves (ONVIF's WS-Security): HTTP auth is not
        # demanded there; what it found is passed on as `Request.user`.
        self.own_auth: set[str] = set()
        # What a caller without credentials still gets when auth is on.
        self.anonymous: dict[str, Route] = {"/healthz": self._healthz_brief}
        # Routes that may take a while (a JPEG encode): run in the pool, not on the loop.
        self.blocking = frozenset({"/snapshot.jpg"})
        # Where Basic is taken besides Digest (Prometheus' basic_auth sends nothing else).
        self.basic_too = frozenset({"/metrics"})
        # More Tornado handlers, (pattern, class, kwargs), tried before the catch-all (WHEP).
        self.handlers: list[tuple[str, Any, dict[str, Any]]] = []
        self.pool: ThreadPoolExecutor | None = None
        self._sockets: list[socket.socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Open WebSockets (web/mse/websocket.py): once upgraded they are no longer the HTTP
        # server's connections, so `stop()` closes them itself. Touched on the loop only.
        self.websockets: set[Any] = set()

    def get_route(self, path: str) -> Route | None:
        route = self.routes.get(path)
        if route is None:
            for prefix, candidate in self.prefix_routes:
                if path.startswith(prefix):
                    return candidate
        return route

    def add_prefix_route(self, prefix: str, route: Route) -> None:
        self.prefix_routes.append((prefix, route))
        self.prefix_routes.sort(key=lambda pr: -len(pr[0]))

    @property
    def port(self) -> int:
        return int(self._sockets[0].getsockname()[1]) if self._sockets else self.cfg.port

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    def start(self) -> None:
        tls = self._tls_context() if self.tls_cert else None
        try:
            sockets = tornado.netutil.bind_sockets(self.cfg.port, self.cfg.bind or None)
        except OSError as exc:
            raise PortInUseError.from_oserror(
                exc,
                "HTTP port",
                self.cfg.bind,
                self.cfg.port,
                "--http-port (or --no-http)",
                "--http-bind",
            ) from None
        self._sockets = sockets
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="http-worker")
        loop = self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failed: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(loop, tls, ready, failed), name="http", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failed:
            self.stop()
            raise failed[0]
        log.info(
            "HTTP on %s://%s:%d/ (%s)",
            self.scheme,
            self.cfg.bind,
            self.port,
            f"auth {self.auth.method}" if self.auth else "no auth",
        )

    def _tls_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                "tls-cert", f"cannot load {self.tls_cert} / {self.tls_key}: {exc}"
            ) from None
        return ctx

    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        tls: ssl.SSLContext | None,
        ready: threading.Event,
        failed: list[BaseException],
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._serve(tls))
            except BaseException as exc:
                failed.append(exc)
                return
            finally:
                ready.set()
            loop.run_forever()
        finally:
            try:
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve(self, tls: ssl.SSLContext | None) -> None:
        from .mse.websocket import websocket_route

        app = tornado.web.Application(
            [websocket_route(self), *self.handlers, (r".*", RouteHandler, {"server": self})],
            log_function=log_request,
            compress_response=False,
        )
        server = tornado.httpserver.HTTPServer(
            app,
            ssl_options=tls,
            idle_connection_timeout=IDLE_TIMEOUT_S,
            body_timeout=IDLE_TIMEOUT_S,
            max_body_size=MAX_BODY,
        )
        server.add_sockets(self._sockets)
        self._server = server

    async def _close(self, timeout: float) -> None:
        server = self._server
        if server is None:
            return
        from .mse.websocket import close_websockets

        server.stop()  # no new connections; the listening sockets are closed
        await close_websockets(self.websockets, timeout / 2)
        try:
            await asyncio.wait_for(server.close_all_connections(), timeout / 2)
        except asyncio.TimeoutError:
            log.warning("HTTP connections still open after %.1f s at stop", timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Close every connection and join the threads, in about `timeout` seconds at most
        (plus a route call in progress, which is bounded: a JPEG encode)."""
        loop, thread, pool = self._loop, self._thread, self.pool
        self._loop = self._thread = self.pool = None
        deadline = time.monotonic() + timeout
        if loop is not None and thread is not None and thread.is_alive():
            try:
                done = asyncio.run_coroutine_threadsafe(self._close(timeout / 2), loop)
                done.result(timeout)
            except Exception:
                log.warning("HTTP server did not close cleanly", exc_info=True)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(max(0.1, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("HTTP thread still running %.1f s after stop", timeout)
        for sock in self._sockets:
            sock.close()  # already closed by the server unless start() failed
        self._sockets = []
        self._server = None
        if pool is not None:
            pool.shutdown(wait=True)

    # -- routes ------------------------------------------------------------------------------
    def _metrics(self, _req: Request | None = None) -> Reply:
        return 200, generate_latest(self.registry), CONTENT_TYPE_LATEST

    def _healthz(self, _req: Request | None = None) -> Reply:
        s = self.source.snapshot()
        if healthy(s, self.cfg.health_timeout_s):
            return 200, f"ok: last frame {s.last_frame_age_s:.1f} s ago\n".encode(), TEXT
        age = "never" if s.last_frame_age_s is None else f"{s.last_frame_age_s:.1f} s ago"
        return 503, f"unhealthy: no frame for {self.cfg.health_timeout_s:g} s " \
                    f"(last: {age})\n".encode(), TEXT  # fmt: skip

    def _healthz_brief(self, _req: Request | None = None) -> Reply:
        if healthy(self.source.snapshot(), self.cfg.health_timeout_s):
            return 200, b"ok\n", TEXT
        return 503, b"not ok\n", TEXT

    def _status(self, _req: Request | None = None) -> Reply:
        body = json.dumps(status_json(self.source, self.cfg.health_timeout_s))
        return 200, body.encode(), "application/json"

    def _snapshot(self, req: Request) -> Reply:
        """`/snapshot.jpg` (the first camera) or `/snapshot.jpg?camera=NAME`."""
        jpeg = self.source.snapshot_jpeg(req.query.get("camera"))
        if jpeg is None:
            return 503, b"no frame yet\n", TEXT
        return 200, jpeg, "image/jpeg"

    def _page(self, _req: Request | None = None) -> Reply:
        status = status_json(self.source, self.cfg.health_timeout_s)
        return 200, render_page(status).encode(), "text/html; charset=utf-8"

    def _view(self, req: Request) -> Reply:
        return view_reply(self.source.describe(), req.path, req.query)
