"""The media service (trt, Media ver10): one profile per stream, a video source per camera,
the encoder settings as they are, and the stream and snapshot URIs.

Media ver10 knows JPEG, MPEG4 and H264 only, so an H.265 stream's profile has no video
encoder configuration (the schema allows that): its stream URI is still served, and clients
learn the codec from the RTSP session's SDP. Nothing here can be changed: the options list
the current values as the only ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote
from xml.etree.ElementTree import Element

from .markup import Markup, el
from .model import Context, Profile
from .soap import child, child_text, sender_fault

QUALITY = 5  # nominal: the encoders are rate controlled by bitrate, not by a quality knob
SESSION_TIMEOUT = "PT60S"  # gst-rtsp-server's RTSP session timeout
_H264_PROFILES = {"baseline": "Baseline", "main": "Main", "extended": "Extended", "high": "High"}


@dataclass(frozen=True)
class Source:
    """A camera as a video source, with the one video source configuration its profiles use:
    the full picture of its main stream (sub streams are scaled from it)."""

    token: str
    config_token: str
    camera: str
    width: int
    height: int
    fps: int
    use_count: int


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:48] or "camera"


def sources(profiles: Iterable[Profile]) -> list[Source]:
    by_camera: dict[str, list[Profile]] = {}
    for p in profiles:
        by_camera.setdefault(p.camera, []).append(p)
    found: list[Source] = []
    taken: set[str] = set()
    for camera, ps in by_camera.items():
        base = _safe(camera)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        main = ps[0]
        found.append(
            Source(f"vs_{name}", f"vsc_{name}", camera, main.width, main.height, main.fps, len(ps))
        )
    return found


def h264_profile(name: str) -> str:
    key = name.strip().lower().replace("constrained-", "").replace("constrained ", "")
    return _H264_PROFILES.get(key, "High" if key.startswith("high") else "Main")


def encoder_token(p: Profile) -> str:
    return f"vec_{p.token}"[:64]


def _h264(profiles: Iterable[Profile]) -> list[Profile]:
    return [p for p in profiles if p.codec == "h264"]


def _resolution(tag: str, width: int, height: int) -> Markup:
    return el(tag, el("tt:Width", width), el("tt:Height", height))


def source_configuration(tag: str, s: Source) -> Markup:
    return el(
        tag,
        el("tt:Name", s.camera[:64]),
        el("tt:UseCount", s.use_count),
        el("tt:SourceToken", s.token),
        el("tt:Bounds", attrs={"x": 0, "y": 0, "width": s.width, "height": s.height}),
        attrs={"token": s.config_token},
    )


def encoder_configuration(tag: str, p: Profile) -> Markup:
    return el(
        tag,
        el("tt:Name", p.token[:64]),
        el("tt:UseCount", 1),
        el("tt:Encoding", "H264"),
        _resolution("tt:Resolution", p.width, p.height),
        el("tt:Quality", float(QUALITY)),
        el(
            "tt:RateControl",
            el("tt:FrameRateLimit", p.fps),
            el("tt:EncodingInterval", 1),
            el("tt:BitrateLimit", p.bitrate_kbps),
        ),
        el(
            "tt:H264",
            el("tt:GovLength", p.gov_length),
            el("tt:H264Profile", h264_profile(p.h264_profile)),
        ),
        el(
            "tt:Multicast",
            el("tt:Address", el("tt:Type", "IPv4"), el("tt:IPv4Address", "0.0.0.0")),
            el("tt:Port", 0),
            el("tt:TTL", 1),
            el("tt:AutoStart", False),
        ),
        el("tt:SessionTimeout", SESSION_TIMEOUT),
        attrs={"token": encoder_token(p)},
    )


def _profile(tag: str, p: Profile, source: Source) -> Markup:
    return el(
        tag,
        el("tt:Name", p.token[:64]),
        source_configuration("tt:VideoSourceConfiguration", source),
        encoder_configuration("tt:VideoEncoderConfiguration", p) if p.codec == "h264" else None,
        attrs={"token": p.token, "fixed": True},
    )


class _Lookup:
    """The profiles of one request, by token."""

    def __init__(self, ctx: Context) -> None:
        self.profiles = ctx.facts.profiles
        self.sources = sources(self.profiles)
        self.by_camera = {s.camera: s for s in self.sources}

    def profile(self, token: str | None) -> Profile:
        for p in self.profiles:
            if p.token == token:
                return p
        raise sender_fault(
            "ter:InvalidArgVal", "ter:NoProfile", reason="The requested profile does not exist"
        )

    def source_of(self, p: Profile) -> Source:
        return self.by_camera[p.camera]


def _no_config() -> Exception:
    return sender_fault(
        "ter:InvalidArgVal",
        "ter:NoConfig",
        reason="The requested configuration indicated with ConfigurationToken does not exist",
    )


def capabilities(ctx: Context) -> Markup:
    return el(
        "trt:Capabilities",
        el("trt:ProfileCapabilities", attrs={"MaximumNumberOfProfiles": len(ctx.facts.profiles)}),
        el(
            "trt:StreamingCapabilities",
            attrs={
                "RTPMulticast": False,
                "RTP_TCP": True,
                "RTP_RTSP_TCP": True,
                "NonAggregateControl": False,
                "NoRTSPStreaming": False,
            },
        ),
        attrs={"SnapshotUri": True, "Rotation": False, "VideoSourceMode": False, "OSD": False},
    )


def get_service_capabilities(ctx: Context, request: Element) -> Markup:
    return el("trt:GetServiceCapabilitiesResponse", capabilities(ctx))


def get_profiles(ctx: Context, request: Element) -> Markup:
    look = _Lookup(ctx)
    return el(
        "trt:GetProfilesResponse",
        (_profile("trt:Profiles", p, look.source_of(p)) for p in look.profiles),
    )


def get_profile(ctx: Context, request: Element) -> Markup:
    look = _Lookup(ctx)
    p = look.profile(child_text(request, "ProfileToken"))
    return el("trt:GetProfileResponse", _profile("trt:Profile", p, look.source_of(p)))


def get_video_sources(ctx: Context, request: Element) -> Markup:
    return el(
        "trt:GetVideoSourcesResponse",
        (
            el(
                "trt:VideoSources",
                el("tt:Framerate", float(s.fps)),
                _resolution("tt:Resolution", s.width, s.height),
                attrs={"token": s.token},
            )
            for s in sources(ctx.facts.profiles)
        ),
    )


def get_video_source_configurations(ctx: Context, request: Element) -> Markup:
    return el(
        "trt:GetVideoSourceConfigurationsResponse",
        (source_configuration("trt:Configurations", s) for s in sources(ctx.facts.profiles)),
    )


def get_video_source_configuration(ctx: Context, request: Element) -> Markup:
    token = child_text(request, "ConfigurationToken")
    for s in sources(ctx.facts.profiles):
        if s.config_token == token:
            return el(
                "trt:GetVideoSourceConfigurationResponse",
                source_configuration("trt:Configuration", s),
            )
    raise _no_config()


def get_compatible_video_source_configurations(ctx: Context, request: Element) -> Markup:
    look = _Lookup(ctx)
    p = look.profile(child_text(request, "ProfileToken"))
    return el(
        "trt:GetCompatibleVideoSourceConfigurationsResponse",
        source_configuration("trt:Configurations", look.source_of(p)),
    )


def get_video_encoder_configurations(ctx: Context, request: Element) -> Markup:
    return el(
        "trt:GetVideoEncoderConfigurationsResponse",
        (encoder_configuration("trt:Configurations", p) for p in _h264(ctx.facts.profiles)),
    )


def get_video_encoder_configuration(ctx: Context, request: Element) -> Markup:
    token = child_text(request, "ConfigurationToken")
    for p in _h264(ctx.facts.profiles):
        if encoder_token(p) == token:
            return el(
                "trt:GetVideoEncoderConfigurationResponse",
                encoder_configuration("trt:Configuration", p),
            )
    raise _no_config()


def get_compatible_video_encoder_configurations(ctx: Context, request: Element) -> Markup:
    p = _Lookup(ctx).profile(child_text(request, "ProfileToken"))
    return el(
        "trt:GetCompatibleVideoEncoderConfigurationsResponse",
        encoder_configuration("trt:Configurations", p) if p.codec == "h264" else None,
    )


def _range(tag: str, values: Iterable[int]) -> Markup:
    vs = list(values)
    return el(tag, el("tt:Min", min(vs)), el("tt:Max", max(vs)))


def _h264_options(ps: list[Profile], with_bitrate: bool) -> Markup:
    sizes = dict.fromkeys((p.width, p.height) for p in ps)
    kinds = dict.fromkeys(h264_profile(p.h264_profile) for p in ps)
    return el(
        "tt:H264",
        (_resolution("tt:ResolutionsAvailable", w, h) for w, h in sizes),
        _range("tt:GovLengthRange", (p.gov_length for p in ps)),
        _range("tt:FrameRateRange", (p.fps for p in ps)),
        _range("tt:EncodingIntervalRange", (1,)),
        (el("tt:H264ProfilesSupported", k) for k in kinds),
        _range("tt:BitrateRange", (p.bitrate_kbps for p in ps)) if with_bitrate else None,
    )


def get_video_encoder_configuration_options(ctx: Context, request: Element) -> Markup:
    """The options of one encoder configuration or profile, or of all of them: exactly the
    values in use, since none can be changed."""
    look = _Lookup(ctx)
    chosen = _h264(look.profiles)
    config_token = child_text(request, "ConfigurationToken")
    if config_token:
        chosen = [p for p in chosen if encoder_token(p) == config_token]
        if not chosen:
            raise _no_config()
    if child(request, "ProfileToken") is not None:
        p = look.profile(child_text(request, "ProfileToken"))
        chosen = [q for q in chosen if q.token == p.token]
    return el(
        "trt:GetVideoEncoderConfigurationOptionsResponse",
        el(
            "trt:Options",
            _range("tt:QualityRange", (QUALITY,)),
            _h264_options(chosen, with_bitrate=False) if chosen else None,
            el("tt:Extension", _h264_options(chosen, with_bitrate=True)) if chosen else None,
        ),
    )


def _media_uri(uri: str) -> Markup:
    return el(
        "trt:MediaUri",
        el("tt:Uri", uri),
        el("tt:InvalidAfterConnect", False),
        el("tt:InvalidAfterReboot", False),
        el("tt:Timeout", "PT0S"),
    )


def get_stream_uri(ctx: Context, request: Element) -> Markup:
    """RTP unicast over RTSP (UDP or interleaved TCP): the RTSP URL of the stream, on the
    host the client reached. Multicast and RTSP-over-HTTP are not served."""
    p = _Lookup(ctx).profile(child_text(request, "ProfileToken"))
    setup = child(request, "StreamSetup")
    stream, protocol = "RTP-Unicast", "RTSP"
    if setup is not None:
        stream = child_text(setup, "Stream") or stream
        transport = child(setup, "Transport")
        if transport is not None:
            protocol = child_text(transport, "Protocol") or protocol
    if stream != "RTP-Unicast" or protocol not in ("RTSP", "UDP", "TCP"):
        raise sender_fault(
            "ter:InvalidArgVal",
            "ter:InvalidStreamSetup",
            reason=f"{stream} over {protocol[:16]} is not supported: RTP-Unicast over RTSP is",
        )
    return el("trt:GetStreamUriResponse", _media_uri(ctx.rtsp_url(p.path)))


def get_snapshot_uri(ctx: Context, request: Element) -> Markup:
    p = _Lookup(ctx).profile(child_text(request, "ProfileToken"))
    uri = ctx.http_url("/snapshot.jpg?camera=" + quote(p.camera, safe=""))
    return el("trt:GetSnapshotUriResponse", _media_uri(uri))


Handler = Callable[[Context, Element], Markup]

OPERATIONS: dict[str, Handler] = {
    "GetServiceCapabilities": get_service_capabilities,
    "GetProfiles": get_profiles,
    "GetProfile": get_profile,
    "GetVideoSources": get_video_sources,
    "GetVideoSourceConfigurations": get_video_source_configurations,
    "GetVideoSourceConfiguration": get_video_source_configuration,
    "GetCompatibleVideoSourceConfigurations": get_compatible_video_source_configurations,
    "GetVideoEncoderConfigurations": get_video_encoder_configurations,
    "GetVideoEncoderConfiguration": get_video_encoder_configuration,
    "GetCompatibleVideoEncoderConfigurations": get_compatible_video_encoder_configurations,
    "GetVideoEncoderConfigurationOptions": get_video_encoder_configuration_options,
    "GetStreamUri": get_stream_uri,
    "GetSnapshotUri": get_snapshot_uri,
}
# Every media operation needs credentials when users are configured.
PRE_AUTH: frozenset[str] = frozenset()
