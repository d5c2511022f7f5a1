"""Messages, path information and events reported by an association.

Every backend (Linux kernel SCTP and the userspace stack) reports through these types, so they
carry protocol facts only. They are small immutable dataclasses; users read them and match on
them, and never subclass them. Addresses are ``(host, port)`` tuples, like asyncio's
``peername``. Error and cause codes are SCTP cause codes (RFC 9260 section 3.3.10) or, where a
backend has nothing better, the ``errno`` it was given.

This is a leaf module: it imports nothing from the package.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "AssociationClosed",
    "AssociationLost",
    "AssociationRestarted",
    "AssociationUp",
    "Event",
    "Message",
    "PathAdded",
    "PathInfo",
    "PathRemoved",
    "PathState",
    "PathStateChanged",
    "PeerShutdown",
    "PrimaryChanged",
    "RemoteError",
    "SendFailed",
    "SenderDry",
]

# RFC 9260 section 3.3.1: stream identifiers are 16-bit, payload protocol identifiers 32-bit.
# Not in __all__: the limits every backend checks sends against.
MAX_STREAM = 0xFFFF
MAX_PPID = 0xFFFFFFFF


class PathState(enum.Enum):
    """Reachability of one peer address (RFC 9260 section 8.2, RFC 7829)."""

    ACTIVE = "active"
    """The address is reachable and may carry data."""

    POTENTIALLY_FAILED = "potentially-failed"
    """The address timed out recently; new data avoids it while it is probed (RFC 7829)."""

    INACTIVE = "inactive"
    """The address failed: its error count exceeded ``Path.Max.Retrans`` (RFC 9260 section 8.2)."""

    UNCONFIRMED = "unconfirmed"
    """The address has not yet been confirmed by a HEARTBEAT ACK (RFC 9260 section 5.4)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One user message, as received from the peer or handed to ``send()``."""

    data: bytes
    """The message payload."""

    stream: int = 0
    """Stream identifier the message travels on, 0 to 65535 (RFC 9260 section 3.3.1)."""

    ppid: int = 0
    """Payload protocol identifier: a plain host-order int, 0 to 2**32 - 1, opaque to SCTP
    (RFC 9260 section 3.3.1)."""

    unordered: bool = False
    """Whether the message was sent unordered (the U bit, RFC 9260 section 3.3.1)."""

    ssn: int | None = None
    """Stream sequence number, or ``None`` when the message is unordered or the number is
    unknown (RFC 9260 section 3.3.1)."""

    tsn: int | None = None
    """Transmission sequence number of the message's first fragment, or ``None`` when unknown
    (RFC 9260 section 3.3.1)."""

    source: tuple[str, int] | None = None
    """The peer address the message arrived from, i.e. which path carried it (of its last
    piece, for a message that came in several packets), or ``None`` when unknown."""

    def __post_init__(self) -> None:
        # Checked for every message received, so the common case (plain ints in range) is
        # tested first and cheaply; bool is an int subclass, and stream=True is a bug, not
        # stream 1.
        stream, ppid = self.stream, self.ppid
        if not (type(stream) is int and 0 <= stream <= MAX_STREAM) and (
            isinstance(stream, bool) or not isinstance(stream, int) or not 0 <= stream <= MAX_STREAM
        ):
            raise ValueError(f"stream must be an int in 0..{MAX_STREAM}, got {stream!r}")
        if not (type(ppid) is int and 0 <= ppid <= MAX_PPID) and (
            isinstance(ppid, bool) or not isinstance(ppid, int) or not 0 <= ppid <= MAX_PPID
        ):
            raise ValueError(f"ppid must be an int in 0..{MAX_PPID}, got {ppid!r}")


def received_message(
    data: bytes,
    stream: int,
    ppid: int,
    unordered: bool,
    ssn: int | None,
    tsn: int | None,
    source: tuple[str, int] | None,
) -> Message:
    """A :class:`Message` from values a backend already knows to be valid (the kernel, or
    the userspace stack's decoder, range-checks stream and PPID): for backends only.

    Skips the dataclass ``__init__`` and its checks, which cost more than half of a small
    message's receive path; the slot descriptors set the fields of the frozen instance.
    """
    message = _new_message(Message)
    _set_data(message, data)
    _set_stream(message, stream)
    _set_ppid(message, ppid)
    _set_unordered(message, unordered)
    _set_ssn(message, ssn)
    _set_tsn(message, tsn)
    _set_source(message, source)
    return message


_new_message = object.__new__
_set_data = vars(Message)["data"].__set__
_set_stream = vars(Message)["stream"].__set__
_set_ppid = vars(Message)["ppid"].__set__
_set_unordered = vars(Message)["unordered"].__set__
_set_ssn = vars(Message)["ssn"].__set__
_set_tsn = vars(Message)["tsn"].__set__
_set_source = vars(Message)["source"].__set__


@dataclass(frozen=True, slots=True)
class PathInfo:
    """A snapshot of one peer address of an association."""

    address: tuple[str, int]
    """The peer address, ``(host, port)``."""

    state: PathState
    """Its reachability."""

    srtt: float | None
    """Smoothed round-trip time in seconds, or ``None`` before the first measurement
    (RFC 9260 section 6.3.1). Linux reports it in whole milliseconds, so on a loopback or LAN
    path under 1 ms it stays ``None`` there too."""

    rto: float
    """Current retransmission timeout in seconds (RFC 9260 section 6.3.1)."""

    cwnd: int
    """Congestion window in bytes (RFC 9260 section 7.2)."""

    mtu: int
    """Path MTU in bytes (RFC 9260 section 7.3)."""

    primary: bool
    """Whether this is the primary path, the one new data goes to first (RFC 9260 section 6.4)."""


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event an association reports; match on the subclasses."""


@dataclass(frozen=True, slots=True)
class AssociationUp(Event):
    """The association is established (COMMUNICATION UP, RFC 9260 section 11.2).

    Backends use it to create the association; it is not delivered to protocols or to
    :meth:`Association.events`, which start after it (``connection_made``)."""

    association_id: int
    """Identifier of the association, unique within its socket or endpoint."""

    outbound_streams: int
    """Number of outbound streams negotiated with the peer."""

    inbound_streams: int
    """Number of inbound streams negotiated with the peer."""


@dataclass(frozen=True, slots=True)
class AssociationRestarted(Event):
    """The peer restarted and re-established the association; data in flight before the restart
    may be lost (RFC 9260 section 5.2.4)."""

    association_id: int
    """Identifier of the association."""


@dataclass(frozen=True, slots=True)
class AssociationLost(Event):
    """The peer became unreachable and the association failed (COMMUNICATION LOST,
    RFC 9260 section 8.1).

    Reserved for backends that can tell a lost peer from an ABORT: Linux reports both as
    COMMUNICATION LOST, so the kernel backend ends such an association with
    :class:`AssociationClosed` (``aborted=True``, with the cause) and never sends this."""

    association_id: int
    """Identifier of the association."""

    cause: int | None
    """SCTP error cause code when one is known (RFC 9260 section 3.3.10), else ``None``."""


@dataclass(frozen=True, slots=True)
class PathStateChanged(Event):
    """A peer address changed reachability (RFC 9260 section 8.2, RFC 7829)."""

    address: tuple[str, int]
    """The peer address, ``(host, port)``."""

    state: PathState
    """Its new state."""

    error: int = 0
    """Why, when the backend says: on the kernel backend Linux's ``spc_error`` (enum
    sctp_sn_error: 0 retransmission limit reached, 1 a SACK arrived, 2 a HEARTBEAT was
    answered, 3 user request), else 0. ``sctpmh paths`` shows it in words."""


@dataclass(frozen=True, slots=True)
class PathAdded(Event):
    """The peer added an address to the association (RFC 5061 ASCONF, or a restart)."""

    address: tuple[str, int]
    """The new peer address, ``(host, port)``."""


@dataclass(frozen=True, slots=True)
class PathRemoved(Event):
    """A peer address is no longer part of the association (RFC 5061 ASCONF, or a restart)."""

    address: tuple[str, int]
    """The removed peer address, ``(host, port)``."""


@dataclass(frozen=True, slots=True)
class PrimaryChanged(Event):
    """The primary path changed, locally or at the peer's request (RFC 9260 section 6.4)."""

    address: tuple[str, int]
    """The new primary peer address, ``(host, port)``."""


@dataclass(frozen=True, slots=True)
class SendFailed(Event):
    """The transport handed back a message it could not deliver (RFC 6458 SCTP_SEND_FAILED)."""

    data: bytes
    """The undelivered payload."""

    stream: int
    """Stream identifier the message was sent on."""

    ppid: int
    """Payload protocol identifier it was sent with, host-order."""

    error: int
    """Why it failed, as an errno value: ``ECONNABORTED`` when the association ended
    (closed, aborted here or by the peer), ``ETIMEDOUT`` when the peer became unreachable or
    the message's ``ttl`` ran out, the system call's errno when the kernel refused the send.
    What the kernel itself hands back carries the kernel's own error value."""

    sent: bool
    """Whether the message had been put on the wire at least once (RFC 6458
    ``SCTP_DATA_SENT``) rather than never sent (``SCTP_DATA_UNSENT``); if so, the peer may have
    received it."""


@dataclass(frozen=True, slots=True)
class RemoteError(Event):
    """The peer sent an ERROR chunk (RFC 9260 section 3.3.10)."""

    cause: int
    """The error cause code (RFC 9260 section 3.3.10)."""

    data: bytes
    """The raw cause-specific information that came with it."""


@dataclass(frozen=True, slots=True)
class PeerShutdown(Event):
    """The peer started a graceful shutdown: no more data will arrive from it
    (RFC 9260 section 9.2)."""


@dataclass(frozen=True, slots=True)
class SenderDry(Event):
    """Everything sent so far has been acknowledged by the peer (RFC 6458 SCTP_SENDER_DRY_EVENT)."""


@dataclass(frozen=True, slots=True)
class AssociationClosed(Event):
    """The association is over; this is its last event."""

    cause: int | None = None
    """SCTP error cause code when one is known (RFC 9260 section 3.3.10), else ``None``."""

    aborted: bool = False
    """Whether it ended abruptly (ABORT or peer unreachable) rather than by a graceful
    SHUTDOWN."""
