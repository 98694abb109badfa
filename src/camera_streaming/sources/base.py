"""The frame-source interface: one small ABC, one module per implementation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ..frames.i420 import I420Frame


class FrameSource(ABC):
    """Produces BGR frames (H x W x 3, uint8); a source listing "I420" in `formats` can be
    switched to I420 frames (`I420Frame`, `use_i420()`), for a camera whose frames need no BGR
    on their way to the encoders.

    `read()` may return the same array object every call (a buffer the source reuses): the
    caller must be done with a frame before reading the next. `paced` sources (cameras) block
    until a frame is due; unpaced ones (test pattern, files) are paced by the caller's clock.
    """

    name: str = "source"
    paced: bool = False
    formats: tuple[str, ...] = ("BGR",)

    def use_i420(self) -> None:
        """Make `read()` return `I420Frame`s (sources whose `formats` list "I420")."""
        raise NotImplementedError(f"{self.name} makes BGR frames only")

    @abstractmethod
    def open(self) -> None:
        """Open the device or file; raise `SourceError` with a one-line reason."""

    @abstractmethod
    def read(self) -> np.ndarray | I420Frame | None:
        """Return the next frame, or None when the source failed or ended."""

    @abstractmethod
    def close(self) -> None:
        """Release the device or file; safe to call twice."""
