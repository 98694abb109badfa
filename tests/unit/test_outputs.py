"""Outputs: config validation, flags, launch lines, retention planning, status lines."""

from __future__ import annotations

from dataclasses import replace

import pytest

from camera_streaming.cli import build_parser, config_from_args
from camera_streaming.config import Config, OutputsConfig, RtspConfig, VideoConfig, validate
from camera_streaming.errors import ConfigError
from camera_streaming.gst.launch import publish_launch, record_launch, rtmp_launch
from camera_streaming.gst.outputs.record import plan_retention
from camera_streaming.telemetry.stats import OutputStatus, Snapshot


def outputs(**kw: object) -> Config:
    return replace(Config(), outputs=OutputsConfig(**kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"rtmp_url": "http://host/app/x"}, "rtmp"),
        ({"rtmp_url": "rtmp://host"}, "rtmp"),
        ({"rtmp_url": 'rtmp://host/app/"x'}, "rtmp"),
        ({"publish_url": "rtmp://host/cam"}, "publish"),
        ({"publish_url": "rtsp:///cam"}, "publish"),
        ({"save_dir": " "}, "save"),
        ({"segment_s": 0}, "segment"),
        ({"keep_segments": -1}, "keep-segments"),
        ({"keep_bytes": -5}, "keep-bytes"),
    ],
)
def test_bad_outputs_name_the_field(kw: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(outputs(**kw))
    assert err.value.field == field


def test_rtmp_with_h265_is_refused() -> None:
    config = outputs(rtmp_url="rtmp://h/live/cam").with_video(codec="h265")
    with pytest.raises(ConfigError, match="H.264 only") as err:
        validate(config)
    assert err.value.field == "rtmp"
    validate(outputs(save_dir="x", publish_url="rtsp://h/cam").with_video(codec="h265"))


def test_good_outputs_pass() -> None:
    validate(outputs(rtmp_url="rtmp://h:1935/live/cam", publish_url="rtsps://h/cam", save_dir="x"))


def test_no_output_at_all_is_an_error() -> None:
    with pytest.raises(ConfigError) as err:
        validate(replace(Config(), rtsp=RtspConfig(enabled=False)))
    assert err.value.field == "rtsp"


@pytest.mark.parametrize(
    ("argv", "rtsp_on"),
    [
        ([], True),
        (["--rtsp"], True),
        (["--rtmp", "rtmp://h/live/x"], False),
        (["--rtsp", "--rtmp", "rtmp://h/live/x"], True),
        (["--save", "/tmp/rec"], False),
        (["--publish", "rtsp://h/cam", "--rtsp"], True),
    ],
)
def test_rtsp_is_on_unless_only_other_outputs_are_named(argv: list[str], rtsp_on: bool) -> None:
    assert config_from_args(build_parser().parse_args(argv)).rtsp.enabled is rtsp_on


def test_output_flags_fill_outputs_config() -> None:
    args = build_parser().parse_args(
        ["--save", "d", "--segment", "60", "--keep-segments", "10", "--keep-bytes", "1.5G"]
    )
    o = config_from_args(args).outputs
    assert (o.save_dir, o.segment_s, o.keep_segments, o.keep_bytes) == ("d", 60, 10, 1536 << 20)


def test_launch_lines() -> None:
    v = VideoConfig()
    r = rtmp_launch(v, "rtmp://h/live/x")
    assert "flvmux name=mux streamable=true ! rtmpsink" in r and 'location="rtmp://h/live/x"' in r
    assert "leaky-type=downstream" in r and "max-bytes=" in r
    s = record_launch(v, "/d/rec-%05d.mkv", 300)
    assert "muxer-factory=matroskamux" in s and "max-size-time=300000000000" in s
    p = publish_launch(v, "rtsp://h/cam")
    assert "rtspclientsink" in p and "protocols=tcp" in p


@pytest.mark.parametrize(
    ("sizes", "keep_n", "keep_b", "remove"),
    [
        ([10, 10, 10, 10], 0, 0, 0),
        ([10, 10, 10, 10], 2, 0, 2),
        ([10, 10, 10, 10], 0, 25, 2),
        ([10, 10, 10, 10], 3, 15, 3),
        ([10, 10, 100], 0, 50, 2),  # never the open (last) file
        ([], 3, 10, 0),
    ],
)
def test_plan_retention(sizes: list[int], keep_n: int, keep_b: int, remove: int) -> None:
    assert plan_retention(sizes, keep_n, keep_b) == remove


def test_output_status_in_the_stats_line() -> None:
    o = OutputStatus("rtmp", "rtmp://h/live/x", "retrying", bytes=2_500_000, errors=3)
    snap = Snapshot(1.0, 1, 1.0, 0, 0, 0, 1, None, 1, outputs=(o,))
    assert snap.line().endswith("rtmp=retrying/2.5MB/err3") and not o.connected


def test_help_has_one_outputs_group() -> None:
    text = build_parser().format_help()
    group = text[text.index("outputs:") :]
    for flag in ("--rtmp", "--save", "--segment", "--keep-segments", "--keep-bytes", "--publish"):
        assert flag in group
