"""Tunable parameters of an SCTP association.

:class:`Config` is shared by every backend (Linux kernel SCTP and the userspace stack), so it
speaks in protocol terms: each field names the RFC 9260 (or RFC 7829) parameter it maps to, and
each backend translates it into its own knobs. Durations are seconds as ``float``; sizes are bytes.

This is a leaf module: it imports nothing from the package.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

__all__ = ["Config"]

# The kernel backend hands durations to Linux in whole milliseconds (RFC 6458 socket options);
# anything shorter would round to zero, which Linux reads as "keep the current value".
_MIN_DURATION = 0.001

# RFC 9260 section 3.3.2: the OS and MIS fields of INIT are 16-bit and must not be 0.
_MAX_STREAMS = 65535


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Protocol parameters, buffer sizes and flow-control limits of one association.

    The defaults are RFC 9260's suggested values (section 16) where RFC 9260 suggests one. For a
    LAN where a dead path must be noticed in well under a second, start from
    :meth:`fast_failover`. Instances are immutable; derive variants with :meth:`replace`.
    Every value is checked on construction and a bad one raises :class:`ValueError` naming the
    field.
    """

    rto_initial: float = 1.0
    """Retransmission timeout used before the first RTT measurement of a path, in seconds.

    RFC 9260 ``RTO.Initial`` (sections 6.3.1 and 16; 1 s). It also paces INIT retransmissions.
    Must satisfy ``rto_min <= rto_initial <= rto_max``.
    """

    rto_min: float = 1.0
    """Lower bound of a path's retransmission timeout, in seconds.

    RFC 9260 ``RTO.Min`` (sections 6.3.1 and 16; 1 s). On a LAN the measured RTT is tiny, so this
    is the timeout actually in force and it dominates how fast a lost chunk or a dead path is
    noticed.
    """

    rto_max: float = 60.0
    """Upper bound of a path's retransmission timeout, in seconds; caps the exponential backoff.

    RFC 9260 ``RTO.Max`` (sections 6.3.1, 6.3.3 and 16; 60 s).
    """

    heartbeat_interval: float = 30.0
    """Interval between HEARTBEATs probing an idle path, in seconds.

    RFC 9260 ``HB.interval`` (sections 8.3 and 16; 30 s). A HEARTBEAT goes out when a path has
    been idle for the path's RTO plus this interval (with jitter), so together with
    :attr:`path_max_retransmissions` it bounds how long an idle dead path goes unnoticed.
    """

    path_max_retransmissions: int = 5
    """Consecutive timeouts on one path after which the path is marked inactive (a count).

    RFC 9260 ``Path.Max.Retrans`` (sections 8.2 and 16; 5). The path fails on timeout number
    ``path_max_retransmissions + 1``.
    """

    association_max_retransmissions: int = 10
    """Consecutive timeouts over all paths after which the peer is declared unreachable and the
    association is aborted (a count, at least 1).

    RFC 9260 ``Association.Max.Retrans`` (sections 8.1 and 16; 10). RFC 9260 section 8.2 advises
    keeping it no larger than the sum of :attr:`path_max_retransmissions` over the peer's
    addresses, or every path can be inactive while the association still counts as up.
    """

    max_init_retransmissions: int = 8
    """How many times INIT and COOKIE-ECHO are retransmitted before association setup gives up
    (a count).

    RFC 9260 ``Max.Init.Retransmits`` (sections 5.1 and 16; 8).
    """

    potentially_failed_threshold: int | None = None
    """Consecutive timeouts on one path after which the path becomes potentially failed and new
    data moves to another active path (a count), or ``None`` to turn the state off.

    RFC 7829 ``PotentiallyFailed.Max.Retrans`` (PFMR, section 5). ``0`` makes a path potentially
    failed on its first timeout, the quickest failover. A value of at least
    :attr:`path_max_retransmissions` has the same effect as ``None``: the path fails before it
    could become potentially failed.
    """

    outbound_streams: int = 16
    """Number of outbound streams requested from the peer (1 to 65535).

    RFC 9260 "Number of Outbound Streams" (OS) of INIT/INIT ACK, section 3.3.2. The association
    gets the smaller of this and the peer's inbound stream count.
    """

    inbound_streams: int = 16
    """Largest number of inbound streams accepted from the peer (1 to 65535).

    RFC 9260 "Number of Inbound Streams" (MIS) of INIT/INIT ACK, section 3.3.2.
    """

    nodelay: bool = True
    """Send each message at once instead of holding small ones back to bundle them.

    A sender may hold small messages back to bundle them into one packet (RFC 9260 section
    6.10), a Nagle-like delay; message protocols want latency, so the delay is off by default
    (RFC 6458 ``SCTP_NODELAY``).
    """

    sender_dry_events: bool = False
    """Whether to report :class:`~sctpmh.events.SenderDry` each time everything sent so far
    has been acknowledged (RFC 6458 ``SCTP_SENDER_DRY_EVENT``).

    Off by default: under steady traffic it comes every few messages, and each one costs a
    wakeup and a read. Turn it on to learn when the peer holds everything sent, for example
    before closing a connection-less exchange. Not a protocol parameter.
    """

    send_buffer_size: int | None = None
    """Size of the transport's send buffer in bytes, or ``None`` for the system default.

    Not an RFC 9260 parameter: it bounds data queued for, or awaiting acknowledgement on, the
    wire.
    """

    receive_buffer_size: int | None = None
    """Size of the transport's receive buffer in bytes, or ``None`` for the system default.

    It determines the receiver window advertised to the peer (RFC 9260 ``a_rwnd``, section 6.2).
    """

    write_high_water: int = 64 * 1024
    """Bytes buffered for sending above which writing pauses: ``send()`` waits and the protocol's
    ``pause_writing()`` is called.

    Not a protocol parameter; the same high-water mark as asyncio's flow control (64 KiB).
    """

    write_low_water: int | None = None
    """Bytes buffered for sending at or below which writing resumes (``resume_writing()``), or
    ``None`` for a quarter of :attr:`write_high_water`, as asyncio does.

    Not a protocol parameter; see :attr:`effective_write_low_water`.
    """

    read_high_water: int = 256 * 1024
    """Bytes of received messages not yet consumed by the application above which reading
    pauses; the receive window then closes and the peer is held back (RFC 9260 section 6.2).

    With the coroutine API up to twice this may wait in Python: once in the association's
    queue, and once more in a server's transport, which keeps reading the shared one-to-many
    socket for the other associations until the paused one holds this much too. Then that
    association is peeled off onto a socket of its own (RFC 6458 section 9.2) and only that
    socket stops being read, so the server's other associations go on (where Linux refuses,
    from a thread outside the socket's network namespace, the shared socket stops being read).
    Not a protocol parameter.
    """

    max_message_size: int = 1024 * 1024
    """Largest message, in bytes, that may be sent or will be accepted from the peer.

    Not an RFC 9260 parameter: SCTP fragments and reassembles messages of any size (section 6.9);
    this caps the memory one message may take. Larger sends raise ``MessageTooLargeError``.
    """

    def __post_init__(self) -> None:
        for name in ("rto_initial", "rto_min", "rto_max", "heartbeat_interval"):
            _check_duration(name, getattr(self, name))
        # RFC 9260 section 6.3.1: RTO is clamped to [RTO.Min, RTO.Max], RTO.Initial included.
        if self.rto_min > self.rto_initial:
            raise ValueError(
                f"rto_min ({self.rto_min!r}) must be <= rto_initial ({self.rto_initial!r})"
            )
        if self.rto_initial > self.rto_max:
            raise ValueError(
                f"rto_initial ({self.rto_initial!r}) must be <= rto_max ({self.rto_max!r})"
            )

        _check_int("path_max_retransmissions", self.path_max_retransmissions, minimum=0)
        # 0 would abort the association on its first timeout, before any path could fail over.
        _check_int("association_max_retransmissions", self.association_max_retransmissions, 1)
        _check_int("max_init_retransmissions", self.max_init_retransmissions, minimum=0)
        if self.potentially_failed_threshold is not None:
            _check_int("potentially_failed_threshold", self.potentially_failed_threshold, 0)

        for name in ("outbound_streams", "inbound_streams"):
            _check_int(name, getattr(self, name), minimum=1, maximum=_MAX_STREAMS)

        for name in ("nodelay", "sender_dry_events"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")

        for name in ("send_buffer_size", "receive_buffer_size"):
            value = getattr(self, name)
            if value is not None:
                _check_int(name, value, minimum=1)

        _check_int("write_high_water", self.write_high_water, minimum=0)
        if self.write_low_water is not None:
            _check_int("write_low_water", self.write_low_water, minimum=0)
            if self.write_low_water > self.write_high_water:
                raise ValueError(
                    f"write_low_water ({self.write_low_water!r}) must be <= "
                    f"write_high_water ({self.write_high_water!r})"
                )
        _check_int("read_high_water", self.read_high_water, minimum=1)
        _check_int("max_message_size", self.max_message_size, minimum=1)

    @property
    def effective_write_low_water(self) -> int:
        """The write low-water mark in force: :attr:`write_low_water`, or
        ``write_high_water // 4`` when that is ``None``."""
        if self.write_low_water is None:
            return self.write_high_water // 4
        return self.write_low_water

    @classmethod
    def fast_failover(cls, **overrides: Any) -> Config:
        """A preset for multi-homed associations on a LAN that must fail over within a second.

        It sets ``rto_initial=0.2``, ``rto_min=0.1``, ``rto_max=0.5``,
        ``heartbeat_interval=0.2``, ``path_max_retransmissions=2``,
        ``association_max_retransmissions=4``, ``potentially_failed_threshold=0`` and
        ``max_init_retransmissions=4``; keyword ``overrides`` replace any field, preset or not.

        Why: on a LAN the RTO sits at ``rto_min``, and each timeout doubles it (RFC 9260 section
        6.3.3). With the defaults of :class:`Config` (RTO.Min 1 s, Path.Max.Retrans 5) a dead
        path is declared inactive on the sixth consecutive timeout, after at least
        1 + 2 + 4 + 8 + 16 + 32 = 63 s (134 s measured: once the data has moved, the dead path
        is only probed by heartbeats every 30 s plus its RTO). With this preset it takes three
        timeouts, roughly 0.1 + 0.2 + 0.4 = 0.7 s, plus up to one heartbeat interval for an
        idle path to be probed at all; and with the potentially-failed threshold at 0
        (RFC 7829) new data already moves to another path at the first timeout, after about
        0.1 s (the failover demo measured a largest gap between deliveries of about 60 ms).
        ``association_max_retransmissions=4`` equals the sum of the path limits for a peer with
        two addresses, as RFC 9260 section 8.2 advises. Association setup gives up after about
        0.2 + 0.4 + 0.5 + 0.5 + 0.5 = 2.1 s.

        The short timers cost spurious retransmissions when the RTT approaches 100 ms; do not
        use the preset across a WAN.
        """
        params: dict[str, Any] = {
            "rto_initial": 0.2,
            "rto_min": 0.1,
            "rto_max": 0.5,
            "heartbeat_interval": 0.2,
            "path_max_retransmissions": 2,
            "association_max_retransmissions": 4,
            "potentially_failed_threshold": 0,
            "max_init_retransmissions": 4,
        }
        params.update(overrides)
        return cls(**params)

    def replace(self, **changes: Any) -> Config:
        """Return a copy with the given fields changed; the copy is validated again."""
        return dataclasses.replace(self, **changes)


def _check_duration(name: str, value: object) -> None:
    # bool is an int subclass; Config(rto_min=True) is a bug, not one second.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < _MIN_DURATION
    ):
        raise ValueError(
            f"{name} must be a finite number of seconds >= {_MIN_DURATION}, got {value!r}"
        )


def _check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bounds = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{name} must be an int {bounds}, got {value!r}")
