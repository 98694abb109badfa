import dataclasses
import subprocess
import sys

import pytest

from camera_streaming.config import Config, RtspConfig, SourceSpec, VideoConfig, validate
from camera_streaming.errors import ConfigError


def test_defaults_follow_the_seed() -> None:
    c = validate(Config())
    assert (c.video.width, c.video.height, c.video.fps) == (1280, 720, 25)
    assert (c.rtsp.port, c.rtsp.path, c.video.bitrate_kbps) == (8554, "/stream", 2000)
    assert c.rtsp.url() == "rtsp://127.0.0.1:8554/stream"


@pytest.mark.parametrize(
    ("video", "rtsp", "field"),
    [
        ({"width": 0}, {}, "width"),
        ({"width": -640}, {}, "width"),
        ({"height": 0}, {}, "height"),
        ({"width": 641}, {}, "width"),
        ({"fps": 0}, {}, "fps"),
        ({"fps": 241}, {}, "fps"),
        ({"bitrate_kbps": 0}, {}, "bitrate"),
        ({"keyframe_interval_s": 0}, {}, "keyframe-interval"),
        ({}, {"port": 0}, "port"),
        ({}, {"port": 70000}, "port"),
        ({}, {"path": "stream"}, "path"),
        ({}, {"path": "/a b"}, "path"),
        ({}, {"bind": "localhost:1"}, "bind"),
        ({}, {"max_clients": -1}, "max-clients"),
        ({}, {"fanout": "tee"}, "fanout"),
    ],
)
def test_invalid_values_name_their_field(video: dict, rtsp: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(Config(video=VideoConfig(**video), rtsp=RtspConfig(**rtsp)))
    assert err.value.field == field
    assert field in str(err.value)


def test_fps_240_is_allowed() -> None:
    validate(Config(video=VideoConfig(fps=240)))


@pytest.mark.parametrize(
    ("text", "kind", "location"),
    [
        ("auto", "auto", ""),
        ("test", "test", ""),
        ("v4l2:/dev/video2", "v4l2", "/dev/video2"),
        ("file:/tmp/a b.mp4", "file", "/tmp/a b.mp4"),
        ("v4l2:0", "v4l2", "0"),
    ],
)
def test_source_spec_parses(text: str, kind: str, location: str) -> None:
    spec = SourceSpec.parse(text)
    assert (spec.kind, spec.location) == (kind, location)


@pytest.mark.parametrize("text", ["camera", "v4l2:", "file:", "rtsp://x", "v4l2:video0"])
def test_bad_source_spec(text: str) -> None:
    with pytest.raises(ConfigError, match="source"):
        SourceSpec.parse(text)


def test_keyframe_distance_from_seconds() -> None:
    assert VideoConfig(fps=30, keyframe_interval_s=1).keyframe_distance == 30
    assert VideoConfig(fps=25, keyframe_interval_s=2).keyframe_distance == 50
    assert VideoConfig(fps=5, keyframe_interval_s=0.1).keyframe_distance == 1


def test_gst_source_is_native_and_keeps_its_launch_fragment() -> None:
    spec = SourceSpec.parse("gst:v4l2src device=/dev/video0 ! image/jpeg ! jpegdec")
    assert spec.kind == "gst" and spec.native
    assert spec.location == "v4l2src device=/dev/video0 ! image/jpeg ! jpegdec"
    assert str(spec) == "gst:v4l2src device=/dev/video0 ! image/jpeg ! jpegdec"
    assert not SourceSpec.parse("test").native


@pytest.mark.parametrize("text", ["gst:", "gst:  ", "gst:videotestsrc !", "gst:! videotestsrc"])
def test_bad_gst_source_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="source"):
        SourceSpec.parse(text)


@pytest.mark.parametrize("extra", [{"hook": "mod:fn"}, {"overlay": True}])
def test_gst_source_refuses_hook_and_overlay(extra: dict) -> None:
    cfg = dataclasses.replace(Config(), source=SourceSpec.parse("gst:videotestsrc"), **extra)
    with pytest.raises(ConfigError, match="NumPy source"):
        validate(cfg)


def test_importing_the_configuration_loads_no_gi_cv2_or_numpy() -> None:
    code = (
        "import sys, camera_streaming.config, camera_streaming.config.layers; "
        "print(sorted(m for m in ('gi', 'cv2', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
