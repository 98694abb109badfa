"""`/view/<stream path>`: a page with one `<video>` playing the stream live (docs/browser.md),
and the player script it shares with the status page (`player.js`, read once).

Query: `mode=auto` (the default: WebRTC when the page has it, else MSE), `mse` or `webrtc`;
`latency=1` reads the test pattern's capture time from every frame shown into
`window.__player.latency` (tests, benchmarks)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

MODES = ("auto", "mse", "webrtc")
HTML = "text/html; charset=utf-8"

_VIEW = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__ - camera-streaming</title><link rel="icon" href="data:,">
<style>html,body{margin:0;height:100%;background:#000}
video{display:block;width:100%;height:100%;object-fit:contain}</style>
</head><body>
<video id="video" muted autoplay playsinline></video>
<script>__PLAYER__</script>
<script>startPlayer(document.getElementById("video"), __PATH__, __OPTIONS__);</script>
</body></html>
"""

_NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>no such stream - camera-streaming</title>
</head><body style="font:14px system-ui,sans-serif;margin:2em">
<h1 style="font-size:18px">No stream at __TITLE__</h1><p>Streams:</p><ul>__LIST__</ul>
<p><a href="/">status page</a></p></body></html>
"""

_player: str | None = None


def player_script() -> str:
    """The player (player.js) and its WHEP client (`playWebRTC`: `auto` tries WebRTC first,
    falling back to MSE within 3 s), safe to put inside a `<script>` element."""
    global _player
    if _player is None:
        from .webrtc.player_js import PLAY_WEBRTC_JS

        text = resources.files("camera_streaming.web").joinpath("player.js").read_text("utf-8")
        _player = (text + "\n" + PLAY_WEBRTC_JS).replace("</", "<\\/")
    return _player


def stream_paths(info: Mapping[str, Any]) -> list[str]:
    """Every stream's path (`/stream`, `/front/sub`) from `describe()`."""
    return [s["path"] for c in info.get("cameras", ()) for s in c.get("streams", ())]


def script_value(value: Any) -> str:
    """`value` as a JavaScript literal inside a `<script>` element."""
    return json.dumps(value).replace("</", "<\\/")


def view_reply(
    info: Mapping[str, Any], path: str, query: Mapping[str, str]
) -> tuple[int, bytes, str]:
    """The player page for `/view/<stream path>`, or a 404 page listing the streams."""
    stream = "/" + path.removeprefix("/view/").strip("/")
    paths = stream_paths(info)
    if stream not in paths:
        items = "".join(
            f'<li><a href="/view{html.escape(p)}">{html.escape(p)}</a></li>' for p in paths
        )
        page = _NOT_FOUND.replace("__TITLE__", html.escape(stream)).replace("__LIST__", items)
        return 404, page.encode(), HTML
    mode = query.get("mode", "auto")
    options = {"mode": mode if mode in MODES else "auto", "latency": query.get("latency") == "1"}
    page = (
        _VIEW.replace("__TITLE__", html.escape(stream))
        .replace("__PATH__", script_value(stream))
        .replace("__OPTIONS__", script_value(options))
        .replace("__PLAYER__", player_script())
    )
    return 200, page.encode(), HTML
