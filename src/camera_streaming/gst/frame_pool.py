"""The encoder's pool of raw frame buffers, filled by the pushing thread and released by the
pipeline once the encoder has taken the frame.

It starts with one buffer and allocates on demand, up to a bound: the encoder has released
a frame long before the next one is due, so a paced stream reuses one buffer. GstBufferPool
hands out its free buffers first in, first out, so a buffer it holds is used in turn and
stays resident: a load spike that made it allocate a second frame would keep it for the
pipeline's life. `trim()` undoes that: the next `acquire()` starts a fresh pool and the old
one frees its buffers as they come back (docs/memory.md, "The frame pool")."""

from __future__ import annotations

from typing import Any

from .runtime import Gst

POOL_MIN = 1  # buffers allocated when the pool starts


class FramePool:
    """Buffers of `size` bytes with `caps`, at most `max_buffers` at once. One thread calls
    `acquire()` (and `set_active()`/`close()` under the same rules); `trim()` may come from
    any thread."""

    def __init__(self, caps: str, size: int, max_buffers: int) -> None:
        self._caps = Gst.Caps.from_string(caps)
        self._size, self._max = size, max_buffers
        params = Gst.BufferPoolAcquireParams()
        params.flags = Gst.BufferPoolAcquireFlags.DONTWAIT
        self._params = params
        self._seen: set[int] = set()  # the buffers handed out since the pool started
        self._renew = False
        self.renewals = 0
        self._pool = self._start()

    def _start(self) -> Any:
        self._seen = set()
        pool = Gst.BufferPool.new()
        cfg = pool.get_config()
        Gst.BufferPool.config_set_params(cfg, self._caps, self._size, POOL_MIN, self._max)
        pool.set_config(cfg)
        pool.set_active(True)
        return pool

    @property
    def buffers(self) -> int:
        """How many buffers the pool has handed out since it (re)started."""
        return len(self._seen)

    def acquire(self) -> Any | None:
        """A free buffer, or None when all `max_buffers` are out (or the pool is inactive)."""
        if self._renew:
            self._renew = False
            old, self._pool = self._pool, self._start()
            old.set_active(False)  # buffers still in the pipeline are freed as they return
            self.renewals += 1
        ret, buf = self._pool.acquire_buffer(self._params)
        if ret != Gst.FlowReturn.OK or buf is None:
            return None
        self._seen.add(hash(buf))  # a boxed buffer hashes by its C pointer
        return buf

    def trim(self) -> None:
        """Have the next `acquire()` start a fresh pool, when this one has handed out more
        than `POOL_MIN` buffers. A stream that needs them makes the new pool grow again."""
        if len(self._seen) > POOL_MIN:
            self._renew = True

    def set_active(self, active: bool) -> None:
        """Inactive frees every buffer (as each comes back); active allocates `POOL_MIN`."""
        self._pool.set_active(active)
        self._seen = set()

    def close(self) -> None:
        self._pool.set_active(False)
