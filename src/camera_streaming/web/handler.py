"""One request on the HTTP port: authentication (`check_credentials`, `refuse`, shared by the
WebSocket and WHEP handlers), then the route the server has for the path, run on the loop or,
for the slow ones, in the server's worker pool. A route sees a `Request` and answers a `Reply`;
Tornado's own errors become one plain line, never a page or a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import tornado.web

from .auth import Authenticator, BadCredentials

if TYPE_CHECKING:
    from .http import HttpServer

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"


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


class PortHandler(tornado.web.RequestHandler):
    """What every handler on the port shares: its headers, no ETag, and Tornado's own errors
    (405, 400 on a bad argument, 500) as one plain line, never a page or a traceback. `ALLOW`
    is the Allow header of Tornado's 405 (None: none)."""

    ALLOW: str | None = "GET, HEAD"

    def set_default_headers(self) -> None:
        self.set_header("Server", "camera-streaming")
        self.set_header("Cache-Control", "no-store")

    def compute_etag(self) -> None:
        return None  # nothing is cached (no-store): no hash of every body

    def _plain(self, code: int, body: bytes) -> None:
        self.set_status(code)
        self.set_header("Content-Type", TEXT)
        self.finish(body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.clear()
        self.set_status(status_code)
        if status_code == 405 and self.ALLOW:
            self.set_header("Allow", self.ALLOW)
        self._plain(status_code, f"{status_code} {self._reason}\n".encode())


class RouteHandler(PortHandler):
    """Every path: authenticate in `prepare()`, then look the path up in the server's routes."""

    server: HttpServer

    def initialize(self, server: HttpServer) -> None:
        self.server = server
        self.brief = False  # an anonymous caller where the server has a brief answer

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


def log_request(handler: tornado.web.RequestHandler) -> None:
    req = handler.request
    log.debug(
        "http %s %s %s %d %.1f ms",
        req.remote_ip,
        req.method,
        req.uri,
        handler.get_status(),
        1000 * req.request_time(),
    )
