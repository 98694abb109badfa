"""A client's feed into its RTSP media, as a pure state machine (no GStreamer): what to do with
each access unit the encoder delivers, and what a PLAY does.

  PRIMING   media configured (DESCRIBE): the next IDR is pushed so the media can preroll
  PRIMED    the stream is blocked until PLAY; nothing is pushed
  WAIT_KEY  PLAY seen (or the client fell behind): deltas are skipped until a keyframe
  LIVE      every access unit is pushed
"""

from __future__ import annotations

from typing import Any

PRIMING, PRIMED, WAIT_KEY, LIVE = "priming", "primed", "wait-key", "live"
SKIP, PUSH, BEHIND = "skip", "push", "behind"


def deliver_action(state: str, is_key: bool, queue_full: bool) -> str:
    """SKIP (not for this feed now), PUSH, or BEHIND: the client's queue is full. Dropping one
    access unit mid-GOP would corrupt every frame until the next IDR, so a feed that is behind
    goes back to WAIT_KEY: the client sees a freeze of at most one GOP, not garbage, and a
    slow client does not force extra IDRs on everyone."""
    if state == PRIMED or (not is_key and state != LIVE):
        return SKIP
    return BEHIND if queue_full else PUSH


def after_push(state: str) -> str:
    """PRIMING -> PRIMED (the priming IDR is in), WAIT_KEY -> LIVE (the keyframe is in)."""
    return {PRIMING: PRIMED, WAIT_KEY: LIVE}.get(state, state)


def on_play(state: str, shared: bool) -> str:
    """A PLAY: wait for a keyframe, except on a shared media already live (it keeps flowing
    to the other clients; the IDR requested for the newcomer lets it start decoding)."""
    return state if shared and state == LIVE else WAIT_KEY


class ClientFeed:
    """One media's input. Touched by the encoder thread (pushes, PRIMING -> PRIMED and
    WAIT_KEY -> LIVE) and the GLib thread (PLAY); state changes take the mount's lock,
    pushes in the LIVE state take none."""

    __slots__ = ("key", "appsrc", "state", "pushed", "dropped")

    def __init__(self, key: str, appsrc: Any) -> None:
        self.key = key
        self.appsrc = appsrc
        self.state = PRIMING
        self.pushed = 0
        self.dropped = 0
