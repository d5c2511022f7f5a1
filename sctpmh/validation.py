"""The checks every backend applies to what a user sends, written once.

:meth:`sctpmh.transport.BaseTransport.send` and the userspace core call these; the errors
name the bad value. The common case (plain ints in range, a ``bytes`` payload) costs one test
per argument, because this runs for every message sent.

A leaf module: it imports only :mod:`sctpmh.errors`, :mod:`sctpmh.addresses` and the limits
of :mod:`sctpmh.events`.
"""

from __future__ import annotations

from collections.abc import Iterable

from .addresses import Address, Endpoint
from .errors import AddressError, MessageTooLargeError, StreamError
from .events import MAX_PPID

__all__ = [
    "MAX_TTL",
    "check_payload",
    "check_ppid",
    "check_stream",
    "check_ttl",
    "peer_address",
    "plain_address",
]

#: The largest ``ttl`` in seconds: Linux and RFC 6458 carry it in milliseconds in 32 bits.
MAX_TTL = 2**31 / 1000


def check_stream(stream: object, outbound_streams: int) -> int:
    """``stream`` as a stream id this association may send on, or StreamError naming it."""
    if type(stream) is int and 0 <= stream < outbound_streams:
        return stream
    if isinstance(stream, bool) or not isinstance(stream, int):
        raise StreamError(f"stream must be an int, not {stream!r}", -1)
    raise StreamError(
        f"stream {stream} is out of range: this association has {outbound_streams} outbound "
        f"streams (0..{outbound_streams - 1})",
        stream,
    )


def check_ppid(ppid: object) -> int:
    """``ppid`` as a payload protocol identifier (host order, 32 bits), or ValueError."""
    if type(ppid) is int and 0 <= ppid <= MAX_PPID:
        return ppid
    if isinstance(ppid, bool) or not isinstance(ppid, int) or not 0 <= ppid <= MAX_PPID:
        raise ValueError(f"ppid must be an int in 0..{MAX_PPID}, not {ppid!r}")
    return ppid


def check_payload(data: object, limit: int) -> bytes:
    """``data`` as the bytes of one message of at most ``limit`` bytes.

    Raises TypeError for what is not bytes-like, ValueError for an empty message (DATA
    without user data is a protocol error, RFC 9260 section 6.2) and
    :class:`~sctpmh.MessageTooLargeError` above ``limit``.
    """
    if type(data) is bytes:
        payload = data
    elif isinstance(data, bytes | bytearray | memoryview):
        payload = bytes(data)
    else:
        raise TypeError(f"data must be bytes, bytearray or memoryview, not {type(data).__name__}")
    size = len(payload)
    if size > limit:
        raise MessageTooLargeError(
            f"message of {size} bytes is larger than max_message_size ({limit})", size, limit
        )
    if not size:
        raise ValueError("SCTP cannot send an empty message (RFC 9260 section 6.2)")
    return payload


def check_ttl(ttl: object) -> float:
    """``ttl`` as a positive number of seconds (PR-SCTP lifetime, RFC 3758), or ValueError."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl < MAX_TTL:
        raise ValueError(f"ttl must be a positive number of seconds below {MAX_TTL}, not {ttl!r}")
    return float(ttl)


def plain_address(address: object) -> Endpoint:
    """A caller's ``(host, port)`` checked and canonical, or AddressError naming it."""
    try:
        return Endpoint(address[0], address[1])  # type: ignore[index]
    except (TypeError, IndexError, KeyError, ValueError) as exc:
        raise AddressError(f"{address!r} is not a (host, port) address", address) from exc


def peer_address(address: object, peers: Iterable[Address]) -> Address:
    """``address`` as one of ``peers`` (the peer's addresses), or AddressError naming it."""
    wanted = plain_address(address)
    listed = list(peers)
    for host, port in listed:
        if Endpoint(host, port) == wanted:
            return (host, port)
    raise AddressError(f"{address!r} is not an address of the peer; it has {listed}", address)
