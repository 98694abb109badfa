"""A frame hook for `--hook`: draws the wall-clock time on every streamed frame.

    camera-streaming --rtsp --hook examples/hook_draw_time.py:draw

The hook gets the BGR frame at the stream's size, draws in place, and must be quick.
"""

import time

import cv2
import numpy as np


def draw(frame: np.ndarray) -> None:
    cv2.putText(
        frame,
        time.strftime("%H:%M:%S"),
        (20, frame.shape[0] - 20),
        cv2.FONT_HERSHEY_SIMPLEX,
        1.0,
        (0, 255, 0),
        2,
    )
