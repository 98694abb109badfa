"""What the ONVIF services describe: the device and one media profile per stream, plus the
addresses a reply is built for. Plain data, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"

SCOPE_PREFIX = "onvif://www.onvif.org/"


@dataclass(frozen=True)
class Profile:
    """One stream as a media profile; the main stream of each camera comes first."""

    token: str  # stable, [A-Za-z0-9_], e.g. "front_main"
    camera: str  # camera name
    path: str  # RTSP mount path, e.g. "/front/sub"
    width: int
    height: int
    fps: int
    bitrate_kbps: int
    gov_length: int  # keyframe distance in frames
    codec: str  # "h264" | "h265"
    h264_profile: str  # "High", "Main" or "Baseline"


@dataclass(frozen=True)
class DeviceFacts:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str
    hostname: str
    rtsp_port: int
    rtsp_scheme: str  # "rtsp" or "rtsps"
    http_port: int
    profiles: tuple[Profile, ...]
    discoverable: bool = True  # the WS-Discovery responder runs (GetDiscoveryMode)


def scopes(facts: DeviceFacts) -> tuple[str, ...]:
    """The device's ONVIF scopes, the same for GetScopes and WS-Discovery."""
    name = facts.hostname or facts.model
    return (
        SCOPE_PREFIX + "Profile/Streaming",
        SCOPE_PREFIX + "type/video_encoder",
        SCOPE_PREFIX + "name/" + quote(name, safe=""),
        SCOPE_PREFIX + "hardware/" + quote(facts.hardware_id or facts.model, safe=""),
    )


_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]{2,45}(?:%[A-Za-z0-9_.-]{1,32})?")
_UNSPECIFIED = {"0.0.0.0", "::", ""}


def split_host(host: str) -> tuple[str, int | None] | None:
    """A Host header as (host for a URL, port or None); None when it is not a plain host name,
    IPv4 or [IPv6] address with an optional port, or names no address (0.0.0.0)."""
    host = host.strip()
    port: int | None = None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None
        name, rest = host[1:end], host[end + 1 :]
        if not _IPV6.fullmatch(name) or name in _UNSPECIFIED:
            return None
        name = f"[{name}]"
    else:
        name, sep, rest = host.partition(":")
        rest = sep + rest
        if not _HOSTNAME.fullmatch(name) or name in _UNSPECIFIED:
            return None
    if rest:
        if not rest.startswith(":") or not rest[1:].isdigit() or len(rest) > 6:
            return None
        port = int(rest[1:])
        if not 0 < port < 65536:
            return None
    return name, port


@dataclass(frozen=True)
class Context:
    """One request: the device as it is now, the host the client reached, and the time."""

    facts: DeviceFacts
    host: str  # for URLs: a name, an IPv4 address or a bracketed IPv6 address
    http_port: int  # the port the client reached the HTTP server on
    now: float  # seconds since the epoch

    @classmethod
    def for_request(cls, facts: DeviceFacts, host_header: str, now: float) -> Context:
        parsed = split_host(host_header)
        if parsed is None:
            return cls(facts, facts.hostname or "localhost", facts.http_port, now)
        name, port = parsed
        return cls(facts, name, port if port is not None else facts.http_port, now)

    def http_url(self, path: str) -> str:
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return f"http://{self.host}{port}{path}"

    def rtsp_url(self, path: str) -> str:
        scheme = "rtsps" if self.facts.rtsp_scheme == "rtsps" else "rtsp"
        return f"{scheme}://{self.host}:{self.facts.rtsp_port}{path}"
