from camera_streaming.telemetry.stats import (
    FpsMeter,
    Snapshot,
    allocator_in_use,
    average_fps,
    format_uptime,
    summary_line,
)
from support.fakes import FakeClock


def test_fps_meter_counts_a_sliding_window() -> None:
    clock = FakeClock()
    m = FpsMeter(window=1.0, clock=clock)
    for _ in range(30):
        m.tick()
        clock.advance(1 / 30)
    assert 29 <= m.fps <= 31
    clock.advance(2.0)
    assert m.fps == 0


def test_average_and_uptime() -> None:
    assert average_fps(300, 10) == 30
    assert average_fps(5, 0) == 0
    assert format_uptime(3725) == "1:02:05"
    assert summary_line(250, 10) == "total frames=250 run time=0:00:10 average fps=25.00"


def test_stats_line_has_the_seed_fields() -> None:
    s = Snapshot(
        uptime_s=61,
        frames=1500,
        fps=25.0,
        dropped=3,
        clients=2,
        sessions=2,
        rss_bytes=45_000_000,
        heap_bytes=20_000_000,
        encoded=1400,
    )
    line = s.line()
    for part in (
        "frames=1500",
        "fps=25.0",
        "uptime=0:01:01",
        "rss=45.0MB",
        "dropped=3",
        "clients=2",
        "heap=20.00MB",
    ):
        assert part in line


def test_allocator_in_use_reads_glibc() -> None:
    value = allocator_in_use()
    assert value is not None and value > 100_000
    blob = bytearray(8_000_000)
    assert allocator_in_use() >= value + 7_000_000  # type: ignore[operator]
    del blob
