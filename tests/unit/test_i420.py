"""I420 frames: the colour maths, the test pattern drawn straight in I420 (its frame code
readable after conversion, its picture the same as the BGR pattern's), the snapshot of an
I420 frame, and which input each stream's encoder takes."""

import time

import cv2
import numpy as np
import pytest

from camera_streaming.config import VideoConfig
from camera_streaming.frames.i420 import (
    BT601,
    BT709,
    I420Buffer,
    I420Frame,
    luma_chroma_matrix,
    yuv_of,
)
from camera_streaming.frames.processor import LatestFrame
from camera_streaming.sources import pattern
from camera_streaming.sources.pattern import (
    CODE_BITS,
    HISTORY,
    TestPatternSource,
    code_cell,
    read_code,
)
from camera_streaming.streams.stream import input_format


def test_limited_range_colours_in_both_matrices() -> None:
    for height in (480, 720):
        assert yuv_of((255, 255, 255), height) == (235, 128, 128)
        assert yuv_of((0, 0, 0), height) == (16, 128, 128)
    assert yuv_of((0, 0, 255), 480) == (81, 90, 240)  # BT.601 red
    assert yuv_of((0, 0, 255), 720) == (63, 102, 240)  # BT.709 red
    assert luma_chroma_matrix(576) == BT601 and luma_chroma_matrix(578) == BT709


def test_i420_frame_planes_are_views_of_one_buffer() -> None:
    frame = I420Buffer.empty(8, 4)
    frame.y[:] = 1
    frame.u[:] = 2
    frame.v[:] = 3
    assert frame.data.tolist() == [1] * 32 + [2] * 8 + [3] * 8
    assert frame.shape == (4, 8)
    with pytest.raises(ValueError, match="even size"):
        I420Buffer.empty(7, 4)
    with pytest.raises(ValueError, match="needs 48 bytes"):
        I420Buffer(np.zeros(47, np.uint8), 8, 4)


@pytest.mark.parametrize(("w", "h"), [(320, 240), (1280, 720)])
def test_the_i420_pattern_is_the_bgr_pattern_without_a_conversion(w: int, h: int) -> None:
    bgr_src, yuv_src = TestPatternSource(w, h, 30), TestPatternSource(w, h, 30)
    bgr_src.open()
    yuv_src.open()
    yuv_src.use_i420()  # switched while open, as a camera does after opening its source
    for _ in range(45):
        bgr = bgr_src.read()
        yuv = yuv_src.read()
        assert isinstance(yuv, I420Frame) and isinstance(bgr, np.ndarray)
    seen = yuv.to_bgr()  # OpenCV converts with BT.601: a small shift at 720p
    code = read_code(seen)
    assert code is not None and code[0] == 44
    assert abs(code[1] - (int(time.monotonic() * 1000) & 0xFFFFFFFF)) < 1000
    below = code_cell(w, h) * 2  # the code's time cells differ; the rest is the same picture
    diff = np.abs(seen[below:].astype(np.int16) - bgr[below:].astype(np.int16))
    assert diff.mean() < 12 and np.percentile(diff, 99) < 60, (diff.mean(), diff.max())


def test_the_i420_pattern_draws_into_any_buffer_and_keeps_the_code_grey(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A buffer that holds a recent frame is only brought up to date; it must end up the same
    as a buffer drawn from nothing, whatever it held (junk, an old frame, a half-drawn one)."""
    w, h = 320, 240
    src = TestPatternSource(w, h, 30)
    src.use_i420()
    src.open()
    size = w * h * 3 // 2
    rng = np.random.default_rng(1)
    paint, calls = pattern._paint_i420, []

    def fail_second(*args: object) -> None:  # paints the bar, fails on the disc
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("stopped")
        paint(*args)  # type: ignore[arg-type]

    pool = [rng.integers(0, 256, size, np.uint8) for _ in range(3)]  # cycled, as a pool is
    old = np.empty(size, np.uint8)
    for i in range(HISTORY + 40):
        frame = src.read()
        assert isinstance(frame, I420Frame) and frame.shape == (h, w) and frame.size == size
        fresh = rng.integers(0, 256, size, np.uint8)  # junk: drawn whole
        frame.fill(fresh)
        frame.fill(pool[i % 3])  # held frame i - 3: only its shapes painted over
        assert np.array_equal(pool[i % 3], fresh), i
        if i == 0:
            frame.fill(old)
        if i == HISTORY + 5:  # `old` holds frame 0: forgotten by now, drawn whole
            frame.fill(old)
            assert np.array_equal(old, fresh)
        if i == 55:  # a draw that fails half-way (the bar now clear of the code) reads unknown
            monkeypatch.setattr(pattern, "_paint_i420", fail_second)
            with pytest.raises(RuntimeError):
                frame.fill(pool[2])  # held frame 53; now the bar of frame 55 and code 53
            monkeypatch.undo()
    buffer = I420Buffer(fresh, w, h)
    cell = code_cell(w, h)
    assert (buffer.u[:cell, : CODE_BITS * cell // 2] == 128).all()  # only luma carries the code
    code = read_code(frame.to_bgr())
    assert code is not None and code[0] == HISTORY + 39
    src.close()
    assert src.read() is None


def test_only_sources_that_say_so_switch_to_i420() -> None:
    from camera_streaming.sources.opencv import FileSource

    assert "I420" in TestPatternSource.formats and "I420" not in FileSource.formats
    with pytest.raises(NotImplementedError, match="BGR frames only"):
        FileSource("x.mp4").use_i420()
    with pytest.raises(ValueError, match="even size"):
        TestPatternSource(321, 240, 30).use_i420()


def test_a_snapshot_of_an_i420_frame_is_converted_when_asked_for() -> None:
    latest = LatestFrame(max_fps=4, keep_s=10)
    frame = I420Buffer.empty(64, 48)
    frame.y[:], frame.u[:], frame.v[:] = 235, 128, 128  # white
    latest.jpeg(wait_s=0.0)  # asks: the next frame is kept
    assert latest.due(time.monotonic())
    latest.keep(frame, time.monotonic())
    frame.y[:] = 16  # the kept copy is the frame as it was
    jpeg = latest.jpeg(wait_s=0.0)
    assert jpeg is not None
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (48, 64, 3) and img.mean() > 245


def test_a_snapshot_of_the_pattern_is_drawn_into_its_copy() -> None:
    src = TestPatternSource(320, 240, 30)
    src.use_i420()
    src.open()
    latest = LatestFrame(max_fps=1e6, keep_s=10)  # no JPEG cached between the two
    codes = []
    for i in range(12):
        frame = src.read()
        latest.jpeg(wait_s=0.0)  # asks again: every frame is kept
        if i in (4, 9):  # the second draw finds frame 4 in its copy and brings it up to date
            if i == 9:
                kept = latest._kept
                assert kept is not None and src._held(kept[: 320 * 240].reshape(240, 320))
            latest.keep(frame, time.monotonic())
            jpeg = latest.jpeg(wait_s=0.0)
            assert jpeg is not None
            codes.append(read_code(cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1)))
    assert [c[0] for c in codes if c is not None] == [4, 9]


def test_which_input_each_encoder_takes() -> None:
    main, sub = VideoConfig(1280, 720, 30), VideoConfig(640, 360, 10)
    cap = (1280, 720)
    assert input_format(cap, main, opencv=False, i420=True) == "I420"  # copied as it is
    assert input_format(cap, main, opencv=False, i420=False) == "BGR"  # videoconvert
    assert input_format(cap, main, opencv=True, i420=False) == "I420"  # OpenCV converts
    assert input_format(cap, sub, opencv=False, i420=False) == "I420"  # OpenCV resizes
