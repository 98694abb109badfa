"""Sources read through OpenCV: V4L2 cameras and video files."""

from __future__ import annotations

import logging
import os

import cv2
import numpy as np

from ..errors import SourceError
from .base import FrameSource

log = logging.getLogger(__name__)


def _device_path(location: str) -> str:
    return f"/dev/video{location}" if location.isdigit() else location


class _OpenCvSource(FrameSource):
    """What both OpenCV sources share: frames read into one reused array, released on close.
    `_rewind()` is asked once when a read fails (files loop; cameras do not)."""

    _cap: cv2.VideoCapture | None = None
    _frame: np.ndarray | None = None

    def _rewind(self) -> bool:
        return False

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        ok, frame = self._cap.read(self._frame)
        if not ok and self._rewind():
            ok, frame = self._cap.read(self._frame)
        if not ok or frame is None:
            return None
        self._frame = frame
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._frame = None


class CameraSource(_OpenCvSource):
    """A V4L2 camera (`/dev/videoN`) asked for the configured size and rate. Frames are read
    into one reused array."""

    paced = True

    def __init__(self, device: str, width: int, height: int, fps: int) -> None:
        self.device = _device_path(device)
        self.name = f"v4l2:{self.device}"
        self.width, self.height, self.fps = width, height, fps
        self._cap: cv2.VideoCapture | None = None
        self._frame: np.ndarray | None = None

    def open(self) -> None:
        if not os.path.exists(self.device):
            raise SourceError(
                f"camera {self.device} does not exist: check the device with "
                f"'ls /dev/video*' or use --source test"
            )
        cap = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"camera {self.device} cannot be opened (busy or not a capture "
                f"device): check 'v4l2-ctl --list-devices' or use --source test"
            )
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap
        log.info(
            "camera %s opened at %dx%d",
            self.device,
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )


class FileSource(_OpenCvSource):
    """A video file read with OpenCV, looped when `loop` is set, paced by the caller."""

    paced = False

    def __init__(self, path: str, loop: bool = True) -> None:
        self.path = path
        self.loop = loop
        self.name = f"file:{path}"
        self._cap: cv2.VideoCapture | None = None
        self._frame: np.ndarray | None = None

    def open(self) -> None:
        if not os.path.isfile(self.path):
            raise SourceError(
                f"file {self.path} does not exist: check the path given to --source file:PATH"
            )
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"file {self.path} cannot be decoded by OpenCV: convert it with ffmpeg to H.264 MP4"
            )
        self._cap = cap

    def _rewind(self) -> bool:
        if not self.loop or self._cap is None:
            return False
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        return True
