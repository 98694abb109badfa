"""The ONVIF services over HTTP with onvif-zeep-async's ONVIFCamera, the client Home
Assistant uses, in Home Assistant's own order: GetCapabilities (and GetServices),
GetSystemDateAndTime, GetDeviceInformation, GetNetworkInterfaces, media
GetServiceCapabilities, GetProfiles, GetStreamUri per profile, GetSnapshotUri and the
snapshot itself; with users (the client's WS-UsernameToken) and with a wrong password."""

from __future__ import annotations

import asyncio

import pytest
import zeep.exceptions

from camera_streaming.onvif import OnvifService
from support.onvif import FACTS, home_assistant_sequence
from support.onvif_http import onvif_http_server

pytestmark = pytest.mark.integration

USERS = {"admin": "pa:ss w0rd"}


def test_home_assistant_sequence_with_users():
    with onvif_http_server(OnvifService(lambda: FACTS, USERS)) as (port, gets):
        seen = asyncio.run(home_assistant_sequence(port, "admin", USERS["admin"]))
    base = f"http://127.0.0.1:{port}/onvif/"
    assert seen["xaddrs"] == {
        "http://www.onvif.org/ver10/device/wsdl": base + "device_service",
        "http://www.onvif.org/ver10/media/wsdl": base + "media_service",
    }
    assert seen["capabilities"]["Media"]["XAddr"] == base + "media_service"
    assert seen["time"].UTCDateTime.Date.Year >= 2024
    assert seen["info"].HardwareId == "test-board"
    assert all(i.Info.HwAddress for i in seen["interfaces"])
    assert seen["media_caps"].SnapshotUri is True
    # Home Assistant uses the H264 profiles with a resolution; the first one is enabled.
    h264 = [p for p in seen["profiles"] if p.VideoEncoderConfiguration]
    assert [p.token for p in h264] == ["front_main", "front_sub", "side_sub"]
    assert h264[0].VideoEncoderConfiguration.Resolution.Width == 1920
    assert seen["uris"] == {
        "front_main": "rtsp://127.0.0.1:8554/front",
        "front_sub": "rtsp://127.0.0.1:8554/front/sub",
        "side_main": "rtsp://127.0.0.1:8554/side",
        "side_sub": "rtsp://127.0.0.1:8554/side/sub",
    }
    assert seen["snapshot_uri"] == f"http://127.0.0.1:{port}/snapshot.jpg?camera=front"
    assert seen["snapshot"][:2] == b"\xff\xd8"  # a JPEG
    assert gets == ["/snapshot.jpg?camera=front"]


def test_home_assistant_with_a_wrong_password_is_not_authorized():
    with onvif_http_server(OnvifService(lambda: FACTS, USERS)) as (port, _):
        with pytest.raises(zeep.exceptions.Fault) as caught:
            asyncio.run(home_assistant_sequence(port, "admin", "wrong"))
    assert caught.value.subcodes[0].localname == "NotAuthorized"


def test_without_users_the_client_needs_no_credentials():
    with onvif_http_server(OnvifService(lambda: FACTS, None)) as (port, _):
        # Home Assistant sends empty strings when no user is set: an empty UsernameToken.
        seen = asyncio.run(home_assistant_sequence(port, "", ""))
        with_any = asyncio.run(home_assistant_sequence(port, "anyone", "anything"))
    assert len(seen["profiles"]) == len(with_any["profiles"]) == 4
