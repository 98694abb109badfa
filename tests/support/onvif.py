"""ONVIF test helpers: SOAP requests with or without a WS-UsernameToken, strict checks of the
replies against the ONVIF WSDL/XSD that onvif-zeep-async ships (lxml's XSD validator, and
zeep in strict mode reading the operation's output message), and a device to describe."""

from __future__ import annotations

import base64
import functools
import os
import time
from pathlib import Path
from typing import Any

import onvif
import zeep
from lxml import etree

from camera_streaming.onvif import DeviceFacts, Profile
from camera_streaming.onvif.soap import WSSE
from camera_streaming.onvif.wsse import PASSWORD_DIGEST, PASSWORD_TEXT, WSU, password_digest

WSDL_DIR = Path(onvif.__file__).parent / "wsdl"
XS = "http://www.w3.org/2001/XMLSchema"
ENV = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
NS = {"env": ENV, "tds": TDS, "trt": TRT, "tt": TT, "d": WSD,
      "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing"}  # fmt: skip

PROFILES = (
    Profile("front_main", "front", "/front", 1920, 1080, 30, 4000, 60, "h264", "High"),
    Profile("front_sub", "front", "/front/sub", 640, 360, 10, 500, 20, "h264", "High"),
    Profile("side_main", "side", "/side", 1280, 720, 25, 2500, 50, "h265", "Main"),
    Profile("side_sub", "side", "/side/sub", 640, 480, 5, 300, 10, "h264", "Baseline"),
)
FACTS = DeviceFacts(
    manufacturer="camera-streaming",
    model="camera-streaming",
    firmware="0.1.0",
    serial="0123456789abcdef",
    hardware_id="test-board",
    hostname="board-1",
    rtsp_port=8554,
    rtsp_scheme="rtsp",
    http_port=8080,
    profiles=PROFILES,
)


def soap_request(op: str, ns: str = TDS, inner: str = "", header: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{ENV}" xmlns:tt="{TT}"><s:Header>{header}</s:Header>'
        f'<s:Body><x:{op} xmlns:x="{ns}">{inner}</x:{op}></s:Body></s:Envelope>'
    ).encode()


def created_text(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def username_token(
    user: str,
    password: str,
    created: str,
    nonce: bytes | None = None,
    *,
    digest: bool = True,
) -> str:
    """A wsse:Security header block as zeep and the ONVIF clients send it."""
    nonce = os.urandom(16) if nonce is None else nonce
    if digest:
        value, kind = password_digest(nonce, created, password), PASSWORD_DIGEST
    else:
        value, kind = password, PASSWORD_TEXT
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" s:mustUnderstand="true">'
        f"<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{kind}">{value}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


@functools.cache
def _schema(wsdl: str) -> etree.XMLSchema:
    """The XSD embedded in an ONVIF WSDL (its imports resolved from the same directory)."""
    path = WSDL_DIR / wsdl
    embedded = etree.parse(str(path)).find(f".//{{{XS}}}schema")
    assert embedded is not None, path
    return etree.XMLSchema(etree.fromstring(etree.tostring(embedded), base_url=str(path)))


class _LocalAddressing(etree.Resolver):
    """ws-discovery.xsd imports WS-Addressing 2004/08 by URL: use the bundled copy."""

    def resolve(self, url, pubid, context):  # type: ignore[no-untyped-def]
        if url == "http://schemas.xmlsoap.org/ws/2004/08/addressing":
            return self.resolve_filename(str(WSDL_DIR / "addressing"), context)
        return None


@functools.cache
def _discovery_schema() -> etree.XMLSchema:
    parser = etree.XMLParser()
    parser.resolvers.add(_LocalAddressing())
    return etree.XMLSchema(etree.parse(str(WSDL_DIR / "ws-discovery.xsd"), parser))


def _body_child(reply: bytes) -> etree._Element:
    root = etree.fromstring(reply)
    assert root.tag == f"{{{ENV}}}Envelope", root.tag
    body = root.find(f"{{{ENV}}}Body")
    assert body is not None and len(body) == 1, "the Body holds exactly one element"
    return body[0]


def validate_payload(payload: etree._Element) -> None:
    """Fail unless `payload` is valid against its service's schema: element order, required
    elements, types and enumerations."""
    ns = etree.QName(payload).namespace
    schema = {
        TDS: lambda: _schema("devicemgmt.wsdl"),
        TRT: lambda: _schema("media.wsdl"),
        WSD: _discovery_schema,
    }[ns]()
    if not schema.validate(payload):
        raise AssertionError(f"{etree.QName(payload).localname} is not valid: {schema.error_log}")


def validate_reply(reply: bytes) -> etree._Element:
    """The Body's element of a SOAP 1.2 reply, validated against the ONVIF schema."""
    payload = _body_child(reply)
    validate_payload(payload)
    return payload


def fault_of(reply: bytes) -> tuple[str, list[str], str]:
    """(code, subcodes, reason) of a SOAP 1.2 fault reply."""
    fault = _body_child(reply)
    assert fault.tag == f"{{{ENV}}}Fault", fault.tag
    code = fault.findtext("env:Code/env:Value", namespaces=NS)
    subcodes = [v.text for v in fault.iterfind(".//env:Subcode/env:Value", namespaces=NS)]
    reason = fault.findtext("env:Reason/env:Text", namespaces=NS)
    assert code and reason is not None
    return code, [s or "" for s in subcodes], reason


@functools.cache
def _strict_client(wsdl: str) -> zeep.Client:
    settings = zeep.Settings(strict=True, xml_huge_tree=False)
    return zeep.Client(str(WSDL_DIR / wsdl), settings=settings)


def zeep_read(reply: bytes, operation: str, service: str = "device") -> Any:
    """The reply as zeep in strict mode deserialises it against the WSDL's output message
    (unexpected or misplaced elements raise); a zeep Fault for a fault reply."""
    wsdl, binding = {
        "device": ("devicemgmt.wsdl", f"{{{TDS}}}DeviceBinding"),
        "media": ("media.wsdl", f"{{{TRT}}}MediaBinding"),
    }[service]
    client = _strict_client(wsdl)
    bound = client.wsdl.bindings[binding]
    doc = etree.fromstring(reply)
    if doc.find(f"{{{ENV}}}Body/{{{ENV}}}Fault") is not None:
        bound.process_error(doc, bound.get(operation))
    return bound.get(operation).process_reply(doc)


def probe(
    types: str = "dn:NetworkVideoTransmitter",
    scopes: str | None = None,
    message_id: str = "urn:uuid:5f2f1c1e-0000-4000-8000-000000000001",
    prefixes: str = 'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"',
) -> bytes:
    """A WS-Discovery Probe as ONVIF clients send it."""
    scope_el = f"<d:Scopes>{scopes}</d:Scopes>" if scopes is not None else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{ENV}" '
        f'xmlns:a="{NS["a"]}" xmlns:d="{WSD}" {prefixes}><s:Header>'
        f"<a:Action>{WSD}/Probe</a:Action><a:MessageID>{message_id}</a:MessageID>"
        f"<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>"
        f"<s:Body><d:Probe><d:Types>{types}</d:Types>{scope_el}</d:Probe></s:Body></s:Envelope>"
    ).encode()


async def home_assistant_sequence(port: int, user: str, password: str) -> dict:
    camera = onvif.ONVIFCamera("127.0.0.1", port, user, password)
    seen: dict[str, Any] = {}
    try:
        await camera.update_xaddrs()
        seen["xaddrs"] = dict(camera.xaddrs)
        seen["capabilities"] = await camera.get_capabilities()
        device = await camera.create_devicemgmt_service()
        seen["time"] = await device.GetSystemDateAndTime()
        seen["info"] = await device.GetDeviceInformation()
        seen["interfaces"] = await device.GetNetworkInterfaces()
        media = await camera.create_media_service()
        seen["media_caps"] = await media.GetServiceCapabilities()
        seen["profiles"] = await media.GetProfiles()
        seen["uris"] = {}
        for profile in seen["profiles"]:
            request = media.create_type("GetStreamUri")
            request.ProfileToken = profile.token
            request.StreamSetup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
            seen["uris"][profile.token] = (await media.GetStreamUri(request)).Uri
        first = seen["profiles"][0].token
        seen["snapshot_uri"] = await camera.get_snapshot_uri(first)
        seen["snapshot"] = await camera.get_snapshot(first)
    finally:
        await camera.close()
    return seen
