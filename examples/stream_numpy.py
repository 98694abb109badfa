"""Stream your own NumPy frames over RTSP.

    python examples/stream_numpy.py
    ffplay -rtsp_transport tcp rtsp://127.0.0.1:8554/stream

Frames are BGR uint8 arrays (what OpenCV gives you); other sizes are resized to the stream's.
"""

import time

import cv2
import numpy as np

from camera_streaming import RtspStreamer


def main() -> None:
    width, height, fps = 1280, 720, 30
    frame = np.zeros((height, width, 3), np.uint8)
    with RtspStreamer(width=width, height=height, fps=fps, port=8554, path="/stream") as s:
        print(f"streaming at {s.url} (Ctrl-C to stop)")
        t0, i = time.monotonic(), 0
        try:
            while True:
                frame[:] = (40, 40, 40)
                x = int((i * 8) % width)
                cv2.rectangle(frame, (x, 200), (x + 120, 320), (0, 200, 255), -1)
                cv2.putText(
                    frame,
                    f"frame {i}  clients: {'yes' if s.has_client else 'no'}",
                    (40, 80),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    1.5,
                    (255, 255, 255),
                    3,
                )
                s.push_frame(frame)
                i += 1
                time.sleep(max(0.0, t0 + i / fps - time.monotonic()))
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
