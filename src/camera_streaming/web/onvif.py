"""ONVIF on the HTTP port: `POST /onvif/device_service` and `/onvif/media_service` answered by
`onvif.OnvifService`. Those routes authenticate by themselves (WS-UsernameToken in the SOAP
header, or HTTP Digest when the client sends it): the HTTP layer does not demand credentials
there and passes on the user its Digest check found."""

from __future__ import annotations

from collections.abc import Mapping

from .. import __version__
from ..config.model import Config
from ..onvif import OnvifService
from ..onvif.facts import device_facts
from ..onvif.model import DEVICE_PATH, MEDIA_PATH
from ..onvif.service import MAX_REQUEST_BYTES
from .handler import Reply, Request
from .http import HttpServer


def add_onvif(http: HttpServer, config: Config, users: Mapping[str, str]) -> OnvifService:
    service = OnvifService(
        lambda: device_facts(config, http.port, __version__),
        users or None,
        http_digest=config.rtsp.auth == "digest",
    )

    def route(req: Request) -> Reply:
        if len(req.body) > MAX_REQUEST_BYTES:
            return 413, b"request too large\n", "text/plain; charset=utf-8"
        return service.handle(req.path, req.body, req.headers, req.host, req.user)

    for path in (DEVICE_PATH, MEDIA_PATH):
        http.post_routes[path] = route
        http.own_auth.add(path)
    return service
