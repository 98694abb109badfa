"""SOAP 1.2 for the ONVIF services: reading a request with a hardened parser, replies and
faults.

Requests are parsed with defusedxml and no DTD at all (SOAP 1.2 forbids one), so entity
expansion ("billion laughs") and external entities are refused before anything is built, and
a body over `MAX_REQUEST_BYTES` is refused unread. Faults carry the ONVIF `ter:` subcodes and
the HTTP status of the SOAP 1.2 HTTP binding: 400 for env:Sender, 500 for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from .markup import ENV, PREFIXES, Markup, document, el

CONTENT_TYPE = "application/soap+xml; charset=utf-8"
# ONVIF requests are a few KiB; the largest the services answer is far below this.
MAX_REQUEST_BYTES = 64 * 1024

_STATUS = {"Sender": 400, "Receiver": 500, "VersionMismatch": 500, "MustUnderstand": 500}


class SoapFault(Exception):
    """A fault to send back: code (Sender, Receiver, VersionMismatch), `ter:` subcodes from
    the outermost in, and the reason text."""

    def __init__(
        self, code: str, subcodes: tuple[str, ...], reason: str, status: int | None = None
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.subcodes = subcodes
        self.reason = reason
        self.status = status if status is not None else _STATUS.get(code, 500)


def sender_fault(*subcodes: str, reason: str) -> SoapFault:
    return SoapFault("Sender", tuple(subcodes), reason)


def receiver_fault(*subcodes: str, reason: str) -> SoapFault:
    return SoapFault("Receiver", tuple(subcodes), reason)


def not_authorized(status: int = 400) -> SoapFault:
    return SoapFault("Sender", ("ter:NotAuthorized",), "Sender not Authorized", status)


def action_not_supported(name: str) -> SoapFault:
    return receiver_fault(
        "ter:ActionNotSupported", reason=f"Optional Action Not Implemented: {name}"
    )


@dataclass(frozen=True)
class SoapRequest:
    namespace: str  # of the Body's first element, which names the operation
    operation: str  # its local name
    body: Element  # that element
    security: Element | None  # the wsse:Security header block, if any


WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


def split_tag(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def parse_request(body: bytes) -> SoapRequest:
    """The operation, its element and the WS-Security header of a SOAP 1.2 request; a Sender
    fault for anything that is not one."""
    if len(body) > MAX_REQUEST_BYTES:
        raise sender_fault("ter:InvalidArgs", reason="request too large")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise sender_fault("ter:WellFormed", reason=f"Well-formed Error: {_short(exc)}") from None
    ns, local = split_tag(root.tag)
    if local != "Envelope":
        raise sender_fault("ter:TagMismatch", reason="Tag Mismatch: no SOAP Envelope")
    if ns != ENV:
        raise SoapFault("VersionMismatch", (), "SOAP version mismatch: SOAP 1.2 expected")
    header = root.find(f"{{{ENV}}}Header")
    soap_body = root.find(f"{{{ENV}}}Body")
    if soap_body is None:
        raise sender_fault("ter:TagMismatch", reason="Tag Mismatch: no SOAP Body")
    first = next(iter(soap_body), None)
    if first is None:
        raise sender_fault("ter:TagMismatch", reason="Tag Mismatch: empty SOAP Body")
    op_ns, op = split_tag(first.tag)
    security = header.find(f"{{{WSSE}}}Security") if header is not None else None
    return SoapRequest(op_ns, op, first, security)


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:120]


def envelope(payload: Markup) -> bytes:
    declarations = {f"xmlns:{prefix}": ns for prefix, ns in PREFIXES.items()}
    return document(el("env:Envelope", el("env:Body", payload), attrs=declarations))


def fault_envelope(fault: SoapFault) -> bytes:
    subcode: Markup | None = None
    for value in reversed(fault.subcodes):
        subcode = el("env:Subcode", el("env:Value", value), subcode)
    code = el("env:Code", el("env:Value", f"env:{fault.code}"), subcode)
    reason = el("env:Reason", el("env:Text", fault.reason, attrs={"xml:lang": "en"}))
    return envelope(el("env:Fault", code, reason))


def child(parent: Element, name: str) -> Element | None:
    """The first child of `parent` with local name `name`, in any namespace (clients differ
    in how they qualify request parameters)."""
    for item in parent:
        if split_tag(item.tag)[1] == name:
            return item
    return None


def child_text(parent: Element, name: str) -> str | None:
    found = child(parent, name)
    if found is None:
        return None
    return (found.text or "").strip()
