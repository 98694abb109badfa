"""A frame hook that needs NumPy alone (loaded by path, `--hook <this file>:stamp`): a run
with it has a hook but no reason to load OpenCV."""

from __future__ import annotations

import numpy as np


def stamp(frame: np.ndarray) -> None:
    frame[-4:, -4:] = 255
