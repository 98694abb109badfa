"""ONVIF wired into the real service: Home Assistant's client (onvif-zeep-async) finds one
profile per stream on the HTTP port, behind the same users as RTSP, and every stream URI it is
given plays with ffprobe."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
import zeep.exceptions

from camera_streaming.config import HttpConfig, OnvifConfig
from camera_streaming.config.model import Substream
from support.env import free_port
from support.fakes import ffprobe_stream, make_config, running
from support.onvif import home_assistant_sequence

pytestmark = pytest.mark.integration
USERS = (("admin", "secret"),)


def test_profiles_and_stream_uris_of_main_and_sub(port: int) -> None:
    http = HttpConfig(port=free_port(), bind="127.0.0.1")
    cfg = dataclasses.replace(
        make_config(port, 320, 240, 25, http=http, auth="digest", users=USERS),
        substream=Substream(160, 120, 5),
        onvif=OnvifConfig(discovery=False),
    )
    with running(cfg) as s:
        assert s.http is not None
        seen = asyncio.run(home_assistant_sequence(s.http.port, "admin", "secret"))
        uris = list(seen["uris"].values())
        probed = [ffprobe_stream(uri.replace("rtsp://", "rtsp://admin:secret@", 1)) for uri in uris]
    assert [p.token for p in seen["profiles"]] == ["stream", "stream_sub"]
    assert uris == [f"rtsp://127.0.0.1:{port}/stream", f"rtsp://127.0.0.1:{port}/stream/sub"]
    assert [(p["width"], p["height"]) for p in probed] == [(320, 240), (160, 120)]
    assert seen["snapshot"][:2] == b"\xff\xd8"  # a JPEG, fetched with the same credentials


def test_a_wrong_password_gets_nothing(port: int) -> None:
    http = HttpConfig(port=free_port(), bind="127.0.0.1")
    cfg = make_config(port, http=http, auth="digest", users=USERS)
    with running(cfg) as s:
        assert s.http is not None
        with pytest.raises(zeep.exceptions.Fault) as caught:
            asyncio.run(home_assistant_sequence(s.http.port, "admin", "wrong"))
    assert caught.value.subcodes[0].localname == "NotAuthorized"
