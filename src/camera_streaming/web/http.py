"""The HTTP side port: `/metrics` (Prometheus), `/healthz`, `/api/status` (JSON),
`/snapshot.jpg` and `/`, the status page.

It only serialises what it is handed (snapshots, the memory history, JPEG bytes); it never
touches GStreamer. The standard library's ThreadingHTTPServer runs in one named thread,
joined by `stop()`; each request gets a short-lived daemon thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector

from ..config.model import HttpConfig
from ..errors import PortInUseError
from ..telemetry.stats import Snapshot
from .metrics import SnapshotCollector, healthy, status_json
from .page import render_page

log = logging.getLogger(__name__)


class StatusSource(Protocol):
    """What the HTTP server reads; `service.Streamer` provides it."""

    def snapshot(self) -> Snapshot: ...

    def memory_history(self) -> list[tuple[float, int, int | None]]: ...

    def snapshot_jpeg(self) -> bytes | None: ...

    def describe(self) -> Mapping[str, Any]: ...


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "camera-streaming"
    timeout = 15  # seconds a silent client may hold its connection (and thread)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("http %s " + format, self.client_address[0], *args)

    def _send(self, code: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if not cache:
            self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        app = self.server.app
        path = self.path.split("?", 1)[0]
        try:
            route = app.routes.get(path)
            if route is None:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")
                return
            code, body, ctype = route()
            self._send(code, body, ctype)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client left: expected, not an error
        except Exception:
            log.exception("HTTP handler for %s failed", path)
            try:
                self._send(500, b"internal error\n", "text/plain; charset=utf-8")
            except OSError:
                pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep no list of request threads: weeks of scrapes, flat memory
    allow_reuse_address = True
    app: HttpServer


Route = Callable[[], "tuple[int, bytes, str]"]


class HttpServer:
    """`start()` binds (raising `PortInUseError`) and serves in thread `http`; `stop()` joins."""

    def __init__(self, cfg: HttpConfig, source: StatusSource) -> None:
        self.cfg = cfg
        self.source = source
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(source))  # type: ignore[arg-type]
        self.registry.register(ProcessCollector(registry=None))
        self.requests = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.routes: dict[str, Route] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/api/status": self._status,
            "/snapshot.jpg": self._snapshot,
            "/": self._page,
            "/index.html": self._page,
        }

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server is not None else self.cfg.port

    def start(self) -> None:
        try:
            server = _Server((self.cfg.bind, self.cfg.port), _Handler)
        except OSError as exc:
            raise PortInUseError.from_oserror(
                exc,
                "HTTP port",
                self.cfg.bind,
                self.cfg.port,
                "--http-port (or --no-http)",
                "--http-bind",
            ) from None
        server.app = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="http", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- routes ------------------------------------------------------------------------------
    def _metrics(self) -> tuple[int, bytes, str]:
        return 200, generate_latest(self.registry), CONTENT_TYPE_LATEST

    def _healthz(self) -> tuple[int, bytes, str]:
        s = self.source.snapshot()
        text = "text/plain; charset=utf-8"
        if healthy(s, self.cfg.health_timeout_s):
            return 200, f"ok: last frame {s.last_frame_age_s:.1f} s ago\n".encode(), text
        age = "never" if s.last_frame_age_s is None else f"{s.last_frame_age_s:.1f} s ago"
        return 503, f"unhealthy: no frame for {self.cfg.health_timeout_s:g} s " \
                    f"(last: {age})\n".encode(), text  # fmt: skip

    def _status(self) -> tuple[int, bytes, str]:
        body = json.dumps(status_json(self.source, self.cfg.health_timeout_s))
        return 200, body.encode(), "application/json"

    def _snapshot(self) -> tuple[int, bytes, str]:
        jpeg = self.source.snapshot_jpeg()
        if jpeg is None:
            return 503, b"no frame yet\n", "text/plain; charset=utf-8"
        return 200, jpeg, "image/jpeg"

    def _page(self) -> tuple[int, bytes, str]:
        status = status_json(self.source, self.cfg.health_timeout_s)
        return 200, render_page(status).encode(), "text/html; charset=utf-8"
