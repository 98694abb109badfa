"""WS-Discovery on loopback: Probe parsing and matching, ProbeMatches valid against the
WS-Discovery schema with RelatesTo and the receiving interface's address, Resolve, Hello and
Bye, a stable endpoint address, a taken port. Multicast stays on the loopback interface."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from camera_streaming.onvif import wsd
from camera_streaming.onvif.discovery import GROUP, DiscoveryResponder, endpoint_address
from support.onvif import FACTS, NS, TDS, probe, validate_payload, validate_reply

PROBE_ID = "urn:uuid:5f2f1c1e-0000-4000-8000-000000000001"  # support.onvif.probe()'s
LOOPBACK = [("127.0.0.1", ipaddress.IPv4Network("127.0.0.0/8"))]
TARGET = wsd.Target(
    "urn:uuid:00000000-0000-5000-8000-000000000000",
    "http://127.0.0.1:8080/onvif/device_service",
    (
        "onvif://www.onvif.org/Profile/Streaming",
        "onvif://www.onvif.org/type/video_encoder",
        "onvif://www.onvif.org/name/board-1",
    ),
)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def responder(tmp_path: Path) -> Iterator[DiscoveryResponder]:
    machine_id = tmp_path / "machine-id"
    machine_id.write_text("0123456789abcdef0123456789abcdef\n")
    r = DiscoveryResponder(lambda: FACTS, port=0, machine_id=machine_id, addresses=lambda: LOOPBACK)
    r.start()
    assert r.port
    yield r
    r.stop()


def ask(port: int, message: bytes, timeout: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(timeout)
        c.sendto(message, ("127.0.0.1", port))
        try:
            return c.recvfrom(65535)[0]
        except socket.timeout:
            return None


# Messages


def test_probe_types_are_resolved_through_their_prefixes():
    for types, prefixes in (
        ("dn:NetworkVideoTransmitter", f'xmlns:dn="{wsd.DN}"'),
        ("x:NetworkVideoTransmitter y:Device", f'xmlns:x="{wsd.DN}" xmlns:y="{TDS}"'),
        ("tds:Device", f'xmlns:tds="{TDS}"'),
        ("", ""),
    ):
        parsed = wsd.parse(probe(types, prefixes=prefixes))
        assert isinstance(parsed, wsd.Probe) and wsd.matches(parsed, TARGET), types
    printer = wsd.parse(probe("p:Printer", prefixes='xmlns:p="http://example.org/print"'))
    assert isinstance(printer, wsd.Probe) and not wsd.matches(printer, TARGET)
    same_name = wsd.parse(probe("o:Device", prefixes='xmlns:o="http://example.org/other"'))
    assert isinstance(same_name, wsd.Probe) and not wsd.matches(same_name, TARGET)
    assert wsd.parse(probe("undeclared:Device")) is None


def test_probe_scopes_match_by_rfc3986_prefix_or_exactly():
    def match(scopes: str) -> bool:
        parsed = wsd.parse(probe(scopes=scopes))
        assert isinstance(parsed, wsd.Probe)
        return wsd.matches(parsed, TARGET)

    assert match("onvif://www.onvif.org/Profile/Streaming")
    assert match("ONVIF://WWW.ONVIF.ORG/name")
    assert match("onvif://www.onvif.org/type onvif://www.onvif.org/name/board-1")
    assert not match("onvif://www.onvif.org/name/board")  # segments, not characters
    assert not match("onvif://www.onvif.org/Profile/G")
    exact = wsd.parse(probe(scopes="onvif://www.onvif.org/name").replace(
        b"<d:Scopes>", f'<d:Scopes MatchBy="{wsd.STRCMP0}">'.encode()))  # fmt: skip
    assert isinstance(exact, wsd.Probe) and not wsd.matches(exact, TARGET)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml",
        probe().replace(b"/Probe</a:Action>", b"/Hello</a:Action>"),
        probe().replace(b"2003/05/soap-envelope", b"2001/12/soap-envelope"),
        probe().replace(
            b"<a:MessageID>urn:uuid:5f2f1c1e-0000-4000-8000-000000000001</a:MessageID>", b""
        ),
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b" " * (wsd.MAX_MESSAGE + 1),
    ],
)
def test_anything_but_a_probe_or_resolve_is_ignored(data):
    assert wsd.parse(data) is None


def test_messages_are_valid_ws_discovery():
    match = validate_reply(wsd.probe_matches(TARGET, "urn:uuid:1", 7, 3))
    assert match.findtext("d:ProbeMatch/d:XAddrs", namespaces=NS) == TARGET.xaddrs
    validate_reply(wsd.hello(TARGET, 7, 1))
    validate_reply(wsd.bye(TARGET, 7, 2))
    validate_reply(wsd.resolve_matches(TARGET, "urn:uuid:2", 7, 4))
    broken = etree.fromstring(wsd.hello(TARGET, 7, 1)).find(".//d:Hello", NS)
    broken.remove(broken.find("d:MetadataVersion", NS))
    with pytest.raises(AssertionError, match="not valid"):
        validate_payload(broken)


def test_the_endpoint_is_stable_and_per_port(tmp_path):
    mid = tmp_path / "machine-id"
    mid.write_text("abc\n")
    first = endpoint_address(8080, mid)
    assert first == endpoint_address(8080, mid) and first.startswith("urn:uuid:")
    assert endpoint_address(8081, mid) != first
    assert endpoint_address(8080, tmp_path / "missing") == endpoint_address(8080, tmp_path / "x")


# The responder


def test_a_unicast_probe_gets_probe_matches(responder):
    reply = ask(responder.port, probe())
    assert reply is not None
    root = etree.fromstring(reply)
    assert root.findtext(".//a:RelatesTo", namespaces=NS) == PROBE_ID
    assert root.findtext(".//a:Action", namespaces=NS) == wsd.WSD + "/ProbeMatches"
    match = validate_reply(reply).find("d:ProbeMatch", NS)
    assert match.findtext("a:EndpointReference/a:Address", namespaces=NS) == responder.endpoint
    assert match.findtext("d:XAddrs", namespaces=NS) == "http://127.0.0.1:8080/onvif/device_service"
    assert match.findtext("d:Types", namespaces=NS) == "dn:NetworkVideoTransmitter tds:Device"
    scopes = match.findtext("d:Scopes", namespaces=NS).split()
    assert "onvif://www.onvif.org/Profile/Streaming" in scopes
    assert "onvif://www.onvif.org/hardware/test-board" in scopes
    assert match.findtext("d:MetadataVersion", namespaces=NS) == "1"


def test_probes_for_other_types_and_junk_get_no_answer(responder):
    assert ask(responder.port, probe("p:Printer", prefixes='xmlns:p="urn:x"'), 0.3) is None
    assert ask(responder.port, b"\x00" * 100, 0.3) is None
    assert ask(responder.port, probe(), 2.0) is not None  # still answering


def test_resolve_for_our_endpoint(responder):
    resolve = probe().replace(b"/Probe</a:Action>", b"/Resolve</a:Action>").replace(
        b"<d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe>",
        f"<d:Resolve><a:EndpointReference><a:Address>{responder.endpoint}</a:Address>"
        "</a:EndpointReference></d:Resolve>".encode(),
    )  # fmt: skip
    reply = ask(responder.port, resolve)
    assert reply is not None
    assert etree.QName(validate_reply(reply)).localname == "ResolveMatches"
    other = resolve.replace(responder.endpoint.encode(), b"urn:uuid:someone-else")
    assert ask(responder.port, other, 0.3) is None


def test_hello_at_start_and_bye_at_stop_on_the_group(tmp_path):
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("", port))
        mreq = socket.inet_aton(GROUP) + socket.inet_aton("127.0.0.1")
        listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        listener.settimeout(2.0)
        r = DiscoveryResponder(lambda: FACTS, port=port, addresses=lambda: LOOPBACK)
        r.start()
        hello = etree.fromstring(listener.recvfrom(65535)[0])
        r.stop()
        bye = etree.fromstring(listener.recvfrom(65535)[0])
    assert etree.QName(hello.find(".//s:Body/*", {"s": NS["env"]})).localname == "Hello"
    assert hello.findtext(".//d:XAddrs", namespaces=NS) == TARGET.xaddrs
    assert etree.QName(bye.find(".//s:Body/*", {"s": NS["env"]})).localname == "Bye"
    numbers = [int(m.find(".//d:AppSequence", NS).get("MessageNumber")) for m in (hello, bye)]
    assert numbers[0] < numbers[1]


def test_a_taken_port_warns_and_start_returns(caplog):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("", 0))  # no SO_REUSEADDR: nobody else may bind this port
        taken = holder.getsockname()[1]
        r = DiscoveryResponder(lambda: FACTS, port=taken, addresses=lambda: LOOPBACK)
        with caplog.at_level(logging.WARNING, logger="camera_streaming.onvif.discovery"):
            r.start()
            r.start()
        assert r.port is None
        assert len([rec for rec in caplog.records if "cannot bind" in rec.getMessage()]) == 2
        r.stop()
    assert not [t for t in threading.enumerate() if t.name == "onvif-discovery"]


def test_no_multicast_join_warns_and_still_answers_unicast(caplog, tmp_path):
    def nowhere() -> list[tuple[str, ipaddress.IPv4Network]]:
        return [("198.51.100.77", ipaddress.IPv4Network("198.51.100.0/24"))]  # not ours

    r = DiscoveryResponder(lambda: FACTS, port=0, addresses=nowhere)
    with caplog.at_level(logging.WARNING, logger="camera_streaming.onvif.discovery"):
        r.start()
    try:
        assert any("could not join" in rec.getMessage() for rec in caplog.records)
        assert ask(r.port, probe()) is not None
    finally:
        r.stop()


def test_stop_is_prompt_and_leaves_no_thread(responder):
    t0 = time.monotonic()
    responder.stop()
    assert time.monotonic() - t0 < 1.0
    assert not [t for t in threading.enumerate() if t.name == "onvif-discovery"]
    responder.stop()  # twice is fine
