"""Validation of a whole `Config` (`validate`, called once at the edge by the CLI and the API)
and the users list (`name:password,...` from `CAMERA_STREAMING_USERS` or the file).

Pure: errors are `ConfigError`s naming the field as the user wrote it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

from ..errors import ConfigError
from .cameras import NATIVE_NO_HOOK, check_cameras, check_substream
from .checks import (
    bad_hook,
    bad_path,
    check_codec,
    check_float,
    check_int,
    check_number,
    check_outputs,
    check_video,
    check_webrtc,
)
from .model import AUTH_METHODS, FANOUTS, USERS_ENV, Config, RtspConfig


def parse_users(text: str, field_name: str = USERS_ENV) -> dict[str, str]:
    """Parse `name:password,name2:password2` (the password may contain ':' but not ',').
    Errors name the entry by position, never echo a password."""
    users: dict[str, str] = {}
    for i, entry in enumerate(text.split(","), 1):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, password = entry.partition(":")
        name = name.strip()
        if not sep or not name or not password:
            raise ConfigError(field_name, f"entry {i} must be name:password")
        if any(c.isspace() or c in '"' for c in name) or not name.isprintable():
            raise ConfigError(field_name, f"entry {i}: user names cannot contain spaces or quotes")
        if name in users:
            raise ConfigError(field_name, f"user '{name}' is listed twice")
        users[name] = password
    if not users:
        raise ConfigError(field_name, "no users given; expected name:password,...")
    return users


def users_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Users from `CAMERA_STREAMING_USERS`; empty when it is unset."""
    text = (os.environ if environ is None else environ).get(USERS_ENV, "")
    return parse_users(text) if text.strip() else {}


def _check_auth(r: RtspConfig) -> None:
    if r.auth not in AUTH_METHODS:
        raise ConfigError("auth", f"must be one of {', '.join(AUTH_METHODS)}, got {r.auth!r}")
    if r.auth != "none" and not r.users:
        raise ConfigError("auth", f"{r.auth} needs users: set {USERS_ENV}=name:password,...")
    if bool(r.tls_cert) != bool(r.tls_key):
        missing = "tls-key" if r.tls_cert else "tls-cert"
        raise ConfigError(missing, "RTSPS needs both --tls-cert and --tls-key")
    for name, path in (("tls-cert", r.tls_cert), ("tls-key", r.tls_key)):
        if path and not os.path.isfile(path):
            raise ConfigError(name, f"file {path!r} does not exist")


def validate(config: Config) -> Config:
    """Check every field; raise `ConfigError` naming the first bad one. Returns `config`.

    Process-wide fields are named like their flag without `--` (`width`, `keep-segments`);
    `[[cameras]]` fields by their place in the file (`cameras[0].streams[1].fps`)."""
    r = config.rtsp
    check_video(config.video)
    check_int("port", r.port, 1, 65535)
    if bad_path(r.path):
        raise ConfigError("path", f"must look like /stream, got {r.path!r}")
    try:
        ipaddress.ip_address(r.bind)
    except ValueError:
        raise ConfigError(
            "bind", f"must be an IP address like 0.0.0.0 or 127.0.0.1, got {r.bind!r}"
        ) from None
    check_int("max-clients", r.max_clients, 0, 10_000)
    if r.fanout not in FANOUTS:
        raise ConfigError("fanout", f"must be one of {', '.join(FANOUTS)}, got {r.fanout!r}")
    check_int("session-timeout", r.session_timeout_s, 1, 3600)
    _check_auth(r)
    if not 0.1 <= float(config.stats_interval_s) <= 3600:
        raise ConfigError(
            "stats-interval", f"must be between 0.1 and 3600 seconds, got {config.stats_interval_s}"
        )
    check_codec(config.video)
    _validate_http_and_log(config)
    check_outputs(config.outputs, codec=config.video.codec)
    if config.cameras:
        check_cameras(config)
    else:
        check_substream(config)
    if not r.enabled and not any(s.outputs.any for s in config.all_streams):
        where = (
            "a stream's rtmp, save or publish" if config.cameras else "--rtmp, --save or --publish"
        )
        raise ConfigError("rtsp", f"no output enabled: serve RTSP or give {where}")
    check_int("onvif-discovery-port", config.onvif.discovery_port, 1, 65535)
    check_webrtc(config.webrtc)
    check_float("stall-timeout", config.recovery.stall_timeout_s, 0.2, 600)
    check_float("retry-max", config.recovery.retry_max_s, 0.1, 600)
    if config.source.native and (config.hook is not None or config.overlay):
        raise ConfigError("source", NATIVE_NO_HOOK.format(hook="--hook", overlay="--overlay"))
    if config.hook is not None and bad_hook(config.hook):
        raise ConfigError("hook", f"must be module:function, got {config.hook!r}")
    return config


def _validate_http_and_log(config: Config) -> None:
    h = config.http
    check_int("http-port", h.port, 0, 65535)  # 0: no HTTP port, like --no-http
    try:
        ipaddress.ip_address(h.bind)
    except ValueError:
        raise ConfigError("http-bind", f"must be an IP address, got {h.bind!r}") from None
    if h.enabled and h.port and h.port == config.rtsp.port:
        raise ConfigError("http-port", f"must differ from the RTSP port {config.rtsp.port}")
    check_number("health-timeout", h.health_timeout_s, 0.5, 3600)
    check_number("snapshot-max-fps", h.snapshot_max_fps, 0.1, 30)
    if config.log.level not in ("debug", "info", "warning", "error"):
        raise ConfigError(
            "log-level", f"must be debug, info, warning or error, got {config.log.level!r}"
        )
    if config.log.format not in ("text", "json"):
        raise ConfigError("log-format", f"must be text or json, got {config.log.format!r}")
