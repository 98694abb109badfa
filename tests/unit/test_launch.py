import pytest

from camera_streaming.config import OutputsConfig, VideoConfig
from camera_streaming.gst.launch import (
    ELEMENT_PACKAGES,
    H264_CAPS,
    H265_CAPS,
    PUBLISH_ELEMENTS,
    RECORD_ELEMENTS,
    RTMP_ELEMENTS,
    client_media_launch,
    client_queue_bytes,
    encoder_launch,
    input_frame_size,
    native_probe_launch,
    native_split_launch,
    output_elements,
    publish_launch,
    raw_caps,
    record_launch,
    rtmp_launch,
)


def test_encoder_launch_forces_i420_and_the_seed_x264_settings() -> None:
    s = encoder_launch(VideoConfig(width=1920, height=1080, fps=30, bitrate_kbps=4000))
    assert "format=I420,width=1920,height=1080,framerate=30/1" in s
    x264 = s[s.index("x264enc") :]
    for prop in (
        "tune=zerolatency",
        "speed-preset=superfast",
        "bitrate=4000",
        "key-int-max=30",
        "bframes=0",
    ):
        assert prop in x264
    # I420 caps sit right before the encoder, or x264enc picks 4:4:4.
    assert s.index(raw_caps(VideoConfig(width=1920, height=1080, fps=30))) < s.index("x264enc")


def test_bgr_input_is_converted_to_i420_before_the_encoder() -> None:
    video = VideoConfig(width=640, height=360, fps=10)
    s = encoder_launch(video, input_format="BGR")
    src = s[: s.index("!")]
    assert "caps=video/x-raw,format=BGR,width=640,height=360,framerate=10/1" in src
    assert s.index("videoconvert") < s.index(raw_caps(video)) < s.index("x264enc")
    assert input_frame_size(video, "BGR") == 640 * 360 * 3
    assert input_frame_size(video) == video.i420_size
    with pytest.raises(ValueError):
        encoder_launch(video, input_format="RGBA")


def test_encoder_input_is_bounded_and_leaky() -> None:
    s = encoder_launch(VideoConfig(), input_queue=2)
    src = s[: s.index("!")]
    assert "is-live=true" in src and "max-buffers=2" in src
    assert "leaky-type=downstream" in src and "block=false" in src
    assert "appsink name=sink" in s and "drop=true" in s and "max-buffers=8" in s


def test_client_media_has_no_encoder_and_a_bounded_queue() -> None:
    v = VideoConfig(bitrate_kbps=8000)
    s = client_media_launch(v)
    assert s.startswith("( ") and s.endswith(" )")
    assert "x264enc" not in s and "rtph264pay name=pay0" in s
    assert f"max-bytes={client_queue_bytes(v)}" in s and "leaky-type=downstream" in s
    assert client_queue_bytes(v) == 1_000_000
    assert client_queue_bytes(VideoConfig(bitrate_kbps=100)) == 256 * 1024


def test_native_source_replaces_the_appsrc_and_starts_gated() -> None:
    video = VideoConfig(width=640, height=480, fps=15)
    text = encoder_launch(video, native_source="v4l2src device=/dev/video0")
    assert text.startswith("v4l2src device=/dev/video0 ! videoconvert ! videoscale ! videorate")
    assert "appsrc" not in text
    assert "format=I420,width=640,height=480,framerate=15/1" in text
    assert "valve name=gate drop=true" in text
    assert text.index("gate") < text.index("x264enc") < text.index("appsink name=sink")


def test_native_source_that_delivers_the_rate_gets_no_videorate() -> None:
    video, sub = VideoConfig(fps=30), VideoConfig(width=640, height=360, fps=10)
    text = encoder_launch(video, native_source="v4l2src", native_rate=False)
    assert "videorate" not in text
    assert "videoscale ! video/x-raw,format=I420,width=1280,height=720,framerate=30/1" in text
    split = native_split_launch("v4l2src", [(video, None), (sub, None)], rate=False)
    first, second = split.split("t. ! ")[1:]
    assert "videorate" not in first and "videorate drop-only=true" in second
    probe = native_probe_launch(video, "videotestsrc")
    assert probe.startswith("videotestsrc is-live=true ! videoconvert ! videoscale ! ")
    assert "videorate" not in probe and probe.endswith("framerate=30/1 ! fakesink name=probe")


def test_native_videotestsrc_is_made_live() -> None:
    text = encoder_launch(VideoConfig(), native_source="videotestsrc pattern=ball")
    assert text.startswith("videotestsrc is-live=true pattern=ball !")
    text = encoder_launch(VideoConfig(), native_source="videotestsrc is-live=false")
    assert text.startswith("videotestsrc is-live=false !")  # the user's choice is kept


@pytest.mark.parametrize(
    ("codec", "caps", "parser", "other"),
    [("h264", H264_CAPS, "h264parse", "h265parse"), ("h265", H265_CAPS, "h265parse", "h264parse")],
)
def test_record_and_publish_follow_codec(codec: str, caps: str, parser: str, other: str) -> None:
    video = VideoConfig(codec=codec)
    record = record_launch(video, "/d/rec-%05d.mkv", 60)
    publish = publish_launch(video, "rtsp://h/c")
    assert f"caps={caps} ! {parser} ! splitmuxsink name=sink" in record
    assert f"caps={caps} ! {parser} ! rtspclientsink name=sink" in publish
    assert other not in record + publish


def test_rtmp_is_h264_only() -> None:
    text = rtmp_launch(VideoConfig(), "rtmp://h/live/x")
    assert f"caps={H264_CAPS} ! h264parse ! video/x-h264,stream-format=avc" in text
    with pytest.raises(ValueError, match="H.264 only"):
        rtmp_launch(VideoConfig(codec="h265"), "rtmp://h/live/x")


def test_output_elements_follow_the_codec() -> None:
    everything = OutputsConfig(rtmp_url="rtmp://h/a/b", save_dir="d", publish_url="rtsp://h/c")
    h264 = output_elements(everything, "h264")
    assert set(h264) == {*RTMP_ELEMENTS, *RECORD_ELEMENTS, *PUBLISH_ELEMENTS}
    assert len(h264) == len(set(h264))  # each element named once
    saved = output_elements(OutputsConfig(save_dir="d", publish_url="rtsp://h/c"), "h265")
    assert saved == (
        "appsrc", "h265parse", "splitmuxsink", "matroskamux", "rtph265pay", "rtspclientsink"
    )  # fmt: skip
    assert output_elements(OutputsConfig(), "h265") == ()
    assert all(e in ELEMENT_PACKAGES for e in (*h264, *saved))
