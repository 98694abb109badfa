"""The viewer queue policy: start on a keyframe, bounded, skip to the next keyframe when
behind, count drops."""

from __future__ import annotations

from camera_streaming.streams.consumer import KeyframeQueue


def test_starts_on_a_keyframe() -> None:
    q: KeyframeQueue[str] = KeyframeQueue(max_units=4)
    assert not q.offer("d0", 10, False) and (q.waited, q.dropped) == (1, 0)  # not started yet
    assert q.offer("k1", 10, True) and q.offer("d1", 10, False)
    assert [q.take(), q.take(), q.take()] == ["k1", "d1", None]


def test_full_queue_skips_to_the_next_keyframe() -> None:
    q: KeyframeQueue[str] = KeyframeQueue(max_units=3)
    for unit, key in (("k", True), ("d1", False), ("d2", False)):
        assert q.offer(unit, 1, key)
    assert not q.offer("d3", 1, False)  # full: all three queued and d3 go
    assert len(q) == 0 and q.dropped == 4 and q.skips == 1 and q.waiting_key
    assert not q.offer("d4", 1, False) and q.dropped == 5
    assert q.offer("k2", 1, True) and q.take() == "k2"


def test_a_keyframe_arriving_when_full_replaces_the_backlog() -> None:
    q: KeyframeQueue[str] = KeyframeQueue(max_units=10, max_bytes=100)
    assert q.offer("k", 60, True) and q.offer("d", 30, False)
    assert q.offer("k2", 50, True)  # 140 bytes would not fit: the backlog goes, k2 stays
    assert q.dropped == 2 and q.bytes == 50 and q.take() == "k2"


def test_bytes_are_accounted() -> None:
    q: KeyframeQueue[bytes] = KeyframeQueue()
    q.offer(b"x" * 5, 5, True)
    q.offer(b"y" * 7, 7, False)
    assert q.bytes == 12
    q.take()
    assert q.bytes == 7
    q.clear()
    assert q.bytes == 0 and len(q) == 0
