"""RTSP authentication (basic or digest) and RTSPS for gst-rtsp-server, from a users mapping.

`make_auth()` takes any `Mapping[str, str]` of users, so the environment variable, a config file
or a caller's own store plug in the same way. Passwords go to gst-rtsp-server only: they are
never logged. The bindings' varargs (`RTSPToken.new(...)`, `add_role(...)`) are unusable from
Python, so tokens and roles are built with `set_string` and `add_role_from_structure`
(docs/gstreamer.md, fact 14).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ...errors import ConfigError
from ..runtime import GLib, Gst, GstRtsp, GstRtspServer

log = logging.getLogger(__name__)

ROLE = "viewer"


def viewer_token() -> Any:
    token = GstRtspServer.RTSPToken.new()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
    return token


def allow_viewers(factory: Any) -> None:
    """Let the `viewer` role see and build this factory's media (DESCRIBE/SETUP/PLAY)."""
    perms = Gst.Structure.new_from_string(
        f"{ROLE}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
    )
    factory.add_role_from_structure(perms)


def make_auth(
    method: str, users: Mapping[str, str], tls_cert: str = "", tls_key: str = ""
) -> Any | None:
    """An `RTSPAuth` for `method` (none, basic, digest) with `users`, and the TLS certificate
    when both files are given. None when there is nothing to configure."""
    if method == "none" and not tls_cert:
        return None
    auth = GstRtspServer.RTSPAuth()
    token = viewer_token()
    if method == "none":
        auth.set_default_token(token)  # TLS only: anonymous viewers allowed
    elif method == "basic":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        for name, password in users.items():
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(name, password), token)
    elif method == "digest":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        for name, password in users.items():
            auth.add_digest(name, password, token)
    else:
        raise ConfigError("auth", f"unknown method {method!r}")
    if tls_cert:
        from gi.repository import Gio

        try:
            cert = Gio.TlsCertificate.new_from_files(tls_cert, tls_key)
        except GLib.Error as exc:
            raise ConfigError(
                "tls-cert", f"cannot load {tls_cert} / {tls_key}: {exc.message}"
            ) from None
        auth.set_tls_certificate(cert)
    log.info(
        "RTSP %s%s with %d user(s)",
        "auth " + method if method != "none" else "no auth",
        " over TLS (rtsps, TCP only)" if tls_cert else "",
        len(users),
    )
    return auth
