"""A tiny HTTP server for ONVIF client tests: POSTs to /onvif/... go to
`OnvifService.handle`, GET /snapshot.jpg returns a JPEG. Loopback only, a free port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

from camera_streaming.onvif import OnvifService
from camera_streaming.onvif.soap import MAX_REQUEST_BYTES


def snapshot_jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


@contextmanager
def onvif_http_server(
    service: OnvifService, address: tuple[str, int] = ("127.0.0.1", 0)
) -> Iterator[tuple[int, list[str]]]:
    """Serve `service` (on a free loopback port unless told otherwise); yields (port, the
    paths GET requests asked for)."""
    jpeg = snapshot_jpeg()
    gets: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            if length > MAX_REQUEST_BYTES:
                self.close_connection = True
                self._send(413, b"", "text/plain")
                return
            body = self.rfile.read(length)
            status, reply, ctype = service.handle(
                self.path, body, dict(self.headers.items()), self.headers.get("Host", "")
            )
            self._send(status, reply, ctype)

        def do_GET(self) -> None:
            gets.append(self.path)
            if self.path.startswith("/snapshot.jpg"):
                self._send(200, jpeg, "image/jpeg")
            else:
                self._send(404, b"", "text/plain")

    server = ThreadingHTTPServer(address, Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="onvif-test-http", daemon=True)
    thread.start()
    try:
        yield server.server_address[1], gets
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
