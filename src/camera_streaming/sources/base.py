"""The frame-source interface: one small ABC, one module per implementation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class FrameSource(ABC):
    """Produces BGR frames (H x W x 3, uint8).

    `read()` may return the same array object every call (a buffer the source reuses): the
    caller must be done with a frame before reading the next. `paced` sources (cameras) block
    until a frame is due; unpaced ones (test pattern, files) are paced by the caller's clock.
    """

    name: str = "source"
    paced: bool = False

    @abstractmethod
    def open(self) -> None:
        """Open the device or file; raise `SourceError` with a one-line reason."""

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """Return the next frame, or None when the source failed or ended."""

    @abstractmethod
    def close(self) -> None:
        """Release the device or file; safe to call twice."""
