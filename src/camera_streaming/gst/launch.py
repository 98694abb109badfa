"""GStreamer launch strings and caps, as pure functions (no gi import): unit-tested directly."""

from __future__ import annotations

from ..config.model import OutputsConfig, VideoConfig
from .encoder_catalog import DEFAULT, PACKAGES, EncoderSpec

# Which Debian package provides each element we use (for one-line "install X" errors).
ELEMENT_PACKAGES = {
    **PACKAGES,
    "appsrc": "gstreamer1.0-plugins-base",
    "appsink": "gstreamer1.0-plugins-base",
    "x264enc": "gstreamer1.0-plugins-ugly",
    "h264parse": "gstreamer1.0-plugins-bad",
    "h265parse": "gstreamer1.0-plugins-bad",
    "rtph264pay": "gstreamer1.0-plugins-good",
    "rtph265pay": "gstreamer1.0-plugins-good",
    "flvmux": "gstreamer1.0-plugins-good",
    "rtmpsink": "gstreamer1.0-plugins-bad",
    "splitmuxsink": "gstreamer1.0-plugins-good",
    "matroskamux": "gstreamer1.0-plugins-good",
    "rtspclientsink": "gstreamer1.0-rtsp",
}

ENCODER_ELEMENTS = ("appsrc", "x264enc", "h264parse", "appsink")
CLIENT_ELEMENTS = ("appsrc", "rtph264pay")
# The outputs' elements with H.264; `output_elements()` gives them for either codec.
RTMP_ELEMENTS = ("appsrc", "h264parse", "flvmux", "rtmpsink")
RECORD_ELEMENTS = ("appsrc", "h264parse", "splitmuxsink", "matroskamux")
PUBLISH_ELEMENTS = ("appsrc", "h264parse", "rtph264pay", "rtspclientsink")
RTMP_CODECS = ("h264",)  # FLV (and so RTMP) carries H.264 only; Matroska and RTSP take both

H264_CAPS = "video/x-h264,stream-format=byte-stream,alignment=au"
H265_CAPS = "video/x-h265,stream-format=byte-stream,alignment=au"


def encoded_caps(codec: str) -> str:
    return H265_CAPS if codec == "h265" else H264_CAPS


def payloader(codec: str) -> str:
    return "rtph265pay" if codec == "h265" else "rtph264pay"


def parser(codec: str) -> str:
    return "h265parse" if codec == "h265" else "h264parse"


def output_elements(outputs: OutputsConfig, codec: str) -> tuple[str, ...]:
    """Every element the enabled outputs need for a stream of `codec`, each named once.
    rtspclientsink picks its payloader itself, so publishing needs rtph264pay or rtph265pay
    too. RTMP with a codec FLV cannot carry is refused by `config.validate`, not here."""
    parse = parser(codec)
    wanted = (
        *(("appsrc", parse, "flvmux", "rtmpsink") if outputs.rtmp_url else ()),
        *(("appsrc", parse, "splitmuxsink", "matroskamux") if outputs.save_dir else ()),
        *(("appsrc", parse, payloader(codec), "rtspclientsink") if outputs.publish_url else ()),
    )
    return tuple(dict.fromkeys(wanted))


def encoder_elements(encoder: EncoderSpec) -> tuple[str, ...]:
    """Every element the encoder pipeline needs with this encoder."""
    return ("appsrc", *encoder.elements, "appsink")


def client_elements(codec: str) -> tuple[str, ...]:
    return ("appsrc", payloader(codec))


def raw_caps(video: VideoConfig, fmt: str = "I420") -> str:
    """Caps of raw frames: I420 forced before the encoder, or x264enc negotiates 4:4:4
    (docs/gstreamer.md, "I420 before x264enc")."""
    return (
        f"video/x-raw,format={fmt},width={video.width},height={video.height},"
        f"framerate={video.fps}/1"
    )


INPUT_FORMATS = ("I420", "BGR")  # what an encoder pipeline's appsrc takes


def input_frame_size(video: VideoConfig, fmt: str = "I420") -> int:
    """Bytes of one frame pushed in `fmt`."""
    return video.i420_size if fmt == "I420" else video.width * video.height * 3


def x264_properties(video: VideoConfig) -> str:
    """The C++ original's x264 settings: zerolatency, superfast, no B-frames, bitrate in kbps."""
    return DEFAULT["h264"].properties(video)


NATIVE_ELEMENTS = ("videoconvert", "videoscale", "videorate", "valve")
NATIVE_SPLIT_ELEMENTS = ("tee", "queue")


def branch_name(base: str, index: int) -> str:
    """Element names in an encoder pipeline: `sink`, `gate`, `enc` for the first stream,
    `sink1`, `gate1`, `enc1` ... for the others (a `gst:` camera with several streams)."""
    return base if index == 0 else f"{base}{index}"


def _live(fragment: str) -> str:
    """A `videotestsrc` without `is-live` would run as fast as the encoder allows: made live."""
    if fragment.split()[0] == "videotestsrc" and "is-live" not in fragment:
        return fragment.replace("videotestsrc", "videotestsrc is-live=true", 1)
    return fragment


def native_branch(video: VideoConfig, index: int = 0, rate: bool = True) -> str:
    """Scale and rate one stream's share of a `gst:` source's frames. The converters pass
    buffers through untouched when the source already matches; the gate valve keeps frames
    from this stream's encoder while nobody wants them (H264Encoder.update_gate).

    `rate=False` leaves `videorate` out, for a source that negotiates the stream's rate
    itself (`native_probe_launch`): videorate holds the previous frame, so the source's
    pool needs one frame more (1.4 MB at 720p, docs/gstreamer.md, "videorate holds a
    frame")."""
    rate_step = "videorate drop-only=true ! " if rate else ""
    return (
        f"videoscale ! {rate_step}{raw_caps(video)} "
        f"! valve name={branch_name('gate', index)} drop=true drop-mode=forward-sticky-events"
    )


def native_head(video: VideoConfig, fragment: str, rate: bool = True) -> str:
    """A `gst:` source fragment made to deliver the configured I420 size and rate."""
    return f"{_live(fragment)} ! videoconvert ! {native_branch(video, 0, rate)}"


def native_probe_launch(video: VideoConfig, fragment: str) -> str:
    """The `gst:` source into a fakesink through the first stream's branch without
    `videorate`: when it negotiates, the source delivers the stream's rate itself."""
    head = f"{_live(fragment)} ! videoconvert ! videoscale"
    return f"{head} ! {raw_caps(video)} ! fakesink name=probe"


def encoder_tail(video: VideoConfig, encoder: EncoderSpec | None, index: int = 0) -> str:
    """Encoder, parser and the appsink whose `new-sample` handler fans access units out."""
    enc = encoder or DEFAULT.get(video.codec, DEFAULT["h264"])
    return (
        f"{enc.launch(video, branch_name('enc', index))} "
        f"! {enc.parser} config-interval=-1 ! {encoded_caps(enc.codec)} "
        f"! appsink name={branch_name('sink', index)} emit-signals=true sync=false "
        f"max-buffers=8 drop=true"
    )


def encoder_launch(
    video: VideoConfig,
    input_queue: int = 2,
    encoder: EncoderSpec | None = None,
    native_source: str | None = None,
    input_format: str = "I420",
    native_rate: bool = True,
) -> str:
    """One stream's encoder pipeline: our frames in through a bounded appsrc (or, for a `gst:`
    source, the source's own elements), H.264/H.265 access units out through an appsink.
    `encoder` defaults to x264enc (x265enc for h265); see `encoder_catalog.select_encoder`.
    BGR frames are converted to I420 by `videoconvert` in the encoder's streaming thread.
    `native_rate`: whether a `gst:` source's branch needs `videorate` (`native_branch`)."""
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"input format {input_format!r}: one of {INPUT_FORMATS}")
    convert = "" if input_format == "I420" else "videoconvert ! "
    head = (
        native_head(video, native_source, native_rate)
        if native_source
        else f"appsrc name=src is-live=true format=time do-timestamp=true block=false "
        f"max-buffers={input_queue} max-bytes=0 leaky-type=downstream "
        f"caps={raw_caps(video, input_format)} ! {convert}{raw_caps(video)}"
    )
    return f"{head} ! {encoder_tail(video, encoder)}"


def native_split_launch(
    fragment: str, streams: list[tuple[VideoConfig, EncoderSpec | None]], rate: bool = True
) -> str:
    """A `gst:` camera with several streams: one source, a tee, and per stream a leaky queue
    (a stream whose encoder falls behind drops its own frames, never holds up the others),
    its scale/rate/gate and its own encoder. No Python per frame. `rate=False`: the first
    stream's branch has no `videorate` (the source delivers its rate); the others keep it."""
    branches = " ".join(
        f"t. ! queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream "
        f"! {native_branch(video, i, rate or i > 0)} ! {encoder_tail(video, spec, i)}"
        for i, (video, spec) in enumerate(streams)
    )
    return f"{_live(fragment)} ! videoconvert ! tee name=t {branches}"


def client_queue_bytes(video: VideoConfig) -> int:
    """Bound of one client's appsrc queue: about one second of video, at least 256 KiB."""
    return max(256 * 1024, video.bitrate_kbps * 1000 // 8)


def client_media_launch(video: VideoConfig) -> str:
    """The light per-client media: already-encoded access units in, RTP out. No encoder here.

    SPS/PPS travel in-band before every IDR (h264parse config-interval=-1 in the encoder);
    the payloader must not insert them again (config-interval=0): the doubled parameter sets
    it adds after the AUD make ffmpeg's decoder corrupt every P-frame.
    """
    return (
        f"( appsrc name=src is-live=true format=time do-timestamp=true block=false "
        f"max-buffers=0 max-bytes={client_queue_bytes(video)} leaky-type=downstream "
        f"caps={encoded_caps(video.codec)} "
        f"! {payloader(video.codec)} name=pay0 pt=96 config-interval=0 "
        f"aggregate-mode=zero-latency )"
    )


def output_appsrc(video: VideoConfig) -> str:
    """The head of every output pipeline (RTMP, recording, publish): encoded access units of
    the stream's codec in, bounded to about one second, the oldest dropped when full
    (docs/gstreamer.md, facts 6 and 7), then the codec's parser, which converts to what the muxer or
    payloader downstream asks for. PTS are set by the pusher to the pipeline's running time
    (do-timestamp stamps only keyframes)."""
    return (
        f"appsrc name=src is-live=true format=time do-timestamp=false block=false "
        f"max-buffers=0 max-bytes={client_queue_bytes(video)} leaky-type=downstream "
        f"caps={encoded_caps(video.codec)} ! {parser(video.codec)}"
    )


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rtmp_launch(video: VideoConfig, url: str) -> str:
    """FLV over RTMP: `... ! flvmux streamable=true ! rtmpsink`. H.264 only (FLV has no
    H.265); `config.validate` refuses `--rtmp` with another codec before we get here."""
    if video.codec not in RTMP_CODECS:
        raise ValueError(f"FLV/RTMP carries H.264 only, not {video.codec}")
    return (
        f"{output_appsrc(video)} ! video/x-h264,stream-format=avc,alignment=au "
        f"! flvmux name=mux streamable=true ! rtmpsink name=sink location={_quoted(url)}"
    )


def record_launch(video: VideoConfig, location: str, segment_s: float) -> str:
    """Matroska segments (H.264 or H.265) through splitmuxsink. The muxer is named by
    factory, which needs async-finalize=true (the `muxer` object property is too late once the
    launch line has linked the sink: its default mp4mux exists by then)."""
    return (
        f"{output_appsrc(video)} ! splitmuxsink name=sink location={_quoted(location)} "
        f"max-size-time={int(segment_s * 1e9)} max-size-bytes=0 "
        f"async-finalize=true muxer-factory=matroskamux"
    )


def publish_launch(video: VideoConfig, url: str) -> str:
    """RTSP ANNOUNCE/RECORD to a media server (interleaved over the RTSP TCP connection).
    rtspclientsink picks the payloader for the caps: rtph264pay or rtph265pay."""
    return (
        f"{output_appsrc(video)} ! rtspclientsink name=sink location={_quoted(url)} "
        f"protocols=tcp latency=0"
    )
