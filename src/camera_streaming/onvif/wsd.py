"""WS-Discovery (2005/04, the version ONVIF uses) messages: Probe and Resolve in, ProbeMatches,
ResolveMatches, Hello and Bye out. Pure functions; the sockets are in discovery.py.

Datagrams are parsed with defusedxml (no DTD, no entities), at most `MAX_MESSAGE` bytes. A
Probe's Types are QNames, resolved with the namespace declarations in scope where they
appear; a Probe matches when each of its Types is one of the device's and each of its Scopes
matches one of the device's (RFC 3986 prefix rule, or exact with strcmp0).
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from .markup import ENV, TDS, Markup, document, el

WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
DN = "http://www.onvif.org/ver10/network/wsdl"
TO_DISCOVERY = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
ANONYMOUS = WSA + "/role/anonymous"
RFC3986 = WSD + "/rfc3986"
STRCMP0 = WSD + "/strcmp0"
TYPES = ((DN, "NetworkVideoTransmitter"), (TDS, "Device"))
TYPES_TEXT = "dn:NetworkVideoTransmitter tds:Device"
MAX_MESSAGE = 16 * 1024
METADATA_VERSION = 1


@dataclass(frozen=True)
class Probe:
    message_id: str
    types: tuple[tuple[str, str], ...]  # (namespace, local name)
    scopes: tuple[str, ...]
    match_by: str


@dataclass(frozen=True)
class Resolve:
    message_id: str
    address: str


@dataclass(frozen=True)
class Target:
    """This device as discovery describes it."""

    endpoint: str  # urn:uuid:...
    xaddrs: str  # the device service URL
    scopes: tuple[str, ...]


def parse(data: bytes) -> Probe | Resolve | None:
    """A Probe or Resolve, or None for anything else (other messages, other versions,
    malformed or oversized datagrams)."""
    if len(data) > MAX_MESSAGE:
        return None
    try:
        root, types_ns = _parse_with_namespaces(data)
    except (ParseError, DefusedXmlException, ValueError, LookupError):
        return None
    if root.tag != f"{{{ENV}}}Envelope":
        return None
    action = (root.findtext(f"{{{ENV}}}Header/{{{WSA}}}Action") or "").strip()
    message_id = (root.findtext(f"{{{ENV}}}Header/{{{WSA}}}MessageID") or "").strip()
    body = root.find(f"{{{ENV}}}Body")
    if body is None or not message_id or len(message_id) > 256:
        return None
    if action == WSD + "/Probe":
        probe = body.find(f"{{{WSD}}}Probe")
        if probe is None:
            return None
        types_el = probe.find(f"{{{WSD}}}Types")
        types: list[tuple[str, str]] = []
        if types_el is not None:
            for qname in (types_el.text or "").split():
                prefix, sep, local = qname.rpartition(":")
                ns = types_ns.get(prefix if sep else "")
                if ns is None:
                    return None  # an undeclared prefix: this Probe cannot be matched
                types.append((ns, local))
        scopes_el = probe.find(f"{{{WSD}}}Scopes")
        scopes = tuple((scopes_el.text or "").split()) if scopes_el is not None else ()
        match_by = scopes_el.get("MatchBy", RFC3986) if scopes_el is not None else RFC3986
        return Probe(message_id, tuple(types), scopes, match_by.strip() or RFC3986)
    if action == WSD + "/Resolve":
        address = body.findtext(f"{{{WSD}}}Resolve/{{{WSA}}}EndpointReference/{{{WSA}}}Address")
        return Resolve(message_id, (address or "").strip())
    return None


def _parse_with_namespaces(data: bytes) -> tuple[Element, dict[str, str]]:
    """The tree, and the namespace declarations in scope at the first d:Types element."""
    scope: list[dict[str, str]] = [{}]
    pending: dict[str, str] = {}
    types_ns: dict[str, str] = {}
    root: Element | None = None
    events = SafeET.iterparse(
        io.BytesIO(data), events=("start-ns", "start", "end"), forbid_dtd=True
    )
    for event, item in events:
        if event == "start-ns":
            prefix, uri = item
            pending[prefix] = uri
        elif event == "start":
            scope.append({**scope[-1], **pending})
            pending = {}
            if root is None:
                root = item
            if item.tag == f"{{{WSD}}}Types" and not types_ns:
                types_ns = scope[-1]
        else:
            scope.pop()
    if root is None:
        raise ValueError("no element")
    return root, types_ns


def _scope_matches(wanted: str, offered: str, match_by: str) -> bool:
    if match_by == STRCMP0:
        return wanted == offered
    if match_by != RFC3986:
        return False
    w_scheme, _, w_rest = wanted.partition("://")
    o_scheme, _, o_rest = offered.partition("://")
    w_auth, _, w_path = w_rest.partition("/")
    o_auth, _, o_path = o_rest.partition("/")
    if (w_scheme.lower(), w_auth.lower()) != (o_scheme.lower(), o_auth.lower()):
        return False
    w_segments = [s for s in w_path.split("/") if s]
    o_segments = [s for s in o_path.split("/") if s]
    return o_segments[: len(w_segments)] == w_segments


def matches(probe: Probe, target: Target) -> bool:
    if any(t not in TYPES for t in probe.types):
        return False
    return all(
        any(_scope_matches(s, offered, probe.match_by) for offered in target.scopes)
        for s in probe.scopes
    )


def _envelope(action: str, header: tuple[Markup | None, ...], body: Markup) -> bytes:
    declarations = {"xmlns:s": ENV, "xmlns:a": WSA, "xmlns:d": WSD, "xmlns:dn": DN,
                    "xmlns:tds": TDS}  # fmt: skip
    return document(
        el(
            "s:Envelope",
            el(
                "s:Header",
                el("a:Action", action),
                el("a:MessageID", uuid.uuid4().urn),
                *header,
            ),
            el("s:Body", body),
            attrs=declarations,
        )
    )


def _sequence(instance_id: int, message_number: int) -> Markup:
    return el("d:AppSequence", attrs={"InstanceId": instance_id, "MessageNumber": message_number})


def _description(target: Target) -> tuple[Markup, ...]:
    return (
        el("a:EndpointReference", el("a:Address", target.endpoint)),
        el("d:Types", TYPES_TEXT),
        el("d:Scopes", " ".join(target.scopes)),
        el("d:XAddrs", target.xaddrs),
        el("d:MetadataVersion", METADATA_VERSION),
    )


def probe_matches(target: Target, relates_to: str, instance_id: int, number: int) -> bytes:
    return _envelope(
        WSD + "/ProbeMatches",
        (
            el("a:RelatesTo", relates_to),
            el("a:To", ANONYMOUS),
            _sequence(instance_id, number),
        ),
        el("d:ProbeMatches", el("d:ProbeMatch", *_description(target))),
    )


def resolve_matches(target: Target, relates_to: str, instance_id: int, number: int) -> bytes:
    return _envelope(
        WSD + "/ResolveMatches",
        (
            el("a:RelatesTo", relates_to),
            el("a:To", ANONYMOUS),
            _sequence(instance_id, number),
        ),
        el("d:ResolveMatches", el("d:ResolveMatch", *_description(target))),
    )


def hello(target: Target, instance_id: int, number: int) -> bytes:
    return _envelope(
        WSD + "/Hello",
        (el("a:To", TO_DISCOVERY), _sequence(instance_id, number)),
        el("d:Hello", *_description(target)),
    )


def bye(target: Target, instance_id: int, number: int) -> bytes:
    return _envelope(
        WSD + "/Bye",
        (el("a:To", TO_DISCOVERY), _sequence(instance_id, number)),
        el("d:Bye", el("a:EndpointReference", el("a:Address", target.endpoint))),
    )
