"""The ONVIF device facts built from the configuration: a profile per stream, main first."""

from __future__ import annotations

from camera_streaming.config import Config, RtspConfig, VideoConfig
from camera_streaming.config.model import CameraConfig, SourceSpec, StreamConfig, Substream
from camera_streaming.onvif.facts import device_facts, profile_token


def test_single_camera_with_a_substream() -> None:
    cfg = Config(video=VideoConfig(1920, 1080, 25, 4000), substream=Substream(640, 360, 10))
    facts = device_facts(cfg, 8080, "1.2.3")
    main, sub = facts.profiles
    assert (main.token, main.path, main.width, main.fps, main.gov_length) == (
        "stream", "/stream", 1920, 25, 25)  # fmt: skip
    assert (sub.token, sub.path, sub.width, sub.height, sub.fps) == (
        "stream_sub", "/stream/sub", 640, 360, 10)  # fmt: skip
    assert facts.firmware == "1.2.3" and facts.rtsp_port == 8554 and facts.http_port == 8080
    assert facts.serial == device_facts(cfg, 8080, "1.2.3").serial  # stable


def test_cameras_in_order_and_rtsps() -> None:
    v = VideoConfig(640, 360, 10)
    cams = tuple(
        CameraConfig(n, SourceSpec("test"), (StreamConfig(f"/{n}", v), StreamConfig(f"/{n}/s", v)))
        for n in ("b", "a")
    )
    cfg = Config(cameras=cams, rtsp=RtspConfig(tls_cert="c", tls_key="k"))
    facts = device_facts(cfg, 80, "x")
    assert [p.token for p in facts.profiles] == ["b", "b_s", "a", "a_s"]
    assert [p.camera for p in facts.profiles] == ["b", "b", "a", "a"]
    assert facts.rtsp_scheme == "rtsps"
    assert profile_token("/front-1/sub") == "front_1_sub"
