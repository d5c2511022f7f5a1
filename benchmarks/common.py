"""What every contender shares, so that ratios compare like with like.

Every contender, C baseline included, runs over loopback 127.0.0.1 with:

- ``SO_SNDBUF`` and ``SO_RCVBUF`` both set to :data:`BUFFER_SIZE` (iperf3 ``-w``, sctpmh
  ``Config.send_buffer_size`` / ``receive_buffer_size``, ``setsockopt`` for TCP and pysctp).
  The value is Linux's default ``net.core.wmem_max`` / ``rmem_max``, so the request is granted
  as asked (Linux doubles it for bookkeeping) on a stock kernel; kernel SCTP's own default send
  buffer is only 16 KiB (``net.sctp.sctp_wmem``) and would throttle every SCTP contender.
- No Nagle delay: ``SCTP_NODELAY`` (iperf3 ``-N``, sctpmh's default ``Config.nodelay``, pysctp
  ``nodelay``) and ``TCP_NODELAY`` (asyncio sets it on every TCP connection).
- Everything else at the system's or the library's defaults.
"""

from __future__ import annotations

import socket
import time
from typing import Any, Final

import sctpmh
from sctpmh.seam import Backend as BackendObject

#: What a contender passes as ``backend=``: a name, a backend object, or None (the default).
Backend = str | BackendObject | None

HOST: Final = "127.0.0.1"
BUFFER_SIZE: Final = 212_992
#: Length prefix of the TCP baselines' framing: 4 bytes, big-endian.
FRAME_HEADER: Final = 4
#: Generous bound for one step that should happen promptly (lab Python is ~15x slower).
STEP_TIMEOUT: Final = 120.0

SHARED_SETTINGS: Final = (
    f"loopback {HOST}; SO_SNDBUF = SO_RCVBUF = {BUFFER_SIZE} bytes requested on every socket; "
    "Nagle off (SCTP_NODELAY / TCP_NODELAY); everything else at the defaults"
)


def sctpmh_config() -> sctpmh.Config:
    """The sctpmh configuration of every sctpmh contender."""
    return sctpmh.Config(send_buffer_size=BUFFER_SIZE, receive_buffer_size=BUFFER_SIZE)


def set_buffers(sock: Any) -> None:
    """Apply the shared buffer sizes to a socket (or a pysctp socket, which delegates)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER_SIZE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER_SIZE)


def tcp_socket() -> socket.socket:
    """A non-blocking TCP socket with the shared buffer sizes, set before connect or listen
    (TCP fixes its window scale in the handshake)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    set_buffers(sock)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


def tcp_listener() -> socket.socket:
    """A listening TCP socket on :data:`HOST`, kernel-chosen port."""
    sock = tcp_socket()
    sock.bind((HOST, 0))
    sock.listen(16)
    return sock


def frame(payload: bytes) -> bytes:
    """One message of the TCP baselines: the length prefix, then the payload."""
    return len(payload).to_bytes(FRAME_HEADER, "big") + payload


class Tally:
    """Messages and bytes received, and when the first and the last one arrived."""

    __slots__ = ("bytes", "first", "last", "messages")

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.first = 0.0
        self.last = 0.0

    def add(self, size: int) -> None:
        now = time.perf_counter()
        if not self.messages:
            self.first = now
        self.last = now
        self.messages += 1
        self.bytes += size

    def summary(self) -> dict[str, Any]:
        """Messages, bytes, and seconds from the first message to the last."""
        return {"messages": self.messages, "bytes": self.bytes, "seconds": self.last - self.first}
