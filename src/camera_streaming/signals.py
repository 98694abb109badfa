"""Signals for the command line: SIGINT/SIGTERM ask the streamer to stop, a second SIGINT
exits at once, SIGHUP is ignored; the previous handlers come back on exit."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

log = logging.getLogger("camera_streaming")


class CapturedSignals:
    """SIGINT/SIGTERM ask the streamer to stop; a second SIGINT exits at once. Handlers are
    restored on exit."""

    def __init__(self, streamer: Any) -> None:
        self.streamer = streamer
        self.count = 0
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> CapturedSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._saved[sig] = signal.signal(sig, self._handle)
        self._saved[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_IGN)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.count += 1
        if self.count > 1 and signum == signal.SIGINT:
            sys.stderr.write("camera-streaming: second interrupt, exiting now\n")
            os._exit(130)
        if self.count > 1:
            # Stopping already. A SIGTERM often comes twice: `make run` or a shell forwards
            # the one sent to it, and `kill`/systemd send theirs to the whole group.
            log.debug("%s received again while stopping", signal.Signals(signum).name)
            return
        log.info("%s received, stopping", signal.Signals(signum).name)
        self.streamer.request_stop()
