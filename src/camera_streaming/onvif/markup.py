"""A small XML builder for SOAP replies. Text and attribute values are always escaped; only
what `el()` built is joined in as markup, so a value from a request or the host can never
open an element of its own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape, quoteattr

# Namespaces, with the prefixes every reply declares on its Envelope.
ENV = "http://www.w3.org/2003/05/soap-envelope"
TER = "http://www.onvif.org/ver10/error"
TT = "http://www.onvif.org/ver10/schema"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
PREFIXES = {"env": ENV, "ter": TER, "tt": TT, "tds": TDS, "trt": TRT}


class Markup(str):
    """XML that `el()` built: joined into a parent as it is, never escaped again."""

    __slots__ = ()


def value_text(value: object) -> str:
    """A value as schema text: booleans as true/false, floats without a needless '.0'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def el(tag: str, *children: object, attrs: Mapping[str, object] | None = None) -> Markup:
    """`<tag attrs>children</tag>`. A child is markup from `el()`, an iterable of such, a
    value (escaped text) or None (left out)."""
    parts: list[str] = []
    for child in children:
        if child is None:
            continue
        if isinstance(child, Markup):
            parts.append(child)
        elif isinstance(child, (str, int, float, bool)):
            parts.append(escape(value_text(child)))
        elif isinstance(child, Iterable):
            for item in child:
                if not isinstance(item, Markup):
                    raise TypeError(f"<{tag}>: a list of children must be markup")
                parts.append(item)
        else:
            raise TypeError(f"<{tag}>: cannot serialise {type(child).__name__}")
    head = tag + "".join(
        f" {name}={quoteattr(value_text(v))}" for name, v in (attrs or {}).items() if v is not None
    )
    if not parts:
        return Markup(f"<{head}/>")
    return Markup(f"<{head}>{''.join(parts)}</{tag}>")


def document(root: Markup) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + root.encode("utf-8")
