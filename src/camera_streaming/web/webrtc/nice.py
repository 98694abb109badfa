"""Two fixes for webrtcbin's ICE agent (GstWebRTCNice, libnice) on GStreamer 1.22, through
ctypes: neither is reachable from Python otherwise.

- Reading webrtcbin's `ice-agent` property from Python takes over webrtcbin's own reference
  (1.22.0), so the agent dies with the Python wrapper and the next viewer fails in
  `gst_webrtc_ice_add_stream`; `ice_agent()` gives the reference back (docs/gstreamer.md,
  fact 20).
- libnice leaves loopback out of its host candidates, so a peer on 127.0.0.1 never connects;
  once one address is added by hand libnice gathers on the added ones only, so
  `add_host_addresses()` adds every local address, loopback included (fact 21).
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any


class _GList(ctypes.Structure):
    pass


_GList._fields_ = [
    ("data", ctypes.c_void_p),
    ("next", ctypes.POINTER(_GList)),
    ("prev", ctypes.POINTER(_GList)),
]

_lock = threading.Lock()
_libs: dict[str, Any] = {}


def _lib(name: str, soname: str) -> Any:
    with _lock:
        lib = _libs.get(name)
        if lib is None:
            # By soname: the loader finds it (webrtcbin has loaded it already), where
            # ctypes.util.find_library would run `ldconfig -p` in a subprocess.
            lib = _libs[name] = ctypes.CDLL(soname)
            _declare(name, lib)
        return lib


def _declare(name: str, lib: Any) -> None:
    ptr, text = ctypes.c_void_p, ctypes.c_char_p
    if name == "gobject-2.0":
        lib.g_object_ref.argtypes, lib.g_object_ref.restype = [ptr], ptr
    elif name == "glib-2.0":
        lib.g_free.argtypes, lib.g_free.restype = [ptr], None
        lib.g_list_free.argtypes, lib.g_list_free.restype = [ctypes.POINTER(_GList)], None
    elif name == "nice":
        lib.nice_address_new.argtypes, lib.nice_address_new.restype = [], ptr
        lib.nice_address_free.argtypes, lib.nice_address_free.restype = [ptr], None
        lib.nice_address_set_from_string.argtypes = [ptr, text]
        lib.nice_address_set_from_string.restype = ctypes.c_int
        lib.nice_agent_add_local_address.argtypes = [ptr, ptr]
        lib.nice_agent_add_local_address.restype = ctypes.c_int
        lib.nice_interfaces_get_local_ips.argtypes = [ctypes.c_int]
        lib.nice_interfaces_get_local_ips.restype = ctypes.POINTER(_GList)


_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_pointer.restype = ctypes.c_void_p


def gpointer(obj: Any) -> int:
    """The C address of a PyGObject's GObject."""
    return int(_capsule_pointer(obj.__gpointer__, None))


def ice_agent(webrtcbin: Any) -> Any:
    """webrtcbin's ICE agent, read without leaving webrtcbin short of its reference: when
    the wrapper holds the only one, the getter took webrtcbin's, and one is added back."""
    ice = webrtcbin.get_property("ice-agent")
    if ice is not None and ice.__grefcount__ == 1:
        _lib("gobject-2.0", "libgobject-2.0.so.0").g_object_ref(gpointer(ice))
    return ice


def local_addresses() -> list[str]:
    """Every local IP address libnice sees, loopback included."""
    nice = _lib("nice", "libnice.so.10")
    glib = _lib("glib-2.0", "libglib-2.0.so.0")
    head = nice.nice_interfaces_get_local_ips(1)
    out: list[str] = []
    node = head
    while node:
        data = node.contents.data
        if data:
            out.append(ctypes.string_at(data).decode())
            glib.g_free(data)
        node = node.contents.next
    if head:
        glib.g_list_free(head)
    return out


def no_upnp(ice: Any) -> None:
    """No UPnP port mapping: libnice would otherwise start a UPnP client per agent (an HTTP
    listener and SSDP searches on every interface) and ask the LAN's router to open ports."""
    agent = ice.get_property("agent")
    if agent is not None and agent.find_property("upnp") is not None:
        agent.set_property("upnp", False)


def add_host_addresses(ice: Any, addresses: list[str]) -> int:
    """Make the agent gather host candidates on exactly `addresses`; returns how many it took."""
    nice = _lib("nice", "libnice.so.10")
    agent = ice.get_property("agent")  # a proper reference, dropped on return
    taken = 0
    for address in addresses:
        na = nice.nice_address_new()
        try:
            if nice.nice_address_set_from_string(na, address.encode()):
                taken += 1 if nice.nice_agent_add_local_address(gpointer(agent), na) else 0
        finally:
            nice.nice_address_free(na)
    return taken
