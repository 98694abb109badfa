"""The offer checks and the payload type choice (web/webrtc/sdp.py), on real offers: Debian's
Chromium 156 (recvonly video) and aiortc 1.16 (recvonly video and audio), captured here."""

from __future__ import annotations

from pathlib import Path

import pytest

from camera_streaming.config import Config, WebRtcConfig, validate
from camera_streaming.config.checks import udp_port_range
from camera_streaming.errors import ConfigError
from camera_streaming.web.webrtc.sdp import OfferError, choose_payload, parse_offer

SUPPORT = Path(__file__).resolve().parents[1] / "support"
CHROMIUM = (SUPPORT / "chromium_offer.sdp").read_text()
AIORTC = (SUPPORT / "aiortc_offer.sdp").read_text()


def offer(*video_lines: str, m: str = "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98") -> str:
    head = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", m]
    return "\r\n".join([*head, *video_lines]) + "\r\n"


H264 = ("a=rtpmap:{pt} H264/90000", "a=fmtp:{pt} level-asymmetry-allowed=1;"
        "packetization-mode={mode};profile-level-id={profile}")  # fmt: skip


def h264(pt: int, profile: str, mode: int = 1) -> list[str]:
    return [line.format(pt=pt, profile=profile, mode=mode) for line in H264]


def test_chromium_gets_main_profile_with_packetization_mode_1() -> None:
    # Chromium 156 offers 42001f, 42e01f, 4d001f and f4001f, each with modes 0 and 1: the
    # closest to x264's High that rtph264pay can send (mode 1) is Main, PT 116.
    parsed = parse_offer(CHROMIUM)
    assert [m.kind for m in parsed.media] == ["video"]
    assert parsed.video[0].direction == "recvonly"
    assert choose_payload(parsed) == 116


def test_aiortc_gets_constrained_baseline() -> None:
    parsed = parse_offer(AIORTC)
    assert [m.kind for m in parsed.media] == ["video", "audio"]
    assert choose_payload(parsed) == 99  # 42001f and 42e01f rank the same: the offer's order


def test_high_profile_is_preferred_when_offered() -> None:
    text = offer(*h264(96, "42e01f"), *h264(97, "640c1f"), *h264(98, "4d001f"), "a=recvonly")
    assert choose_payload(parse_offer(text)) == 97


def test_any_profile_is_answered_rather_than_refused() -> None:
    text = offer(*h264(96, "f4001f"), "a=recvonly", m="m=video 9 UDP/TLS/RTP/SAVPF 96")
    assert choose_payload(parse_offer(text)) == 96


def test_sendrecv_is_answered_and_session_level_direction_applies() -> None:
    text = offer(*h264(96, "42e01f"), m="m=video 9 UDP/TLS/RTP/SAVPF 96")
    assert choose_payload(parse_offer(text)) == 96  # no direction: sendrecv
    session_level = text.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n")
    with pytest.raises(OfferError, match="sendonly"):
        choose_payload(parse_offer(session_level))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "must start with v=0"),
        ("hello", "must start with v=0"),
        ("v=0\r\nthis is not sdp\r\n", "<type>=<value>"),
        ("v=0\r\ns=-\r\n", "no media"),
        (offer("a=rtpmap:96 opus/48000/2", "a=recvonly", m="m=audio 9 UDP/TLS/RTP/SAVPF 96"),
         "no video"),
        (offer("a=rtpmap:96 VP8/90000", "a=recvonly", m="m=video 9 UDP/TLS/RTP/SAVPF 96"),
         "no H.264"),
        (offer(*h264(96, "42e01f", mode=0), "a=recvonly", m="m=video 9 UDP/TLS/RTP/SAVPF 96"),
         "packetization-mode=1"),
        (offer(*h264(96, "42e01f"), "a=sendonly", m="m=video 9 UDP/TLS/RTP/SAVPF 96"),
         "sendonly"),
        (offer(*h264(96, "42e01f"), "a=inactive", m="m=video 9 UDP/TLS/RTP/SAVPF 96"),
         "inactive"),
        (offer(*h264(96, "42e01f"), m="m=video 0 UDP/TLS/RTP/SAVPF 96"), "port 0"),
        (offer(*h264(96, "42e01f"), "a=recvonly", "m=video 9 UDP/TLS/RTP/SAVPF 96",
               *h264(96, "42e01f"), m="m=video 9 UDP/TLS/RTP/SAVPF 96"), "more than one video"),
        (offer(m="m=video nine UDP/TLS/RTP/SAVPF 96"), "malformed media line"),
        (offer(m="m=video 9"), "malformed media line"),
        ("v=0\r\n" + "a=x\r\n" * 20000, "larger than"),
    ],
)  # fmt: skip
def test_bad_offers_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(OfferError, match=reason):
        choose_payload(parse_offer(text))


def test_webrtc_settings() -> None:
    assert udp_port_range("") == (0, 0)
    assert udp_port_range("40000") == (40000, 40000)
    assert udp_port_range(" 40000-40100 ") == (40000, 40100)
    validate(Config(webrtc=WebRtcConfig(allow_origin="https://a.example, http://b.example:8000",
                                        udp_ports="40000-40100", stun="stun://stun.example:3478",
                                        turn="turns://u:p@turn.example:5349")))  # fmt: skip
    for field, value, flag in [
        ("udp_ports", "40100-40000", "webrtc-udp-ports"),
        ("udp_ports", "0", "webrtc-udp-ports"),
        ("udp_ports", "a-b", "webrtc-udp-ports"),
        ("allow_origin", "example.com", "webrtc-allow-origin"),
        ("allow_origin", "https://a.example/", "webrtc-allow-origin"),
        ("stun", "stun.example:3478", "webrtc-stun"),
        ("turn", "turn:u:p@turn.example", "webrtc-turn"),
        ("timeout_s", 0.5, "webrtc-timeout"),
    ]:
        with pytest.raises(ConfigError) as err:
            validate(Config(webrtc=WebRtcConfig(**{field: value})))
        assert err.value.field == flag
        assert "secret" not in str(err.value)
    with pytest.raises(ConfigError) as err:
        validate(Config(webrtc=WebRtcConfig(turn="turn:alice:secret@turn.example")))
    assert "secret" not in str(err.value)  # a TURN URL's password is never echoed
