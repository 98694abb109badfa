"""Stand-ins for gst-rtsp-server objects in unit tests of a mount's feeds."""

from __future__ import annotations

from typing import Any


class FakeAppsrc:
    """Records pushes; runs `on_push` inside push_buffer, as another thread could meanwhile.
    `level` is what `current-level-bytes` reports."""

    def __init__(self, ok: Any) -> None:
        self.pushed: list[Any] = []
        self.on_push: Any = None
        self.level = 0
        self._ok = ok

    def get_property(self, name: str) -> int:
        return self.level

    def get_base_time(self) -> int:
        return 0

    def push_buffer(self, buf: Any) -> Any:
        self.pushed.append(buf)
        if self.on_push is not None:
            hook, self.on_push = self.on_push, None
            hook()
        return self._ok


class FakeClock:
    def get_time(self) -> int:
        return 1_000_000_000


class FakeEncoder:
    """An encoder branch that counts keyframe requests."""

    def __init__(self) -> None:
        self.keyframe_requests = 0
        self.consumers: list[Any] = []

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1

    def add_consumer(self, consumer: Any) -> None:
        self.consumers.append(consumer)

    def remove_consumer(self, consumer: Any) -> None:
        self.consumers.remove(consumer)
