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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

import tornado.httpserver
import tornado.netutil
import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector

from ..config.model import HttpConfig
from ..errors import ConfigError, PortInUseError
from ..telemetry.stats import Snapshot
from .auth import METHODS, Authenticator, BadCredentials
from .metrics import SnapshotCollector, healthy, status_json
from .page import render_page
from .view import view_reply

if TYPE_CHECKING:
    from .mse.feed import MseFeed

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"
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


@dataclass(frozen=True)
class Request:
    """What a route sees of a request."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    host: str  # the Host header: the address the client reached us at
    user: str | None  # the user HTTP authentication found, if any


# (status, body, content type) or (status, body, content type, extra headers)
Reply = tuple  # type: ignore[type-arg]
Route = Callable[[Request], Reply]


class _Handler(tornado.web.RequestHandler):
    """Every path: authenticate in `prepare()`, then look the path up in the server's routes."""

    server: HttpServer

    def initialize(self, server: HttpServer) -> None:
        self.server = server
        self.brief = False  # an anonymous caller where the server has a brief answer

    def set_default_headers(self) -> None:
        self.set_header("Server", "camera-streaming")
        self.set_header("Cache-Control", "no-store")

    def compute_etag(self) -> None:
        return None  # nothing is cached (no-store): no hash of every body

    def prepare(self) -> None:
        self.user: str | None = None
        auth = self.server.auth
        if auth is None:
            return
        req = self.request
        verdict = check_credentials(self, auth, basic_too=req.path in self.server.basic_too)
        if verdict is None:
            return  # 400 sent
        self.user = verdict.user
        if verdict.ok or req.path in self.server.own_auth:
            return  # (a route that authenticates by itself gets the verdict as `user`)
        if req.path in self.server.anonymous:
            self.brief = True
            return
        refuse(self, auth, verdict.stale)

    async def get(self) -> None:
        srv = self.server
        path = self.request.path
        route = srv.anonymous.get(path) if self.brief else srv.get_route(path)
        if route is None and path in srv.post_routes:
            self._not_allowed("POST")
            return
        await self._answer(route)

    async def head(self) -> None:
        await self.get()  # Tornado sends the headers and Content-Length, not the body

    async def post(self) -> None:
        srv = self.server
        route = srv.post_routes.get(self.request.path)
        if route is None and srv.get_route(self.request.path) is not None:
            self._not_allowed("GET, HEAD")
            return
        await self._answer(route)

    def _not_allowed(self, allow: str) -> None:
        self.set_status(405)
        self.set_header("Allow", allow)
        self.set_header("Content-Type", TEXT)
        self.finish(b"405 Method Not Allowed\n")

    async def _answer(self, route: Route | None) -> None:
        if route is None:
            self._plain(404, b"not found\n")
            return
        srv, req = self.server, self.request
        request = Request(
            method=req.method or "GET",
            path=req.path,
            query={k: v[-1].decode("utf-8", "replace") for k, v in req.query_arguments.items()},
            headers=req.headers,
            body=req.body or b"",
            host=req.host or "",
            user=self.user,
        )
        try:
            if req.path in srv.blocking:
                loop = asyncio.get_running_loop()
                reply = await loop.run_in_executor(srv.pool, route, request)
            else:
                reply = route(request)
        except Exception:
            log.exception("HTTP handler for %s failed", req.path)
            self._plain(500, b"internal error\n")
            return
        code, body, ctype, *extra = reply
        self.set_status(code)
        self.set_header("Content-Type", ctype)
        for name, value in (extra[0] if extra else {}).items():
            self.set_header(name, value)
        if (
            code == 401
            and srv.auth is not None
            and "WWW-Authenticate" not in (extra[0] if extra else {})
        ):
            self.set_header("WWW-Authenticate", srv.auth.challenge(stale=False))
        self.finish(body)

    def _plain(self, code: int, body: bytes) -> None:
        self.set_status(code)
        self.set_header("Content-Type", TEXT)
        self.finish(body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Tornado's own errors (405, 400 on a bad argument, 500): one plain line, no page and
        never a traceback."""
        self.clear()
        self.set_status(status_code)
        if status_code == 405:
            self.set_header("Allow", "GET, HEAD")
        self.set_header("Content-Type", TEXT)
        self.finish(f"{status_code} {self._reason}\n".encode())

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, tornado.web.HTTPError):
            log.debug("http %s: %s", self.request.remote_ip, value)
        else:
            log.error("HTTP handler for %s failed", self.request.path, exc_info=(typ, value, tb))


def check_credentials(
    handler: tornado.web.RequestHandler, auth: Authenticator, basic_too: bool = False
) -> Any:
    """The verdict on a request's credentials (`.ok`, `.user`, `.stale`); None when they do
    not parse, after answering 400. Shared by every handler on the port."""
    req = handler.request
    try:
        return auth.check(
            req.method or "GET",
            req.uri or "/",
            _utf8(req.headers.get("Authorization")),
            basic_too=basic_too,
        )
    except BadCredentials as exc:
        log.debug("http %s: bad credentials: %s", req.remote_ip, exc)
        handler.set_status(400)
        handler.set_header("Content-Type", TEXT)
        handler.finish(b"bad credentials\n")
        return None


def refuse(handler: tornado.web.RequestHandler, auth: Authenticator, stale: bool) -> None:
    """Answer 401 with the server's challenge."""
    handler.set_status(401)
    handler.set_header("WWW-Authenticate", auth.challenge(stale=stale))
    handler.set_header("Content-Type", TEXT)
    handler.finish(b"unauthorized\n")


def _utf8(header: str | None) -> str | None:
    """Tornado reads header bytes as Latin-1; clients send a Digest user name in UTF-8."""
    if header is None or header.isascii():
        return header
    try:
        return header.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header


def _log_request(handler: tornado.web.RequestHandler) -> None:
    req = handler.request
    log.debug(
        "http %s %s %s %d %.1f ms",
        req.remote_ip,
        req.method,
        req.uri,
        handler.get_status(),
        1000 * req.request_time(),
    )


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
            [websocket_route(self), *self.handlers, (r".*", _Handler, {"server": self})],
            log_function=_log_request,
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
