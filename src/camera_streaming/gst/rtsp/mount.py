"""One RTSP mount: a stream's media factory and the feeds of its medias, fed with the stream's
access units. Light medias (`appsrc ! rtph264pay`), in one of two fan-outs (docs/rtsp.md):

  per-client  a media per client: each has its own streaming and sending threads.
  shared      one media for every client of the mount, built and prepared by the server at
              start (the "anchor") and held prepared until stop, so the clients never tear it
              down: one streaming and one sending thread for all its clients.

Why the anchor: stock gst-rtsp-server 1.22.0 aborts in `gst_rtsp_media_get_rates` under
concurrent client churn when a shared media is torn down by its last client while another
joins (docs/gstreamer.md, fact 17). Held prepared, it is never torn down.

A feed is dropped on the media's `unprepared` signal or when a push returns FLUSHING (the
client went away): no reference to a dead media or appsrc is kept (docs/gstreamer.md, facts 8
and 9). The feed states are in `feeds.py`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ...config.model import VideoConfig
from ..encoder import EncodedBranch
from ..launch import client_media_launch, client_queue_bytes
from ..runtime import Gst, GstRtsp, GstRtspServer
from .auth import allow_viewers
from .feeds import (
    BEHIND,
    LIVE,
    PRIMED,
    PUSH,
    SKIP,
    WAIT_KEY,
    ClientFeed,
    after_push,
    deliver_action,
    on_play,
)

log = logging.getLogger(__name__)

SHARED_IDLE_S = 5.0  # shared fan-out: stop pushing this long after the last PLAY/TEARDOWN


class SharedMediaFactory(GstRtspServer.RTSPMediaFactory):
    """A shared factory that maps every URL of its mount to one media: the default key has the
    query string in it, so `.../stream?x` would build a second media that nothing anchors."""

    def do_gen_key(self, _url: Any) -> str:
        return "anchored"


class Mount:
    """Serves one stream's encoder output at `path`."""

    def __init__(
        self, path: str, video: VideoConfig, encoder: EncodedBranch, shared: bool, clock: Any
    ) -> None:
        self.path = path
        self.video = video
        self.encoder = encoder
        self.shared = shared
        self._clock = clock  # the clock every media pipeline runs on
        self._lock = threading.Lock()
        self._feeds: dict[str, ClientFeed] = {}
        self._feed_list: tuple[ClientFeed, ...] = ()
        self.factory: Any = None
        self._anchor: Any = None  # the prepared shared media (shared fan-out)
        self._anchoring: threading.Thread | None = None
        self._preparing: Any = None  # the media the anchoring thread is preparing
        self._stopped = False
        self.players: set[Any] = set()  # clients that sent PLAY here and no TEARDOWN since
        self._last_play = float("-inf")
        self._queue_bytes = client_queue_bytes(video)
        self.medias_configured = 0
        self.medias_released = 0
        self.dropped = 0  # access units dropped because a client's queue was full
        self.bytes_sent = 0  # encoded bytes pushed into clients' media
        self.keyframe_requests = 0

    def make_factory(self, auth: bool, tls: bool) -> Any:
        factory = SharedMediaFactory() if self.shared else GstRtspServer.RTSPMediaFactory()
        factory.set_launch(client_media_launch(self.video))
        factory.set_shared(self.shared)
        if auth:
            allow_viewers(factory)
        if tls:  # RTSPS protects the control connection and interleaved RTP only
            factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
        factory.connect("media-configure", self._on_media_configure)
        self.factory = factory
        self.encoder.add_consumer(self)
        return factory

    def stop(self) -> None:
        """No more pushes; each media's appsrc flushing so its streaming thread stops sending
        (before the server removes the sessions: see RtspServer.stop)."""
        self.encoder.remove_consumer(self)
        with self._lock:
            self._stopped = True
            feeds = list(self._feeds.values())
            self._feeds.clear()
            self._feed_list = ()
            self.players.clear()
        for feed in feeds:
            feed.appsrc.send_event(Gst.Event.new_flush_start())

    def release(self) -> None:
        """After the server stopped: wait for a pending anchor, unprepare the held media."""
        with self._lock:
            anchoring = self._anchoring
        if anchoring is not None:
            anchoring.join(0.5)
            preparing = self._preparing
            if anchoring.is_alive() and preparing is not None:
                # Still prerolling: no frame has come (an API camera nobody pushed to).
                # Unpreparing wakes the waiting prepare(), which then fails and returns.
                preparing.unprepare()
            anchoring.join(10)
        with self._lock:
            media, self._anchor = self._anchor, None
        if media is not None:
            media.unprepare()
        self.factory = None

    # -- figures -----------------------------------------------------------------------------
    @property
    def feeds(self) -> int:
        return len(self._feed_list)

    @property
    def live_feeds(self) -> int:
        return sum(1 for f in self._feed_list if f.state == LIVE)

    @property
    def anchored(self) -> int:
        return 1 if self._anchor is not None else 0

    @property
    def wants_frames(self) -> bool:
        return any(f.state != PRIMED for f in self._feed_list)

    # -- encoder output (encoder streaming thread) -------------------------------------------
    def deliver(self, buffer: Any, is_key: bool) -> None:
        now = self._clock.get_time()
        size = 0
        for feed in self._feed_list:
            state = feed.state
            appsrc = feed.appsrc
            action = deliver_action(state, is_key, False)
            if action == PUSH and appsrc.get_property("current-level-bytes") >= self._queue_bytes:
                action = deliver_action(state, is_key, True)
            if action == SKIP:
                continue
            if action == BEHIND:
                feed.dropped += 1
                self.dropped += 1
                feed.state = WAIT_KEY
                continue
            out = buffer.copy()  # shallow: shares the encoded memory
            # Rebase to this media's running time. Before its pipeline runs (base time 0)
            # appsrc's do-timestamp stamps the priming keyframe when it is dequeued; it
            # cannot be left to do that for deltas (it stamps only keyframes' PTS).
            base = appsrc.get_base_time()
            out.pts = out.dts = now - base if base and now > base else Gst.CLOCK_TIME_NONE
            if appsrc.push_buffer(out) != Gst.FlowReturn.OK:
                # FLUSHING/EOS: this client's media is being torn down - detach, not an error.
                self._drop_feed(feed.key)
                continue
            feed.pushed += 1
            size = size or buffer.get_size()
            self.bytes_sent += size
            new = after_push(state)
            if new != state:
                self._advance(feed, state, new)

    def _advance(self, feed: ClientFeed, expected: str, new: str) -> None:
        """Move `feed` from `expected` to `new` unless the GLib thread changed it meanwhile:
        a PLAY (WAIT_KEY) landing while the priming keyframe was being pushed must not be
        overwritten with PRIMED, or the client never goes live (it gets one frame)."""
        with self._lock:
            if feed.state == expected:
                feed.state = new

    # -- gst-rtsp-server signals (GLib thread) -----------------------------------------------
    def _on_media_configure(self, _factory: Any, media: Any) -> None:
        element = media.get_element()
        key = element.get_name()
        feed = ClientFeed(key, element.get_by_name("src"))
        media.connect("unprepared", self._on_media_unprepared)
        with self._lock:
            self._feeds[key] = feed
            self._feed_list = tuple(self._feeds.values())
        self.medias_configured += 1
        self.request_keyframe()

    def _on_media_unprepared(self, media: Any) -> None:
        self.medias_released += 1
        self._drop_feed(media.get_element().get_name())
        with self._lock:
            if media is self._anchor:  # an error tore it down: the cleanup timer re-anchors
                self._anchor = None

    def _drop_feed(self, key: str) -> None:
        with self._lock:
            if self._feeds.pop(key, None) is not None:
                self._feed_list = tuple(self._feeds.values())

    def owns(self, media_key: str) -> bool:
        return media_key in self._feeds

    def play(self, client: Any, media_key: str) -> None:
        """A client's PLAY of one of this mount's medias."""
        with self._lock:
            self._last_play = time.monotonic()
            self.players.add(client)
            feed = self._feeds.get(media_key)
            if feed is not None:
                feed.state = on_play(feed.state, self.shared)
        if feed is not None:
            self.request_keyframe()

    def forget(self, client: Any) -> None:
        """The client sent TEARDOWN or closed."""
        with self._lock:
            self.players.discard(client)

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self.encoder.request_keyframe()

    # -- the shared media's anchor -----------------------------------------------------------
    def start_anchor(self, port: int) -> None:
        """Build and prepare the shared media in a worker thread: `prepare()` blocks until the
        media prerolls on an IDR that the encoder thread delivers, with its bus served by the
        GLib thread, so it can run on neither (from the GLib thread it fails)."""
        with self._lock:
            if self._anchoring is not None or self._anchor is not None or self._stopped:
                return
            self._anchoring = threading.Thread(
                target=self._anchor_shared_media, args=(port,), name="rtsp-anchor", daemon=True
            )
            self._anchoring.start()

    def _anchor_shared_media(self, port: int) -> None:
        try:
            factory = self.factory
            res, url = GstRtsp.RTSPUrl.parse(f"rtsp://127.0.0.1:{port}{self.path}")
            media = factory.construct(url) if factory and res == GstRtsp.RTSPResult.OK else None
            self._preparing = media
            if media is None or not media.prepare(None):
                if not self._stopped:
                    log.warning(
                        "could not prepare the shared RTSP media of %s; retrying", self.path
                    )
                return
            with self._lock:
                stopped = self._stopped
                if not stopped:
                    self._anchor = media
            if stopped:
                media.unprepare()
            else:
                log.debug("shared RTSP media of %s prepared", self.path)
        finally:
            with self._lock:
                self._anchoring = self._preparing = None

    def tick(self, now: float, port: int) -> None:
        """Once per cleanup period (GLib thread), shared fan-out only: once no client plays
        (none has sent PLAY without a TEARDOWN since, and none did in the last few seconds),
        stop pushing so that the encoder can stop; the next PLAY asks for an IDR and starts it
        again. Re-anchor a media an error tore down."""
        if not self.shared:
            return
        with self._lock:
            idle = now - self._last_play >= SHARED_IDLE_S and not self.players
            if idle:
                for feed in self._feed_list:
                    if feed.state in (LIVE, WAIT_KEY):
                        feed.state = PRIMED
        if self._anchor is None:
            self.start_anchor(port)
