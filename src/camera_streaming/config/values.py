"""Setting rows and their values: parsing text (variables, size strings), checking file
values' types, writing values back as TOML, and masking secrets. Pure: no gi or cv2."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from ..errors import ConfigError

ENV_PREFIX = "CAMERA_STREAMING_"
MASK = "********"


@dataclass(frozen=True)
class Setting:
    section: str  # TOML table
    key: str  # TOML key
    path: str  # attribute path in Config: "video.bitrate_kbps", "hook", "source.spec"
    type: type  # int | float | str | bool | list
    flag: str  # command-line flag; validate() names the field as flag[2:]
    metavar: str = ""
    help: str = ""
    secret: bool = False
    const: Any = None  # bool flags: the value the flag sets (e.g. --no-http sets False)
    parse: Any = None  # text -> value for flags, variables and string file values (sizes)
    cli: bool = True  # False: file and environment only (passwords never on the command line)

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.flag[2:].upper().replace("-", "_")


def parse_size(text: str) -> int:
    """'500M', '20G', '1048576' -> bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper()
    for suffix in ("B", "I"):
        t = t[: -len(suffix)] if t.endswith(suffix) else t
    mult = units.get(t[-1:], 1) if t else 1
    number = t[:-1] if t[-1:] in units else t
    try:
        return int(float(number) * mult)
    except ValueError:
        raise ValueError(f"'{text}' is not a size like 500M or 20G") from None


PARSERS = {"size": parse_size}


def parse_text(s: Setting, text: str, label: str) -> Any:
    """A setting's value from a string (environment variables)."""
    text = text.strip()
    try:
        if s.type is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                value = True
            elif low in ("0", "false", "no", "off"):
                value = False
            else:
                raise ValueError
            # A flag like --no-http sets http.enabled=False; its variable means "set the flag".
            return value if s.const is None or s.const is True else (not value)
        if s.type is list:
            return [x.strip() for x in text.split(",") if x.strip()]
        if s.parse:
            return PARSERS[s.parse](text)
        return s.type(text)
    except ValueError:
        raise ConfigError(label, f"must be {kind_name(s.type)}, got {text!r}") from None


def check_type(s: Setting, value: Any, label: str) -> Any:
    """A file value of the setting's type (int promoted to float; size strings parsed)."""
    if s.parse and isinstance(value, str):
        value = parse_text(s, value, label)
    if s.type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if s.type is int and isinstance(value, bool):
        raise ConfigError(label, f"must be a whole number, got {value!r}")
    if not isinstance(value, s.type):
        raise ConfigError(label, f"must be {kind_name(s.type)}, got {value!r}")
    return value


def kind_name(t: type) -> str:
    return {int: "a whole number", float: "a number", bool: "true or false", str: "a string",
            list: "a list"}.get(t, t.__name__)  # fmt: skip


def toml_value(value: Any) -> str:
    """A value as TOML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '""'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if is_dataclass(value):
        return json.dumps({f.name: getattr(value, f.name) for f in fields(value)}, default=str)
    return json.dumps(str(value))


_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@", re.I)


def mask(value: Any, secret: bool) -> Any:
    """`secret` values become ********; passwords inside URLs (rtmp://u:p@host) too."""
    if secret and value not in (None, "", [], ()):
        return [MASK] * len(value) if isinstance(value, (list, tuple)) else MASK
    if isinstance(value, str):
        return _URL_PASSWORD.sub(lambda m: m.group("scheme") + MASK + "@", value)
    if isinstance(value, (list, tuple)):
        return [mask(v, False) for v in value]
    return value
