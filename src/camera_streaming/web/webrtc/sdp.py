"""The offer, read before webrtcbin sees it (pure: no GStreamer): is it an SDP offer that asks
to receive video, and which of its H.264 payload types do we answer with.

Our H.264 is whatever the encoder makes (x264: High profile, no B-frames); browsers and aiortc
offer Constrained Baseline, Main and sometimes High. High data sent under an offered Baseline
or Main payload type decodes in Chromium and aiortc (docs/gstreamer.md, fact 22), so an offer
is never refused for its profile: the payload type is chosen by packetization-mode=1 (the one
rtph264pay sends), then by how close its profile is to High.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# profile_idc (the first byte of profile-level-id) -> preference; closest to High first.
PROFILE_RANK = {"64": 0, "4d": 1, "58": 2, "42": 3}
MAX_OFFER = 64 * 1024  # browsers' offers are 3-6 KB
DIRECTIONS = ("sendrecv", "recvonly", "sendonly", "inactive")


class OfferError(ValueError):
    """An offer we cannot answer; the message is the reason given to the client (400)."""


@dataclass(frozen=True)
class PayloadType:
    pt: int
    fmtp: dict[str, str] = field(default_factory=dict)

    @property
    def packetization_mode(self) -> str:
        return self.fmtp.get("packetization-mode", "0")

    @property
    def profile(self) -> str:
        """profile_idc as two hex digits, `42` when the offer gives no profile-level-id."""
        return self.fmtp.get("profile-level-id", "42e01f")[:2].lower()


@dataclass(frozen=True)
class Media:
    kind: str  # video, audio, application
    port: int
    direction: str  # sendrecv, recvonly, sendonly, inactive
    h264: tuple[PayloadType, ...] = ()


@dataclass(frozen=True)
class Offer:
    media: tuple[Media, ...]

    @property
    def video(self) -> tuple[Media, ...]:
        return tuple(m for m in self.media if m.kind == "video")


def parse_offer(text: str) -> Offer:
    """Read the m-sections of an SDP offer; raises OfferError when it is not one."""
    if len(text) > MAX_OFFER:
        raise OfferError(f"the offer is larger than {MAX_OFFER // 1024} KB")
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines or lines[0] != "v=0":
        raise OfferError("not an SDP offer (it must start with v=0)")
    if any(len(line) < 2 or line[1] != "=" for line in lines):
        raise OfferError("not an SDP offer (every line must be <type>=<value>)")
    session_direction = "sendrecv"
    sections: list[list[str]] = []
    for line in lines[1:]:
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
        elif line[2:] in DIRECTIONS:  # a session-level direction, the default of every m-line
            session_direction = line[2:]
    if not sections:
        raise OfferError("the offer has no media (no m= line)")
    return Offer(tuple(_media(s, session_direction) for s in sections))


def _media(lines: list[str], direction: str) -> Media:
    parts = lines[0][2:].split()
    if len(parts) < 4:
        raise OfferError(f"malformed media line {lines[0]!r}")
    kind = parts[0]
    try:
        port = int(parts[1].split("/")[0])
        formats = [int(p) for p in parts[3:]] if parts[2].endswith("AVPF") else []
    except ValueError:
        raise OfferError(f"malformed media line {lines[0]!r}") from None
    codecs: dict[int, str] = {}
    fmtps: dict[int, dict[str, str]] = {}
    for line in lines[1:]:
        if not line.startswith("a="):
            continue
        attr, _, value = line[2:].partition(":")
        if attr in DIRECTIONS:
            direction = attr
        elif attr == "rtpmap":
            pt, _, codec = value.partition(" ")
            if pt.isdigit():
                codecs[int(pt)] = codec.strip()
        elif attr == "fmtp":
            pt, _, params = value.partition(" ")
            if pt.isdigit():
                fmtps[int(pt)] = _fmtp(params)
    h264 = tuple(
        PayloadType(pt, fmtps.get(pt, {}))
        for pt in formats
        if codecs.get(pt, "").upper().startswith("H264/90000")
    )
    return Media(kind, port, direction, h264)


def _fmtp(params: str) -> dict[str, str]:
    out = {}
    for item in params.split(";"):
        key, sep, value = item.strip().partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def choose_payload(offer: Offer) -> int:
    """The H.264 payload type to answer the offer's video with; OfferError with the reason
    when there is none we can send."""
    videos = offer.video
    if not videos:
        raise OfferError("the offer has no video (no m=video line)")
    if len(videos) > 1:
        raise OfferError("the offer has more than one video m-line; one stream is sent")
    video = videos[0]
    if video.port == 0:
        raise OfferError("the offer's video is rejected (port 0)")
    if video.direction not in ("recvonly", "sendrecv"):
        raise OfferError(f"the offer's video is {video.direction}: it must receive (recvonly)")
    usable = [p for p in video.h264 if p.packetization_mode == "1"]
    if not usable:
        what = "H.264 with packetization-mode=1" if video.h264 else "H.264"
        raise OfferError(f"the offer's video has no {what}; this camera sends H.264 only")

    def rank(p: PayloadType) -> tuple[int, int]:
        asymmetry = p.fmtp.get("level-asymmetry-allowed") == "1"
        return PROFILE_RANK.get(p.profile, len(PROFILE_RANK)), 0 if asymmetry else 1

    return min(usable, key=rank).pt
