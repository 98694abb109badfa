"""What the RTSP server tracks of each client connection, and how it closes one from outside
its thread: pure bookkeeping plus two Linux socket calls, no GStreamer objects created."""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios
from typing import Any


class ClientState:
    """What the server remembers of one RTSP connection (its own and the GLib thread)."""

    __slots__ = ("connected_at", "had_session", "idle_since", "played", "acked", "acked_at")

    def __init__(self, connected_at: float) -> None:
        self.connected_at = connected_at
        self.had_session = False
        self.idle_since: float | None = None
        self.played = False  # sent PLAY and no TEARDOWN since: data flows to it
        self.acked = -1  # TCP bytes the peer acknowledged at `acked_at`
        self.acked_at = connected_at


def stopped_reading(client: Any, state: ClientState, now: float, timeout_s: float) -> bool:
    """True when data waits in the client's socket but the peer has acknowledged nothing
    for `timeout_s` (its receive window stays closed)."""
    conn = client.get_connection()
    sock = conn.get_read_socket() if conn is not None else None
    if sock is None or sock.is_closed():
        return False
    progress = tcp_progress(sock.get_fd())
    if progress is None:
        return False
    acked, unsent = progress
    if acked != state.acked or unsent == 0:
        state.acked, state.acked_at = acked, now
        return False
    return now - state.acked_at >= timeout_s


def shutdown_client(client: Any) -> None:
    """Close a client from outside its own thread by shutting its socket down: its thread then
    sees the connection end and closes it the normal way. (`client.close()` from another thread
    while the client reads a request left its watch spinning forever on 1.22.0, logging
    `g_pollable_input_stream_read_nonblocking: assertion failed` - docs/faults.md.)"""
    conn = client.get_connection()
    sock = conn.get_read_socket() if conn is not None else None
    if sock is None or sock.is_closed():
        return
    try:
        dup = socket.socket(fileno=os.dup(sock.get_fd()))
    except OSError:
        return
    try:
        dup.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        dup.close()


def tcp_progress(fd: int) -> tuple[int, int] | None:
    """(bytes the peer acknowledged, bytes waiting in the send queue) of a TCP socket, from
    Linux `TCP_INFO` (tcpi_bytes_acked) and `SIOCOUTQ`; None where unavailable."""
    try:
        info = socket.socket(fileno=os.dup(fd))
    except OSError:
        return None
    try:
        raw = info.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 192)
        unsent = struct.unpack("i", fcntl.ioctl(info.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    except OSError:
        return None
    finally:
        info.close()
    if len(raw) < 128:
        return None
    return struct.unpack_from("Q", raw, 120)[0], unsent
