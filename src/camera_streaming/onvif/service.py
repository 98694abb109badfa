"""The ONVIF device and media services behind one pure entry point, `OnvifService.handle`:
the HTTP server hands it a POST to /onvif/device_service or /onvif/media_service and sends
back the (status, body, content type) it returns. No sockets and no HTTP library here.

Authentication when users are configured: a WS-Security UsernameToken with PasswordDigest
(wsse.py), or a user the HTTP layer already authenticated with HTTP Digest (`http_user`).
When both are present both must be good (ONVIF Core: HTTP first, then WS). Operations of
GetSystemDateAndTime is answered without credentials (clients read the clock first to align
their WS-UsernameToken); every other operation needs them when users are configured.
A request without any credentials gets 401 (the HTTP layer adds its Digest challenge) or,
when the HTTP layer offers no Digest, 400; wrong credentials get 400; both with the SOAP fault
env:Sender/ter:NotAuthorized. With no users configured every request is accepted, whatever
its WS-Security header says.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from . import device, media
from .markup import TDS, TRT
from .model import DEVICE_PATH, MEDIA_PATH, Context, DeviceFacts, Profile
from .soap import (
    CONTENT_TYPE,
    MAX_REQUEST_BYTES,
    SoapFault,
    SoapRequest,
    action_not_supported,
    envelope,
    fault_envelope,
    not_authorized,
    parse_request,
    receiver_fault,
)
from .wsse import AuthError, UsernameTokenCheck, username_token

__all__ = [
    "CONTENT_TYPE",
    "DEVICE_PATH",
    "MAX_REQUEST_BYTES",
    "MEDIA_PATH",
    "DeviceFacts",
    "OnvifService",
    "Profile",
]

log = logging.getLogger(__name__)

_OPERATIONS: dict[tuple[str, str], device.Handler] = {
    **{(TDS, name): h for name, h in device.OPERATIONS.items()},
    **{(TRT, name): h for name, h in media.OPERATIONS.items()},
}
_PRE_AUTH = frozenset(
    {(TDS, name) for name in device.PRE_AUTH} | {(TRT, name) for name in media.PRE_AUTH}
)


class OnvifService:
    """Answers ONVIF SOAP requests about the device `facts()` describes at the time of each
    request. `users` maps user names to passwords (None or empty: no authentication)."""

    def __init__(
        self,
        facts: Callable[[], DeviceFacts],
        users: Mapping[str, str] | None,
        clock: Callable[[], float] = time.time,
        *,
        http_digest: bool = True,
    ) -> None:
        self._facts = facts
        self._users = dict(users or {})
        self._clock = clock
        self._http_digest = http_digest
        self._tokens = UsernameTokenCheck(self._users, clock)

    def handle(
        self,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        host: str,
        http_user: str | None = None,
    ) -> tuple[int, bytes, str]:
        """(status, body, content type) for a POST to /onvif/device_service or
        /onvif/media_service. `host` is the request's Host header: XAddrs, stream and
        snapshot URIs are built on it (the RTSP port replacing its port in rtsp:// URIs).
        `http_user`: a user the HTTP layer already authenticated with HTTP Digest."""
        if path.split("?", 1)[0].rstrip("/") not in (DEVICE_PATH, MEDIA_PATH):
            fault = SoapFault("Sender", ("ter:InvalidArgVal",), "no such service", 404)
            return fault.status, fault_envelope(fault), CONTENT_TYPE
        name = "?"
        try:
            request = parse_request(body)
            name = request.operation
            key = (request.namespace, request.operation)
            if key not in _PRE_AUTH:
                self._authenticate(request, http_user)
            handler = _OPERATIONS.get(key)
            if handler is None:
                raise action_not_supported(request.operation[:64])
            ctx = Context.for_request(self._facts(), host, self._clock())
            return 200, envelope(handler(ctx, request.body)), CONTENT_TYPE
        except SoapFault as fault:
            log.debug("ONVIF %s: fault %s %s", name[:64], fault.subcodes, fault.reason)
            return fault.status, fault_envelope(fault), CONTENT_TYPE
        except Exception:
            log.exception("ONVIF %s failed", name[:64])
            failed = receiver_fault("ter:Action", reason="The requested SOAP action failed")
            return failed.status, fault_envelope(failed), CONTENT_TYPE

    def _authenticate(self, request: SoapRequest, http_user: str | None) -> None:
        if not self._users:
            return
        if http_user is not None and http_user not in self._users:
            raise not_authorized()
        if request.security is None:
            if http_user is not None:
                return
            raise not_authorized(401 if self._http_digest else 400)
        try:
            self._tokens.check(username_token(request.security))
        except AuthError as exc:
            log.info("ONVIF %s refused: %s", request.operation[:64], exc)
            raise not_authorized() from None
