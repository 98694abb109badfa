"""Encoder selection against fake element registries, and the launch string of every encoder."""

from __future__ import annotations

import pytest

from camera_streaming.config import VideoConfig
from camera_streaming.errors import ConfigError, MissingElementError
from camera_streaming.gst.encoder_catalog import (
    BY_NAME,
    ENCODERS,
    encoder_table,
    select_encoder,
)
from camera_streaming.gst.launch import client_media_launch, encoder_launch, raw_caps

COMMON = {"appsrc", "appsink", "videoconvert", "h264parse", "h265parse"}
ROCKCHIP = COMMON | {"mpph264enc", "mpph265enc", "x264enc"}
RPI = COMMON | {"v4l2h264enc", "x264enc", "openh264enc"}
JETSON = COMMON | {"nvv4l2h264enc", "nvv4l2h265enc", "nvvidconv", "x264enc"}
INTEL = COMMON | {"vaapih264enc", "vaapih265enc", "x264enc", "x265enc"}
X86 = COMMON | {"x264enc", "x265enc", "openh264enc"}


@pytest.mark.parametrize(
    ("available", "codec", "picked"),
    [
        (ROCKCHIP, "h264", "mpph264enc"),
        (ROCKCHIP, "h265", "mpph265enc"),
        (RPI, "h264", "v4l2h264enc"),
        (JETSON, "h264", "nvv4l2h264enc"),
        (JETSON, "h265", "nvv4l2h265enc"),
        (JETSON - {"nvvidconv"}, "h264", "x264enc"),  # encoder without its converter
        (INTEL, "h264", "vaapih264enc"),
        (X86, "h264", "x264enc"),
        (X86, "h265", "x265enc"),
        (COMMON | {"openh264enc"}, "h264", "openh264enc"),
        (ROCKCHIP | RPI | JETSON | INTEL, "h264", "mpph264enc"),  # best first
    ],
)
def test_auto_picks_the_best_usable_encoder(available: set, codec: str, picked: str) -> None:
    assert select_encoder(available, "auto", codec).name == picked


def test_nothing_installed_names_x264_and_its_package() -> None:
    with pytest.raises(MissingElementError) as err:
        select_encoder(COMMON)
    assert err.value.element == "x264enc"
    assert "gstreamer1.0-plugins-ugly" in str(err.value)


def test_missing_parser_is_named() -> None:
    with pytest.raises(MissingElementError) as err:
        select_encoder({"x264enc"})
    assert err.value.element == "h264parse" and "plugins-bad" in str(err.value)


def test_forced_encoder() -> None:
    assert select_encoder(X86, "openh264enc").name == "openh264enc"
    with pytest.raises(MissingElementError, match="vaapih264enc.*gstreamer1.0-vaapi"):
        select_encoder(X86, "vaapih264enc")
    with pytest.raises(ConfigError) as err:
        select_encoder(X86, "nvenc")
    assert err.value.field == "encoder" and "x264enc" in str(err.value)
    with pytest.raises(ConfigError, match="h264, not h265"):
        select_encoder(X86, "x264enc", "h265")
    with pytest.raises(ConfigError, match="codec"):
        select_encoder(X86, "auto", "vp8")


def test_encoder_table_marks_present_and_picked() -> None:
    rows = {r[0]: r for r in encoder_table(RPI)}
    assert rows["v4l2h264enc"][2:4] == ("present", "<- auto")
    assert rows["x264enc"][2:4] == ("present", "")
    assert rows["mpph264enc"][2] == "absent"
    assert len(rows) == len(ENCODERS)


V = VideoConfig(width=1920, height=1080, fps=30, bitrate_kbps=4000, keyframe_interval_s=2)

# (element, bitrate as the element wants it, keyframe interval property)
EXPECTED = {
    "x264enc": ("bitrate=4000 ", "key-int-max=60"),
    "x265enc": ("bitrate=4000 ", "key-int-max=60"),
    "openh264enc": ("bitrate=4000000 ", "gop-size=60"),
    "mpph264enc": ("bps=4000000 ", "gop=60"),
    "mpph265enc": ("bps=4000000 ", "gop=60"),
    "v4l2h264enc": ("video_bitrate=4000000,", "h264_i_frame_period=60"),
    "v4l2h265enc": ("video_bitrate=4000000", ""),
    "nvv4l2h264enc": ("bitrate=4000000 ", "iframeinterval=60"),
    "nvv4l2h265enc": ("bitrate=4000000 ", "idrinterval=60"),
    "vaapih264enc": ("bitrate=4000 ", "keyframe-period=60"),
    "vaapih265enc": ("bitrate=4000 ", "keyframe-period=60"),
}


@pytest.mark.parametrize("spec", ENCODERS, ids=lambda e: e.name)
def test_launch_string_per_encoder(spec: object) -> None:
    e = BY_NAME[spec.name]  # type: ignore[attr-defined]
    s = encoder_launch(V, 2, e)
    bitrate, gop = EXPECTED[e.name]
    enc = s[s.index(f"{e.name} name=enc") :].split(" ! ")[0]
    assert bitrate in enc + " " and gop in enc
    # our frames are I420; the encoder's own format conversion sits between
    assert s.index(raw_caps(V)) < s.index(e.name)
    if e.pre:
        assert s.index(e.pre) < s.index(f"{e.name} name=enc")
    parser = "h264parse" if e.codec == "h264" else "h265parse"
    assert f"! {parser} config-interval=-1 ! video/x-{e.codec}," in s
    assert s.endswith("appsink name=sink emit-signals=true sync=false max-buffers=8 drop=true")


def test_hardware_encoders_get_nv12() -> None:
    for name in ("mpph264enc", "v4l2h264enc", "vaapih264enc"):
        assert "videoconvert ! video/x-raw,format=NV12 ! " + name in encoder_launch(
            V, 2, BY_NAME[name]
        )
    assert "nvvidconv ! video/x-raw(memory:NVMM),format=NV12 ! nvv4l2h264enc" in encoder_launch(
        V, 2, BY_NAME["nvv4l2h264enc"]
    )


OLD_X264 = (
    "appsrc name=src is-live=true format=time do-timestamp=true block=false "
    "max-buffers=2 max-bytes=0 leaky-type=downstream "
    "caps=video/x-raw,format=I420,width=1280,height=720,framerate=25/1 "
    "! video/x-raw,format=I420,width=1280,height=720,framerate=25/1 "
    "! x264enc name=enc tune=zerolatency speed-preset=superfast bitrate=2000 "
    "key-int-max=25 bframes=0 byte-stream=true "
    "! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au "
    "! appsink name=sink emit-signals=true sync=false max-buffers=8 drop=true"
)


def test_default_x264_launch_is_unchanged() -> None:
    assert encoder_launch(VideoConfig()) == OLD_X264
    assert encoder_launch(VideoConfig(), 2, BY_NAME["x264enc"]) == OLD_X264


def test_small_streams_run_one_x264_thread() -> None:
    sub = encoder_launch(VideoConfig(width=640, height=360, fps=10, bitrate_kbps=500))
    assert sub.split("x264enc", 1)[1].split("!")[0].rstrip().endswith("threads=1")
    assert "threads=" not in encoder_launch(VideoConfig(width=1280, height=720, fps=25))


def test_h265_client_media_uses_rtph265pay() -> None:
    s = client_media_launch(VideoConfig(codec="h265"))
    assert "rtph265pay name=pay0" in s and "video/x-h265" in s and "264" not in s
    assert "rtph264pay name=pay0" in client_media_launch(VideoConfig())
    assert "x265enc name=enc" in encoder_launch(VideoConfig(codec="h265"))


def test_fallbacks_are_the_next_usable_encoders() -> None:
    from camera_streaming.gst.encoder_catalog import fallbacks

    names = [e.name for e in fallbacks(BY_NAME["mpph264enc"], ROCKCHIP | {"openh264enc"})]
    assert names == ["x264enc", "openh264enc"]
    assert fallbacks(BY_NAME["openh264enc"], X86) == []
    assert [e.name for e in fallbacks(BY_NAME["nvv4l2h265enc"], JETSON | X86)] == ["x265enc"]
