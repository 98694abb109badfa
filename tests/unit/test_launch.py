from camera_streaming.config import VideoConfig
from camera_streaming.gst.launch import (
    client_media_launch,
    client_queue_bytes,
    encoder_launch,
    raw_caps,
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


def test_native_videotestsrc_is_made_live() -> None:
    text = encoder_launch(VideoConfig(), native_source="videotestsrc pattern=ball")
    assert text.startswith("videotestsrc is-live=true pattern=ball !")
    text = encoder_launch(VideoConfig(), native_source="videotestsrc is-live=false")
    assert text.startswith("videotestsrc is-live=false !")  # the user's choice is kept
