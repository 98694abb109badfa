import cv2
import numpy as np
import pytest

from camera_streaming.frames.processor import FrameProcessor, resize_interpolation
from camera_streaming.sources.pattern import TestPatternSource, read_code, write_code


def test_resize_interpolation_choice() -> None:
    assert resize_interpolation(640, 480, 640, 480) is None
    assert resize_interpolation(1920, 1080, 1280, 720) == cv2.INTER_AREA
    assert resize_interpolation(320, 240, 1280, 720) == cv2.INTER_LINEAR


def test_processor_reuses_its_buffers() -> None:
    p = FrameProcessor(64, 48)
    a = p.process(np.zeros((96, 128, 3), np.uint8))
    b = p.process(np.full((48, 64, 3), 200, np.uint8))
    assert a is b and a.shape == (72, 64)


def test_processor_resizes_and_converts() -> None:
    p = FrameProcessor(64, 48)
    out = p.process(np.full((30, 40, 3), 255, np.uint8))
    assert out.shape == (72, 64) and abs(int(out[:48].mean()) - 235) <= 20


def test_hook_draws_on_a_copy_not_the_callers_frame() -> None:
    seen = []

    def hook(frame: np.ndarray) -> None:
        seen.append(frame.shape)
        frame[:] = 255

    p = FrameProcessor(32, 32, hook)
    src = np.zeros((32, 32, 3), np.uint8)
    out = p.process(src)
    assert seen == [(32, 32, 3)] and src.max() == 0 and out[:32].min() > 200


def test_hook_errors_are_counted_and_streaming_continues(caplog: pytest.LogCaptureFixture) -> None:
    def hook(frame: np.ndarray) -> None:
        raise RuntimeError("boom")

    p = FrameProcessor(16, 16, hook)
    for _ in range(3):
        p.process(np.zeros((16, 16, 3), np.uint8))
    assert p.hook_errors == 3
    assert sum("frame hook raised" in r.message for r in caplog.records) == 1


def test_gray_and_bgra_frames_are_accepted() -> None:
    p = FrameProcessor(16, 16)
    assert p.process(np.zeros((16, 16), np.uint8)).shape == (24, 16)
    assert p.process(np.zeros((8, 8, 4), np.uint8)).shape == (24, 16)
    with pytest.raises(ValueError):
        p.process(np.zeros((16, 16, 3), np.float32))


@pytest.mark.parametrize(("w", "h"), [(320, 240), (1280, 720), (1920, 1080)])
def test_code_survives_jpeg_round_trip(w: int, h: int) -> None:
    frame = np.random.default_rng(1).integers(0, 255, (h, w, 3), np.uint8)
    write_code(frame, 123456789, 4_000_000_123)
    ok, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 40])
    assert ok
    decoded = cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE)
    assert read_code(decoded) == (123456789, 4_000_000_123)


def test_frame_without_code_reads_none() -> None:
    assert read_code(np.full((240, 320), 128, np.uint8)) is None


def test_pattern_moves_and_counts() -> None:
    src = TestPatternSource(320, 240, 30)
    src.open()
    a = src.read().copy()  # type: ignore[union-attr]
    b = src.read()
    assert b is not None and not np.array_equal(a, b)
    assert read_code(a)[0] == 0 and read_code(b)[0] == 1  # type: ignore[index]
    src.close()
    assert src.read() is None


def test_latest_frame_copies_only_on_demand_and_caches_the_jpeg() -> None:
    import threading
    import time

    import cv2

    from camera_streaming.frames.processor import LatestFrame

    latest = LatestFrame(max_fps=4, keep_s=10)
    frame = np.zeros((48, 64, 3), np.uint8)
    assert not latest.due(time.monotonic())  # nobody asked: no copies
    assert latest.jpeg(wait_s=0.05) is None  # no frame yet

    stop = threading.Event()

    def frames() -> None:  # the frame path, 50 fps
        while not stop.is_set():
            now = time.monotonic()
            if latest.due(now):
                frame[:] = 200
                latest.keep(frame, now)
            time.sleep(0.02)

    t = threading.Thread(target=frames)
    t.start()
    try:
        jpeg = latest.jpeg()
        assert jpeg is not None and latest.encodes == 1
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (48, 64, 3) and abs(int(img.mean()) - 200) < 3
        assert latest.jpeg() is jpeg  # cached within 1/max_fps
        time.sleep(0.3)
        latest.jpeg()
        assert latest.encodes == 2
    finally:
        stop.set()
        t.join()
    assert latest._kept is not None and latest._kept is not frame  # one reused copy


def test_a_module_function_hook_loads() -> None:
    """`--hook json:dumps` (a dotted module, not a file) imports the module."""
    import json

    from camera_streaming.frames.processor import load_hook

    assert load_hook("json:dumps") is json.dumps
    assert load_hook("os.path:join")("a", "b") == "a/b"
