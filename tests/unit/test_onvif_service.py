"""The ONVIF device and media services through `OnvifService.handle`: every operation's reply
is valid against the ONVIF schema (lxml's XSD validator) and reads in zeep's strict mode,
carries the real values, and anything else is a SOAP fault, never a traceback."""

from __future__ import annotations

import time

import psutil
import pytest
import zeep.exceptions
from lxml import etree

from camera_streaming.onvif import OnvifService
from camera_streaming.onvif.model import Context, split_host
from camera_streaming.onvif.soap import CONTENT_TYPE, MAX_REQUEST_BYTES
from support.onvif import (
    ENV,
    FACTS,
    NS,
    PROFILES,
    TDS,
    TRT,
    fault_of,
    soap_request,
    validate_payload,
    validate_reply,
    zeep_read,
)

DEVICE = "/onvif/device_service"
MEDIA = "/onvif/media_service"
HOST = "192.0.2.7:8080"
STREAM_SETUP = (
    "<x:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
    "<tt:Transport><tt:Protocol>{}</tt:Protocol></tt:Transport></x:StreamSetup>"
)


OPTIONS = "GetVideoEncoderConfigurationOptions"


def token(name: str, value: str) -> str:
    return f"<x:{name}>{value}</x:{name}>"


def request(op: str, ns: str = TRT, **params: str) -> bytes:
    return soap_request(op, ns, "".join(token(k, v) for k, v in params.items()))


@pytest.fixture
def service() -> OnvifService:
    return OnvifService(lambda: FACTS, None, clock=lambda: 1_700_000_000.0)


def ok(service: OnvifService, op: str, ns: str = TDS, inner: str = "", host: str = HOST):
    """The reply's payload, checked by both validators; returns (payload, zeep's reading)."""
    path = DEVICE if ns == TDS else MEDIA
    status, body, ctype = service.handle(path, soap_request(op, ns, inner), {}, host)
    assert (status, ctype) == (200, CONTENT_TYPE), body
    payload = validate_reply(body)
    assert etree.QName(payload).localname == op + "Response"
    return payload, zeep_read(body, op, "device" if ns == TDS else "media")


def ok_media(service: OnvifService, op: str, **params: str):
    return ok(service, op, TRT, "".join(token(k, v) for k, v in params.items()))


def fault(service: OnvifService, body: bytes, path: str = DEVICE, **kw: object):
    status, reply, ctype = service.handle(path, body, {}, HOST, **kw)  # type: ignore[arg-type]
    assert ctype == CONTENT_TYPE
    return (status, *fault_of(reply))


# Device service


def test_get_capabilities_points_at_the_host_the_request_came_in_on(service):
    _, caps = ok(service, "GetCapabilities", inner=token("Category", "All"))
    assert caps.Device.XAddr == "http://192.0.2.7:8080/onvif/device_service"
    assert caps.Media.XAddr == "http://192.0.2.7:8080/onvif/media_service"
    assert caps.Media.StreamingCapabilities.RTP_RTSP_TCP is True
    assert caps.Events is None and caps.PTZ is None and caps.Imaging is None
    _, media_only = ok(service, "GetCapabilities", inner=token("Category", "Media"))
    assert media_only.Device is None and media_only.Media is not None


def test_get_capabilities_of_a_missing_service_is_no_such_service(service):
    status, code, subcodes, _ = fault(service, request("GetCapabilities", TDS, Category="PTZ"))
    assert (status, code) == (500, "env:Receiver")
    assert subcodes == ["ter:ActionNotSupported", "ter:NoSuchService"]


def test_get_services_lists_device_and_media_only(service):
    _, services = ok(service, "GetServices", inner=token("IncludeCapability", "true"))
    assert [(s.Namespace, s.XAddr) for s in services] == [
        (TDS, "http://192.0.2.7:8080/onvif/device_service"),
        (TRT, "http://192.0.2.7:8080/onvif/media_service"),
    ]
    payload, _ = ok(service, "GetServices", inner=token("IncludeCapability", "true"))
    media_caps = payload.find(".//trt:Capabilities", NS)
    assert media_caps is not None and media_caps.get("SnapshotUri") == "true"
    validate_payload(media_caps)
    payload, _ = ok(service, "GetServices", inner=token("IncludeCapability", "false"))
    assert payload.find(".//tds:Capabilities", NS) is None


def test_device_service_capabilities(service):
    _, caps = ok(service, "GetServiceCapabilities")
    assert caps.Security.UsernameToken is True and caps.System.DiscoveryBye is True


def test_get_device_information(service):
    _, info = ok(service, "GetDeviceInformation")
    assert (info.Manufacturer, info.Model, info.FirmwareVersion) == (
        "camera-streaming", "camera-streaming", "0.1.0")  # fmt: skip
    assert (info.SerialNumber, info.HardwareId) == ("0123456789abcdef", "test-board")


def test_get_system_date_and_time_is_utc_with_time_before_date(service):
    payload, reply = ok(service, "GetSystemDateAndTime")
    utc = reply.UTCDateTime
    expected = time.gmtime(1_700_000_000)
    assert (utc.Date.Year, utc.Date.Month, utc.Date.Day) == expected[:3]
    assert (utc.Time.Hour, utc.Time.Minute, utc.Time.Second) == expected[3:6]
    assert reply.TimeZone.TZ == "UTC0"
    stamp = payload.find(".//tt:UTCDateTime", NS)
    assert [etree.QName(c).localname for c in stamp] == ["Time", "Date"]  # the schema's order


def test_get_network_interfaces_names_the_real_interfaces_and_macs(service):
    _, interfaces = ok(service, "GetNetworkInterfaces")
    links = {
        name: next(a.address for a in addrs if a.family == psutil.AF_LINK)
        for name, addrs in psutil.net_if_addrs().items()
        if any(a.family == psutil.AF_LINK for a in addrs)
    }
    assert interfaces
    for i in interfaces:
        assert i.Info.HwAddress == links[i.Info.Name].lower()
        assert i.token == i.Info.Name


def test_scopes_hostname_dns_ntp_discovery_mode(service):
    _, scopes = ok(service, "GetScopes")
    assert [s.ScopeItem for s in scopes] == [
        "onvif://www.onvif.org/Profile/Streaming",
        "onvif://www.onvif.org/type/video_encoder",
        "onvif://www.onvif.org/name/board-1",
        "onvif://www.onvif.org/hardware/test-board",
    ]
    _, hostname = ok(service, "GetHostname")
    assert hostname.Name == "board-1"
    ok(service, "GetDNS")
    ok(service, "GetNTP")
    _, mode = ok(service, "GetDiscoveryMode")
    assert mode == "Discoverable"


# Media service


def test_get_profiles_one_per_stream_in_order(service):
    _, profiles = ok(service, "GetProfiles", TRT)
    assert [p.token for p in profiles] == [p.token for p in PROFILES]
    main = profiles[0]
    enc = main.VideoEncoderConfiguration
    assert (enc.Encoding, enc.Resolution.Width, enc.Resolution.Height) == ("H264", 1920, 1080)
    rc = enc.RateControl
    assert (rc.FrameRateLimit, rc.EncodingInterval, rc.BitrateLimit) == (30, 1, 4000)
    assert (enc.H264.GovLength, enc.H264.H264Profile) == (60, "High")
    assert enc.Multicast.Port == 0 and enc.SessionTimeout.total_seconds() == 60
    assert main.VideoSourceConfiguration.SourceToken == "vs_front"
    assert main.VideoSourceConfiguration.Bounds.width == 1920
    sub = profiles[1]
    assert sub.VideoEncoderConfiguration.Resolution.Width == 640
    assert sub.VideoSourceConfiguration.token == main.VideoSourceConfiguration.token
    # Media ver10 has no H.265: that profile has no encoder configuration.
    assert profiles[2].VideoEncoderConfiguration is None
    assert profiles[3].VideoEncoderConfiguration.H264.H264Profile == "Baseline"


def test_get_profile_and_an_unknown_token(service):
    _, profile = ok(service, "GetProfile", TRT, token("ProfileToken", "front_sub"))
    assert profile.token == "front_sub"
    status, code, subcodes, _ = fault(service, request("GetProfile", ProfileToken="nope"), MEDIA)
    assert (status, code, subcodes) == (400, "env:Sender", ["ter:InvalidArgVal", "ter:NoProfile"])


def test_video_sources_and_configurations(service):
    _, sources = ok(service, "GetVideoSources", TRT)
    assert [(s.token, s.Resolution.Width, s.Framerate) for s in sources] == [
        ("vs_front", 1920, 30.0), ("vs_side", 1280, 25.0)]  # fmt: skip
    _, configs = ok(service, "GetVideoSourceConfigurations", TRT)
    assert [(c.token, c.UseCount) for c in configs] == [("vsc_front", 2), ("vsc_side", 2)]
    _, one = ok(
        service, "GetVideoSourceConfiguration", TRT, token("ConfigurationToken", "vsc_side")
    )
    assert one.SourceToken == "vs_side"
    _, compatible = ok_media(
        service, "GetCompatibleVideoSourceConfigurations", ProfileToken="side_sub"
    )
    assert [c.token for c in compatible] == ["vsc_side"]
    status, *_ = fault(service, request("GetVideoSourceConfiguration", ConfigurationToken="x"))
    assert status == 400


def test_video_encoder_configurations_and_options(service):
    _, configs = ok(service, "GetVideoEncoderConfigurations", TRT)
    assert [c.token for c in configs] == ["vec_front_main", "vec_front_sub", "vec_side_sub"]
    _, one = ok_media(service, "GetVideoEncoderConfiguration", ConfigurationToken="vec_side_sub")
    assert (one.RateControl.FrameRateLimit, one.H264.GovLength) == (5, 10)
    payload, options = ok_media(service, OPTIONS, ProfileToken="front_sub")
    h264 = options.H264
    assert [(r.Width, r.Height) for r in h264.ResolutionsAvailable] == [(640, 360)]
    assert (h264.FrameRateRange.Min, h264.FrameRateRange.Max) == (10, 10)
    assert (h264.GovLengthRange.Min, h264.GovLengthRange.Max) == (20, 20)
    assert h264.H264ProfilesSupported == ["High"]
    # zeep files the Extension's tt:H264 under its leading xs:any; the XSD places it right.
    bitrate = "trt:Options/tt:Extension/tt:H264/tt:BitrateRange/tt:Max"
    assert payload.findtext(bitrate, namespaces=NS) == "500"
    _, every = ok(service, "GetVideoEncoderConfigurationOptions", TRT)
    assert len(every.H264.ResolutionsAvailable) == 3
    assert every.H264.H264ProfilesSupported == ["High", "Baseline"]
    _, h265 = ok_media(service, OPTIONS, ProfileToken="side_main")
    assert h265.H264 is None


@pytest.mark.parametrize("protocol", ["RTSP", "UDP", "TCP"])
def test_get_stream_uri_uses_the_request_host_and_the_rtsp_port(service, protocol):
    inner = STREAM_SETUP.format(protocol) + token("ProfileToken", "front_sub")
    _, uri = ok(service, "GetStreamUri", TRT, inner)
    assert uri.Uri == "rtsp://192.0.2.7:8554/front/sub"
    assert (uri.InvalidAfterConnect, uri.InvalidAfterReboot) == (False, False)
    _, v6 = ok(service, "GetStreamUri", TRT, inner, host="[fe80::1]:8080")
    assert v6.Uri == "rtsp://[fe80::1]:8554/front/sub"


def test_get_stream_uri_refuses_multicast_and_http(service):
    multicast = STREAM_SETUP.replace("RTP-Unicast", "RTP-Multicast").format("UDP")
    for setup in (STREAM_SETUP.format("HTTP"), multicast):
        body = soap_request("GetStreamUri", TRT, setup + token("ProfileToken", "front_main"))
        assert fault(service, body, MEDIA)[2] == ["ter:InvalidArgVal", "ter:InvalidStreamSetup"]


def test_get_snapshot_uri_and_media_capabilities(service):
    _, uri = ok(service, "GetSnapshotUri", TRT, token("ProfileToken", "side_sub"))
    assert uri.Uri == "http://192.0.2.7:8080/snapshot.jpg?camera=side"
    _, caps = ok(service, "GetServiceCapabilities", TRT)
    assert caps.SnapshotUri is True
    assert caps.ProfileCapabilities.MaximumNumberOfProfiles == 4


def test_an_rtsps_server_gets_rtsps_uris():
    from dataclasses import replace

    facts = replace(FACTS, rtsp_scheme="rtsps", rtsp_port=8322)
    service = OnvifService(lambda: facts, None)
    inner = STREAM_SETUP.format("RTSP") + token("ProfileToken", "front_main")
    assert ok(service, "GetStreamUri", TRT, inner)[1].Uri == "rtsps://192.0.2.7:8322/front"


def test_host_header_rules():
    assert split_host("cam.local:8080") == ("cam.local", 8080)
    assert split_host("10.0.0.5") == ("10.0.0.5", None)
    assert split_host("[fe80::1%eth0]:80") == ("[fe80::1%eth0]", 80)
    for bad in ("0.0.0.0:8080", "[::]:8080", "a b", "x:99999", "<x>", "host:1:2", "[::1", ""):
        assert split_host(bad) is None, bad
    # A Host header that names no address falls back to the hostname and the HTTP port.
    ctx = Context.for_request(FACTS, "0.0.0.0:8080", 0.0)
    assert ctx.http_url("/x") == "http://board-1:8080/x"
    assert Context.for_request(FACTS, "cam", 0.0).rtsp_url("/a") == "rtsp://cam:8554/a"


# Faults and bad input


def test_an_unknown_operation_is_action_not_supported(service):
    status, code, subcodes, _ = fault(service, soap_request("SystemReboot"))
    assert (status, code, subcodes) == (500, "env:Receiver", ["ter:ActionNotSupported"])
    events = "http://www.onvif.org/ver10/events/wsdl"
    for op, ns in (("GetOSDOptions", TRT), ("GetEventProperties", events)):
        assert fault(service, soap_request(op, ns), MEDIA)[2] == ["ter:ActionNotSupported"]


def test_routing_is_by_the_body_not_the_soap_action_or_path(service):
    body = soap_request("GetProfiles", TRT)
    status, reply, _ = service.handle(DEVICE, body, {"SOAPAction": '"GetDeviceInformation"'}, HOST)
    assert status == 200 and etree.QName(validate_reply(reply)).localname == "GetProfilesResponse"
    assert service.handle("/onvif/other", body, {}, HOST)[0] == 404
    assert service.handle(MEDIA + "/?x=1", body, {}, HOST)[0] == 200


def test_a_fault_reads_as_a_fault_in_zeep(service):
    _, reply, _ = service.handle(DEVICE, soap_request("SystemReboot"), {}, HOST)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        zeep_read(reply, "SystemReboot")
    assert caught.value.subcodes[0].localname == "ActionNotSupported"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>
<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl">&lol4;</GetDeviceInformation>
</s:Body></s:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>
<GetScopes xmlns="http://www.onvif.org/ver10/device/wsdl">&e;</GetScopes></s:Body></s:Envelope>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?><!DOCTYPE s:Envelope SYSTEM "http://127.0.0.1:9/x.dtd">
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>"""
SOAP11 = (
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    b'<GetScopes xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>'
)

BAD_REQUESTS = {
    "empty": (b"", "ter:WellFormed"),
    "not xml": (b"GET / HTTP/1.1\r\n\r\n", "ter:WellFormed"),
    "html": (b"<html><body>hi</body></html>", "ter:TagMismatch"),
    "truncated": (soap_request("GetScopes")[:-20], "ter:WellFormed"),
    "no body": (f'<s:Envelope xmlns:s="{ENV}"><s:Header/></s:Envelope>', "ter:TagMismatch"),
    "empty body": (f'<s:Envelope xmlns:s="{ENV}"><s:Body/></s:Envelope>', "ter:TagMismatch"),
    "billion laughs": (BILLION_LAUGHS, "ter:WellFormed"),
    "external entity": (EXTERNAL_ENTITY, "ter:WellFormed"),
    "external dtd": (EXTERNAL_DTD, "ter:WellFormed"),
    "bad encoding": (b'<?xml version="1.0" encoding="no-such"?><a/>', "ter:WellFormed"),
    "not utf-8": (b"<a>\xff\xfe</a>", "ter:WellFormed"),
    "too large": (b" " * (MAX_REQUEST_BYTES + 1), "ter:InvalidArgs"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_bad_input_is_a_sender_fault(service, name):
    body, subcode = BAD_REQUESTS[name]
    body = body.encode() if isinstance(body, str) else body
    status, code, subcodes, reason = fault(service, body)
    assert (status, code, subcodes) == (400, "env:Sender", [subcode])
    assert "passwd" not in reason and "root:" not in reason


def test_soap_11_is_a_version_mismatch(service):
    status, code, subcodes, _ = fault(service, SOAP11)
    assert (status, code, subcodes) == (500, "env:VersionMismatch", [])


def test_deep_nesting_is_answered(service):
    inner = "<x:a>" * 5000 + "</x:a>" * 5000
    status, reply, _ = service.handle(DEVICE, soap_request("GetScopes", TDS, inner), {}, HOST)
    assert status == 200
    validate_reply(reply)


def test_a_failing_handler_is_a_receiver_fault_not_a_traceback():
    def broken():
        raise RuntimeError("facts unavailable")

    service = OnvifService(broken, None)
    status, code, subcodes, reason = fault(service, soap_request("GetDeviceInformation"))
    assert (status, code, subcodes) == (500, "env:Receiver", ["ter:Action"])
    assert "unavailable" not in reason


def test_values_are_escaped_in_replies():
    from dataclasses import replace

    facts = replace(FACTS, manufacturer='A&B <"x">', hostname="cam")
    _, info = ok(OnvifService(lambda: facts, None), "GetDeviceInformation")
    assert info.Manufacturer == 'A&B <"x">'


def test_the_validators_catch_misplaced_and_missing_elements():
    """Both checks are strict: Date before Time, or a missing element, fails them."""
    good = (
        f'<tds:GetSystemDateAndTimeResponse xmlns:tds="{TDS}" xmlns:tt="http://www.onvif.org/ver10/schema">'
        "<tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false"
        "</tt:DaylightSavings><tt:UTCDateTime>{}</tt:UTCDateTime></tds:SystemDateAndTime>"
        "</tds:GetSystemDateAndTimeResponse>"
    )
    t = "<tt:Time><tt:Hour>1</tt:Hour><tt:Minute>2</tt:Minute><tt:Second>3</tt:Second></tt:Time>"
    d = "<tt:Date><tt:Year>2024</tt:Year><tt:Month>1</tt:Month><tt:Day>2</tt:Day></tt:Date>"
    validate_payload(etree.fromstring(good.format(t + d)))
    with pytest.raises(AssertionError, match="not valid"):
        validate_payload(etree.fromstring(good.format(d + t)))
    with pytest.raises(AssertionError, match="not valid"):
        validate_payload(etree.fromstring(good.format(t)))
    envelope = f'<e:Envelope xmlns:e="{ENV}"><e:Body>{good.format(d + t)}</e:Body></e:Envelope>'
    with pytest.raises(zeep.exceptions.XMLParseError):
        zeep_read(envelope.encode(), "GetSystemDateAndTime")
