"""`/<stream path>/ws`: a stream's fMP4 fragments to one browser over a WebSocket.

Protocol (server to browser only; what the browser sends is ignored):

  1. a text message, JSON: {"codec": "avc1.64001f", "width": 1280, "height": 720, "fps": 30,
     "path": "/stream"}, the codecs parameter for `MediaSource.addSourceBuffer`;
  2. a binary message: the init segment (ftyp + moov);
  3. binary messages, one fMP4 fragment (moof + mdat, one access unit) each, the first a
     keyframe. A message may start with a new init segment (the encoder was rebuilt).

The upgrade goes through the same HTTP authentication as every other route (401 with the
challenge before it). A path that is no stream is upgraded and closed with 4404, a stream the
browser cannot play over MSE (H.265) with 4415; the server stopping closes with 1001.

Threads: the feed calls `_wake` on the encoder's thread; it hands over to the event loop with
`call_soon_threadsafe`, at most once until the loop has run `_flush` (a flag coalesces the
calls). `_flush` writes what is queued while less than `MAX_IN_FLIGHT` bytes wait in Tornado's
write buffer (the kernel's send buffer is fixed at `SEND_BUFFER`); beyond that the fragments
stay in the viewer's bounded queue, which drops and restarts at the next keyframe when full:
a slow browser never holds up the others, the RTSP clients or the encoder. One that stops
reading altogether is closed when it has not answered a ping for `PING_S`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
from typing import TYPE_CHECKING

import tornado.web
import tornado.websocket

from ..handler import PortHandler, check_credentials, refuse

if TYPE_CHECKING:
    from ..http import HttpServer
    from .feed import MseFeed, Viewer

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 512 << 10  # bytes written but not yet taken by the socket
# The kernel's send buffer, fixed: autotuned it grows to tcp_wmem's 4 MB per connection (25 s
# of a 1 Mbit/s stream for a viewer that stopped reading) before a fragment is ever dropped;
# 256 KiB (the kernel doubles it) is still a second of a 4 Mbit/s stream in flight.
SEND_BUFFER = 256 << 10
PING_S = 10.0  # a browser that does not answer a ping within this is gone
MAX_MESSAGE = 4096  # browsers send nothing; a larger message closes the connection
NO_STREAM, UNPLAYABLE, GOING_AWAY = 4404, 4415, 1001


class MseWebSocket(tornado.websocket.WebSocketHandler, PortHandler):
    ALLOW = "GET"
    server: HttpServer

    def initialize(self, server: HttpServer) -> None:
        self.server = server
        self.feed: MseFeed | None = None
        self.viewer: Viewer | None = None
        self.conn: tornado.websocket.WebSocketProtocol | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._pending = False  # a flush is scheduled on the loop
        self._in_flight = 0  # bytes handed to Tornado whose write has not completed
        self._blocked = False  # the last flush stopped at MAX_IN_FLIGHT

    def prepare(self) -> None:
        """The same check as every HTTP route (`RouteHandler.prepare`): 400 on credentials that
        do not parse, 401 with the challenge on none or wrong ones; before the upgrade."""
        auth = self.server.auth
        if auth is None:
            return
        verdict = check_credentials(self, auth)
        if verdict is not None and not verdict.ok:  # (None: 400 sent)
            refuse(self, auth, verdict.stale)

    # -- WebSocket settings ------------------------------------------------------------------
    def get_compression_options(self) -> None:
        return None  # video does not compress; deflate would only cost CPU

    @property
    def ping_interval(self) -> float:
        return PING_S

    @property
    def ping_timeout(self) -> float:
        return PING_S

    @property
    def max_message_size(self) -> int:
        return MAX_MESSAGE

    # -- connection (event loop) -------------------------------------------------------------
    def open(self, path: str) -> None:
        self.server.websockets.add(self)
        self.conn = self.ws_connection
        self.loop = asyncio.get_running_loop()
        feed = self.server.source.mse_feed("/" + path)
        if feed is None:
            self.close(NO_STREAM, "no such stream")
            return
        if not feed.playable:
            self.close(UNPLAYABLE, "not H.264: browsers cannot play it over MSE")
            return
        self.set_nodelay(True)  # each fragment leaves at once
        if self.conn is not None and self.conn.stream is not None:
            self.conn.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self.feed = feed
        self.viewer = feed.add_viewer(self._wake)
        log.debug("ws %s: viewer of /%s joined", self.request.remote_ip, path)

    def on_message(self, message: str | bytes) -> None:
        pass  # nothing is asked of the browser

    def on_close(self) -> None:
        self.server.websockets.discard(self)
        feed, viewer = self.feed, self.viewer
        self.feed = self.viewer = None
        if feed is not None and viewer is not None:
            feed.remove_viewer(viewer)
            log.debug(
                "ws %s: viewer of %s left (%d fragments, %d dropped)",
                self.request.remote_ip,
                self.request.path,
                viewer.sent_units,
                viewer.dropped,
            )
        self.conn = None

    def abort(self) -> None:
        """Cut the connection now (`stop()`, for a browser that did not answer the close)."""
        conn = self.conn
        if conn is not None and conn.stream is not None:
            conn.stream.close()

    # -- sending -----------------------------------------------------------------------------
    def _wake(self) -> None:
        """Encoder thread: a fragment was queued for this viewer."""
        if self._pending:
            return
        self._pending = True
        loop = self.loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._flush)
        except RuntimeError:
            pass  # the loop has closed: the server is stopping and this viewer with it

    def _flush(self) -> None:
        self._pending = False  # before taking: a fragment queued from now on wakes again
        feed, viewer = self.feed, self.viewer
        if feed is None or viewer is None:
            return
        while self._in_flight < MAX_IN_FLIGHT:
            unit = viewer.take()
            if unit is None:
                self._blocked = False
                return
            if not viewer.init_sent:
                header = feed.header
                assert header is not None  # a fragment is queued only after the first
                codec, init = header
                info = {"codec": codec, "width": feed.width, "height": feed.height,
                        "fps": feed.fps, "path": self.request.path[: -len("/ws")]}  # fmt: skip
                if not (self._write(json.dumps(info), False) and self._write(init, True)):
                    return
                viewer.init_sent = True
            if not self._write(unit, True):
                return
            viewer.sent_units += 1
            viewer.sent_bytes += len(unit)
        self._blocked = True

    def _write(self, data: bytes | str, binary: bool) -> bool:
        try:
            done = self.write_message(data, binary=binary)
        except tornado.websocket.WebSocketClosedError:
            return False
        size = len(data)
        self._in_flight += size
        done.add_done_callback(functools.partial(self._written, size))
        return True

    def _written(self, size: int, done: asyncio.Future[None]) -> None:
        self._in_flight -= size
        if not done.cancelled():
            done.exception()  # retrieved: a connection closed meanwhile is not an error
        if self._blocked and self._in_flight < MAX_IN_FLIGHT and not self._pending:
            self._flush()


def websocket_route(server: HttpServer) -> tuple[str, type[tornado.web.RequestHandler], dict]:
    """The Tornado rule for `/<stream path>/ws`; it goes before the catch-all."""
    return r"/(.+)/ws", MseWebSocket, {"server": server}


async def close_websockets(sockets: set[MseWebSocket], timeout: float) -> None:
    """Close every WebSocket in `sockets` (1001), and cut those not closed within `timeout`;
    each removes itself from the set when it has closed."""
    for ws in list(sockets):
        ws.close(GOING_AWAY, "server stopping")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while sockets and loop.time() < deadline:
        await asyncio.sleep(0.01)
    for ws in list(sockets):
        ws.abort()
    for _ in range(100):  # a cut connection ends on a later turn of the loop
        if not sockets:
            break
        await asyncio.sleep(0.001)
