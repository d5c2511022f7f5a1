"""The SCTP association state machine (RFC 9260), sans I/O.

An :class:`Association` is driven by its caller: ``connect()`` / ``send()`` / ``shutdown()`` /
``abort()`` from the application, ``receive_datagram()`` for every SCTP packet that arrived and
``handle_timer()`` when ``get_timer()``'s deadline has come. It hands back the packets to put on
the wire with ``datagrams_to_send()`` and what happened with ``next_event()``. It never reads a
clock (every input takes ``now``) and draws every random number from the injected ``rng``.

What it does, by RFC 9260 section:

* 5.1, 5.1.3, 5.1.5: the four-way handshake; the answering side keeps no state until a valid
  COOKIE ECHO arrives (HMAC-authenticated cookie with a lifetime, Stale Cookie ERROR).
* 5.2.1-5.2.6: INIT collisions, unexpected INIT / INIT ACK / COOKIE ECHO / COOKIE ACK, the
  COOKIE ECHO table of 5.2.4 (peer restart, collisions), Stale Cookie handling.
* 8.4, 8.5, 8.5.1: out-of-the-blue packets and the verification tag rules.
* 6.1-6.2, 6.5-6.10: DATA and SACK (through :mod:`sctpmh.core.sender` and
  :mod:`sctpmh.core.receiver`), delayed SACK, bundling, invalid streams, empty DATA.
* 6.3, 7.2, 8.1-8.3: RTO, T3-rtx, congestion control (in :mod:`sctpmh.core.destination`),
  failure detection, heartbeats.
* 9.1, 9.2: ABORT and the graceful SHUTDOWN sequence with its T2 and T5 timers.
* 3.2, 3.2.1: unknown chunks and parameters by the upper two bits of their type.

Bad input from the wire never raises: it is dropped (and counted in :attr:`Association.stats`)
or answered with ABORT or ERROR as the RFC says.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any

from sctpmh.config import Config
from sctpmh.core import causes
from sctpmh.core.causes import CauseCode, ErrorCause
from sctpmh.core.chunks import (
    DATA_HEADER_SIZE,
    AbortChunk,
    Chunk,
    ChunkType,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
    chunk_size,
    unknown_chunk_action,
)
from sctpmh.core.cookie import CookieJar, CookieState, Stale
from sctpmh.core.destination import Destination
from sctpmh.core.packet import COMMON_HEADER_SIZE, Packet, PacketError, build_packet, decode_packet
from sctpmh.core.params import (
    Param,
    ParamType,
    address_of,
    cookie_preservative,
    cookie_preservative_ms,
    encode_params,
    ipv4_address,
    ipv6_address,
    state_cookie,
    unknown_param_action,
)
from sctpmh.core.receiver import MessageTooLarge, Reassembler, TsnTracker
from sctpmh.core.sender import Sender
from sctpmh.core.serial import tsn_add, tsn_lt
from sctpmh.core.stats import Stats
from sctpmh.core.timers import Timer
from sctpmh.errors import (
    AssociationAbortedError,
    AssociationClosedError,
    MessageTooLargeError,
    StreamError,
)
from sctpmh.events import (
    AssociationClosed,
    AssociationLost,
    AssociationRestarted,
    AssociationUp,
    Event,
    Message,
    PathInfo,
    PathState,
    PathStateChanged,
    PeerShutdown,
    RemoteError,
    SenderDry,
    SendFailed,
    received_message,
)

__all__ = ["Association", "CoreConfig", "State"]

Address = tuple[str, int]

_MAX_STREAM = 0xFFFF
_MAX_PPID = 0xFFFFFFFF
# RFC 9260 section 6.2: the SACK delay MUST NOT exceed 500 ms.
_MAX_SACK_DELAY = 0.5
# RFC 9260 section 3.3.2: a_rwnd of INIT / INIT ACK is at least 1500.
_MIN_RECEIVE_WINDOW = 1500
_MIN_MTU = 512
# Heartbeat Info (opaque to the peer, RFC 9260 section 8.3): nonce, send time, host.
_HEARTBEAT_INFO = struct.Struct("!Qd")
# RFC 9260 section 9.2: T5-shutdown-guard, suggested 5 times RTO.Max.
_T5_FACTOR = 5
# RFC 9260 section 5.2.6: a Cookie Preservative asks for at most this much more life.
_MAX_COOKIE_EXTENSION = 60.0

# Parameters this stack understands in INIT / INIT ACK; any other type falls under the
# upper-two-bits rule (RFC 9260 section 3.2.1). ECN (0x8000) is not supported, but its bits
# say "skip silently", which is what ignoring it does.
_KNOWN_INIT_PARAMS = frozenset(
    {
        ParamType.IPV4_ADDRESS,
        ParamType.IPV6_ADDRESS,
        ParamType.COOKIE_PRESERVATIVE,
        ParamType.HOST_NAME_ADDRESS,
        ParamType.SUPPORTED_ADDRESS_TYPES,
        ParamType.ECN_CAPABLE,
    }
)
_KNOWN_INIT_ACK_PARAMS = frozenset(
    {
        ParamType.IPV4_ADDRESS,
        ParamType.IPV6_ADDRESS,
        ParamType.STATE_COOKIE,
        ParamType.UNRECOGNIZED_PARAMETER,
        ParamType.HOST_NAME_ADDRESS,
        ParamType.SUPPORTED_ADDRESS_TYPES,
        ParamType.ECN_CAPABLE,
    }
)


class State(enum.Enum):
    """Association states (RFC 9260 section 4)."""

    CLOSED = "closed"
    COOKIE_WAIT = "cookie-wait"
    COOKIE_ECHOED = "cookie-echoed"
    ESTABLISHED = "established"
    SHUTDOWN_PENDING = "shutdown-pending"
    SHUTDOWN_SENT = "shutdown-sent"
    SHUTDOWN_RECEIVED = "shutdown-received"
    SHUTDOWN_ACK_SENT = "shutdown-ack-sent"


# States grouped by what they allow.
_HANDSHAKE = frozenset({State.COOKIE_WAIT, State.COOKIE_ECHOED})
_CONNECTED = frozenset(
    {
        State.ESTABLISHED,
        State.SHUTDOWN_PENDING,
        State.SHUTDOWN_SENT,
        State.SHUTDOWN_RECEIVED,
        State.SHUTDOWN_ACK_SENT,
    }
)
_WITH_TCB = _HANDSHAKE | _CONNECTED
_ALL = _WITH_TCB | {State.CLOSED}
# Where we may still send or receive DATA and SACKs (RFC 9260 section 9.2: the SHUTDOWN sender
# keeps receiving, the SHUTDOWN receiver keeps sending until everything is acknowledged).
_DATA_FLOWS = frozenset(
    {State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_SENT, State.SHUTDOWN_RECEIVED}
)
# Where idle paths are probed with HEARTBEATs (RFC 9260 section 8.3).
_HEARTBEATING = frozenset({State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED})


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Knobs of the userspace core that the shared :class:`~sctpmh.config.Config` lacks.

    Protocol timers, retransmission limits, stream counts and the message size limit come
    from ``Config``; this holds ports, packet and buffer sizes and the cookie settings.
    """

    local_port: int
    """Our SCTP port (the common header's source port, RFC 9260 section 3.1)."""
    remote_port: int
    """The peer's SCTP port for ``connect()``; a listening association learns it from the
    INIT it answers."""
    mtu: int = 1280
    """Largest SCTP packet to send, in bytes (common header included)."""
    receive_window: int = 256 * 1024
    """Receive buffer behind the advertised window a_rwnd (RFC 9260 section 6.2)."""
    sack_delay: float = 0.2
    """Delayed acknowledgement timeout in seconds (RFC 9260 section 6.2: at most 0.5)."""
    max_burst: int = 4
    """Most packets of DATA sent per call of ``datagrams_to_send`` (Max.Burst, section 16)."""
    cookie_lifetime: float = 60.0
    """Valid.Cookie.Life in seconds (RFC 9260 sections 5.1.3, 16)."""
    secret: bytes | None = None
    """Key of the cookie MAC, at least 16 bytes; ``None`` draws 32 bytes from the rng."""

    def __post_init__(self) -> None:
        for name in ("local_port", "remote_port"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
                raise ValueError(f"{name} must be an int in 0..65535, got {value!r}")
        if not isinstance(self.mtu, int) or self.mtu < _MIN_MTU:
            raise ValueError(f"mtu must be an int >= {_MIN_MTU}, got {self.mtu!r}")
        if not isinstance(self.receive_window, int) or self.receive_window < _MIN_RECEIVE_WINDOW:
            raise ValueError(
                f"receive_window must be an int >= {_MIN_RECEIVE_WINDOW}, "
                f"got {self.receive_window!r}"
            )
        if not 0 <= self.sack_delay <= _MAX_SACK_DELAY:
            raise ValueError(f"sack_delay must be in 0..{_MAX_SACK_DELAY}, got {self.sack_delay!r}")
        if not isinstance(self.max_burst, int) or self.max_burst < 1:
            raise ValueError(f"max_burst must be an int >= 1, got {self.max_burst!r}")
        if not self.cookie_lifetime > 0:
            raise ValueError(f"cookie_lifetime must be > 0, got {self.cookie_lifetime!r}")
        if self.secret is not None and len(self.secret) < 16:
            raise ValueError("secret must be at least 16 bytes")


class _Path:
    """One peer address: its :class:`Destination` and the timers that belong to it."""

    __slots__ = (
        "destination",
        "heartbeat",
        "heartbeat_nonce",
        "heartbeat_sent_at",
        "last_sent",
        "t3",
    )

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self.t3 = Timer()
        """T3-rtx (RFC 9260 section 6.3.2)."""
        self.heartbeat = Timer()
        """Next HEARTBEAT, or the deadline of the one outstanding (section 8.3)."""
        self.heartbeat_nonce: int | None = None
        self.heartbeat_sent_at = 0.0
        self.last_sent = 0.0


class _Inbound:
    """Facts about the packet being processed, shared by the chunk handlers."""

    __slots__ = ("data_seen", "errors", "index", "now", "sack_now", "source", "source_port", "tag")

    def __init__(self, source: Address, source_port: int, tag: int, now: float) -> None:
        self.source = source
        self.source_port = source_port
        self.tag = tag
        self.now = now
        self.index = 0
        self.data_seen = False
        self.sack_now = False
        self.errors: list[ErrorCause] = []


_Handler = Callable[["Association", Any, _Inbound], bool]


class Association:
    """One SCTP association, driven by its caller (see the module docstring).

    An association that is never ``connect()``-ed listens: it answers INITs statelessly with
    a State Cookie and is established by the first valid COOKIE ECHO (RFC 9260 section 5.1).
    """

    def __init__(
        self,
        config: Config,
        core: CoreConfig,
        *,
        local_addresses: Sequence[str],
        rng: Random,
        association_id: int = 1,
    ) -> None:
        self.config = config
        """Protocol parameters."""
        self.core = core
        """Core-only parameters."""
        self.association_id = association_id
        """The id events carry."""
        self.local_addresses = tuple(local_addresses)
        """Our addresses, listed in INIT / INIT ACK when there are several."""
        self.state = State.CLOSED
        """The RFC 9260 section 4 state."""
        self.stats = Stats()
        """Counters."""
        self._rng = rng
        self._jar = CookieJar(core.secret if core.secret is not None else rng.randbytes(32))
        self._events: deque[Event | Message] = deque()
        self._undelivered = 0  # bytes of received messages the application has not taken
        self._finished = False  # AssociationClosed was reported: the object is spent
        self._close_cause: int | None = None
        self._aborted = False
        self._connecting = False
        self._shutdown_requested = False

        # The TCB (RFC 9260 section 5.1): tags, initial TSNs, negotiated streams.
        self._local_tag = 0
        self._peer_tag = 0
        self._local_initial_tsn = 0
        self._peer_initial_tsn = 0
        self._outbound_streams = 0
        self._inbound_streams = 0
        self._remote_port = core.remote_port
        self._peer_a_rwnd = 0  # the peer's last advertised window
        self._peer_rwnd = 0  # the window the sender may fill (a_rwnd less flight at the SACK)
        self._paths: dict[str, _Path] = {}
        self._primary: str | None = None
        self._error_count = 0  # association overall error counter (section 8.1)

        self._sender: Sender | None = None
        self._tracker: TsnTracker | None = None
        self._reassembler: Reassembler | None = None
        self._pending: list[tuple[bytes, int, int, bool]] = []  # sends before ESTABLISHED

        # Handshake.
        self._t1 = Timer()  # T1-init or T1-cookie (section 5.1)
        self._init_retransmissions = 0
        self._init_chunk: InitChunk | None = None
        self._cookie_echo: tuple[Chunk, ...] = ()
        self._cookie_preservative_ms = 0

        # Shutdown.
        self._t2 = Timer()  # T2-shutdown (section 9.2)
        self._t5 = Timer()  # T5-shutdown-guard (section 9.2)

        # Acknowledgements (section 6.2).
        self._sack_timer = Timer()
        self._sack_due = False
        self._data_packets_unacked = 0
        self._duplicates: list[int] = []
        self._sack_address: Address | None = None
        self._last_sack_at = -1.0  # when the peer's last SACK arrived
        self._last_advertised = core.receive_window

        # Output: control chunks by destination address (None: the primary path), then
        # packets that were encoded at once because they carry their own tag.
        self._control: list[tuple[Chunk, Address | None]] = []
        self._raw: list[tuple[bytes, Address]] = []

    # --- read-only views ---------------------------------------------------------------------

    @property
    def local_tag(self) -> int:
        """Our verification tag (0 before connect / before a COOKIE ECHO established us)."""
        return self._local_tag

    @property
    def local_initial_tsn(self) -> int:
        """The TSN of our first DATA chunk (RFC 9260 section 5.1), 0 before it is chosen."""
        return self._local_initial_tsn

    @property
    def peer_tag(self) -> int:
        """The peer's verification tag, 0 while unknown."""
        return self._peer_tag

    @property
    def outbound_streams(self) -> int:
        """Negotiated outbound streams (0 before establishment, RFC 9260 section 5.1.1)."""
        return self._outbound_streams

    @property
    def inbound_streams(self) -> int:
        """Negotiated inbound streams (0 before establishment)."""
        return self._inbound_streams

    @property
    def destinations(self) -> dict[str, Destination]:
        """Per-destination state, keyed by host."""
        return {host: path.destination for host, path in self._paths.items()}

    @property
    def primary_address(self) -> Address | None:
        """The address new data goes to (RFC 9260 section 6.4), or None."""
        if self._primary is None:
            return None
        return self._paths[self._primary].destination.address

    @property
    def peer_rwnd(self) -> int:
        """The peer's receive window as last computed (RFC 9260 section 6.2.1)."""
        if self._sender is not None:
            return self._sender.peer_rwnd
        return self._peer_rwnd

    def paths(self) -> list[PathInfo]:
        """A snapshot of every peer address."""
        return [
            PathInfo(
                address=path.destination.address,
                state=path.destination.state,
                srtt=path.destination.srtt,
                rto=path.destination.rto,
                cwnd=path.destination.cwnd,
                mtu=path.destination.mtu,
                primary=host == self._primary,
            )
            for host, path in self._paths.items()
        ]

    # --- application inputs ---------------------------------------------------------------------

    def connect(self, remote_addresses: Sequence[Address] | Sequence[str], now: float) -> None:
        """Start the association: send INIT and start T1-init (RFC 9260 section 5.1 A)."""
        if self._finished:
            raise AssociationClosedError("the association is closed")
        if self.state is not State.CLOSED or self._connecting:
            raise ValueError("connect() called twice")
        addresses: list[Address] = []
        for item in remote_addresses:
            address = (item, self.core.remote_port) if isinstance(item, str) else item
            addresses.append((address[0], address[1]))
        if not addresses:
            raise ValueError("connect() needs at least one remote address")
        for address in addresses:
            self._add_path(address)
        self._primary = addresses[0][0]
        self._connecting = True
        self._local_tag = self._random_tag()
        self._local_initial_tsn = self._rng.getrandbits(32)
        self.state = State.COOKIE_WAIT
        self._init_retransmissions = 0
        self._send_init(now)

    def send(
        self,
        data: bytes,
        *,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        now: float,
    ) -> None:
        """Queue one message; it goes out with the next ``datagrams_to_send``.

        Raises :class:`~sctpmh.errors.StreamError`, :class:`~sctpmh.errors.MessageTooLargeError`,
        :class:`~sctpmh.errors.AssociationClosedError` or ``ValueError`` on local misuse only.
        Before the association is up the message waits for it.
        """
        if self._finished:
            if self._aborted:
                raise AssociationAbortedError("the association was aborted", self._close_cause)
            raise AssociationClosedError("the association is closed")
        if self.state not in (State.COOKIE_WAIT, State.COOKIE_ECHOED, State.ESTABLISHED):
            # RFC 9260 section 9.2: once shutting down, new sends are refused.
            raise AssociationClosedError(f"cannot send in state {self.state.value}")
        if self._shutdown_requested:
            raise AssociationClosedError("the association is shutting down")
        if (
            isinstance(stream, bool)
            or not isinstance(stream, int)
            or not 0 <= stream <= _MAX_STREAM
        ):
            raise ValueError(f"stream must be an int in 0..{_MAX_STREAM}, got {stream!r}")
        if isinstance(ppid, bool) or not isinstance(ppid, int) or not 0 <= ppid <= _MAX_PPID:
            raise ValueError(f"ppid must be an int in 0..{_MAX_PPID}, got {ppid!r}")
        size = len(data)
        if size == 0:
            # RFC 9260 section 6.2: DATA without user data is a protocol error.
            raise ValueError("cannot send an empty message")
        limit = self.config.max_message_size
        if size > limit:
            raise MessageTooLargeError(f"message of {size} bytes exceeds {limit}", size, limit)
        data = bytes(data)
        if self._sender is None:
            if stream >= self.config.outbound_streams:
                raise StreamError(
                    f"stream {stream} is not below {self.config.outbound_streams}", stream
                )
            self._pending.append((data, stream, ppid, unordered))
            return
        if stream >= self._outbound_streams:
            raise StreamError(f"stream {stream} is not below {self._outbound_streams}", stream)
        self._sender.enqueue(data, stream, ppid, unordered, self._max_payload())

    def shutdown(self, now: float) -> None:
        """Close gracefully: queued data is delivered first (RFC 9260 section 9.2).

        Before the association is up the shutdown waits for it, so messages queued meanwhile
        are still delivered. A listening association simply ends.
        """
        if self._finished:
            return
        if self.state is State.CLOSED:
            self._close(now, None, aborted=False)
            return
        if self.state in _HANDSHAKE:
            self._shutdown_requested = True
            return
        if self.state is State.ESTABLISHED:
            self.state = State.SHUTDOWN_PENDING
            self._check_shutdown_progress(now)

    def abort(self, now: float, reason: bytes = b"") -> None:
        """End at once with an ABORT carrying a User-Initiated Abort cause (RFC 9260 section
        9.1); unsent and unacknowledged messages come back as ``SendFailed``."""
        if self._finished:
            return
        if self.state is not State.CLOSED and self._peer_tag:
            self._send_abort(now, (causes.user_abort(bytes(reason)),))
        self._close(now, CauseCode.USER_INITIATED_ABORT, aborted=True)

    # --- outputs --------------------------------------------------------------------------------

    def next_event(self) -> Event | Message | None:
        """The next event, or None. :class:`~sctpmh.events.AssociationClosed` is the last."""
        if not self._events:
            return None
        event = self._events.popleft()
        if type(event) is Message:
            self._undelivered -= len(event.data)
            self._maybe_window_update()
        return event

    def pending_bytes(self) -> int:
        """Bytes queued or in flight, not yet acknowledged by the peer."""
        pending = sum(len(item[0]) for item in self._pending)
        if self._sender is not None:
            pending += self._sender.queued_bytes + self._sender.outstanding_bytes
        return pending

    def get_timer(self) -> float | None:
        """The earliest timer deadline, or None when no timer runs."""
        deadlines = [
            timer.deadline
            for timer in (self._t1, self._t2, self._t5, self._sack_timer)
            if timer.deadline is not None
        ]
        for path in self._paths.values():
            if path.t3.deadline is not None:
                deadlines.append(path.t3.deadline)
            if path.heartbeat.deadline is not None:
                deadlines.append(path.heartbeat.deadline)
        return min(deadlines) if deadlines else None

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        """The SCTP packets to send now, with the address each goes to.

        Control chunks go first, then DATA, filling packets up to the MTU (RFC 9260 section
        6.10); a SACK that is due, or waiting for its delay, rides with the DATA (6.2).
        """
        out = self._raw
        self._raw = []
        if self._peer_tag and self.state in _CONNECTED | {State.COOKIE_ECHOED}:
            self._build_packets(now, out)
        else:
            self._control.clear()
        self.stats.packets_sent += len(out)
        return out

    # --- timers ---------------------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        """Run every timer whose deadline has come."""
        if self._t1.due(now):
            self._on_t1(now)
        if self._t2.due(now):
            self._on_t2(now)
        if self._t5.due(now):
            # RFC 9260 section 9.2: the shutdown took too long; give up with an ABORT.
            self._send_abort(now, ())
            self._close(now, None, aborted=True)
            return
        if self._sack_timer.due(now):
            self._sack_due = True
        for path in list(self._paths.values()):
            if self._finished:
                return
            if path.t3.due(now):
                self._on_t3(path, now)
            if not self._finished and path.heartbeat.due(now):
                self._on_heartbeat_timer(path, now)

    def _on_t1(self, now: float) -> None:
        # RFC 9260 section 5.1 C/D: retransmit INIT or COOKIE ECHO with the RTO backed off,
        # until Max.Init.Retransmits.
        if self.state not in _HANDSHAKE:
            return
        if self._init_retransmissions >= self.config.max_init_retransmissions:
            self._close(now, None, aborted=True)
            return
        self._init_retransmissions += 1
        self.stats.init_retransmissions += 1
        path = self._primary_path()
        path.destination.back_off()
        if self.state is State.COOKIE_WAIT:
            self._send_init(now)
        else:
            self._send_cookie_echo(now)

    def _on_t2(self, now: float) -> None:
        # RFC 9260 section 9.2: resend SHUTDOWN / SHUTDOWN ACK, counting the timeout as an
        # error of the destination and of the association.
        path = self._primary_path()
        path.destination.back_off()
        if self._count_error(path, now):
            return
        if self.state is State.SHUTDOWN_SENT:
            self._queue_shutdown()
        elif self.state is State.SHUTDOWN_ACK_SENT:
            self._control.append((ShutdownAckChunk(), None))
        else:
            return
        self._t2.start(now, path.destination.rto)

    def _on_t3(self, path: _Path, now: float) -> None:
        sender = self._sender
        if sender is None or self.state not in _DATA_FLOWS or not sender.outstanding_bytes:
            return
        self.stats.t3_expirations += 1
        destination = path.destination
        # RFC 9260 section 6.3.3: E1 cut the window (7.2.3), E2 back off the RTO, E3 mark
        # everything in flight there for retransmission; T3 restarts when it goes out (R1).
        destination.on_t3_expired()
        destination.back_off()
        sender.on_t3_expired(destination)
        if self._peer_a_rwnd == 0 and self._last_sack_at >= path.last_sent:
            # Section 6.1 A: a zero window probe the peer keeps answering with SACKs is not
            # an error; the receiver may hold its window closed indefinitely.
            return
        self._count_error(path, now)

    def _on_heartbeat_timer(self, path: _Path, now: float) -> None:
        if self.state not in _HEARTBEATING:
            path.heartbeat_nonce = None
            return
        destination = path.destination
        if path.heartbeat_nonce is not None:
            # RFC 9260 section 8.3: a HEARTBEAT unanswered within one RTO counts as an error
            # of the destination and the association; back off like a T3 timeout.
            path.heartbeat_nonce = None
            destination.back_off()
            if self._count_error(path, now):
                return
            path.heartbeat.start(now, self._heartbeat_interval(destination))
            return
        if path.t3.running:
            # Data is outstanding there: its acknowledgements (or T3) watch the path.
            path.heartbeat.start(now, self._heartbeat_delay(path))
            return
        idle_since = path.last_sent + destination.rto + self.config.heartbeat_interval
        if now < idle_since:
            # Data went there recently; the path is idle only from then on.
            path.heartbeat.deadline = idle_since
            return
        self._send_heartbeat(path, now)

    # --- datagrams in ---------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, source: Address, now: float) -> None:
        """Process one received SCTP packet (the UDP payload under RFC 6951) from ``source``.

        Never raises on bad input: malformed packets are dropped and counted.
        """
        stats = self.stats
        stats.packets_received += 1
        try:
            packet = decode_packet(data)
        except PacketError as exc:
            # RFC 9260 section 6.8: a bad checksum is discarded silently; so is anything the
            # codec cannot parse (there is no association to blame it on for certain).
            stats.packets_dropped += 1
            if "checksum" in exc.reason:
                stats.bad_checksum += 1
            else:
                stats.malformed += 1
            return
        self._receive_packet(packet, (source[0], source[1]), now)

    def _receive_packet(self, packet: Packet, source: Address, now: float) -> None:
        stats = self.stats
        chunks = packet.chunks
        if packet.destination_port != self.core.local_port or not chunks:
            stats.packets_dropped += 1
            stats.wrong_port += packet.destination_port != self.core.local_port
            return
        if self.state is not State.CLOSED and packet.source_port != self._remote_port:
            # Another peer port: another association, none of ours.
            stats.packets_dropped += 1
            stats.wrong_port += 1
            return
        inbound = _Inbound(source, packet.source_port, packet.verification_tag, now)
        if any(type(chunk) is InitChunk for chunk in chunks):
            # RFC 9260 sections 6.10 and 8.5.1 A: INIT travels alone with verification tag 0.
            if len(chunks) != 1 or packet.verification_tag != 0:
                stats.packets_dropped += 1
                stats.vtag_mismatch += 1
                return
            init = chunks[0]
            assert type(init) is InitChunk
            self._on_init(init, inbound)
            return
        if self.state is State.CLOSED:
            self._receive_ootb(packet, inbound)
            return
        tag = packet.verification_tag
        first = chunks[0]
        if tag != self._local_tag and type(first) is not CookieEchoChunk:
            self._receive_foreign_tag(packet, inbound)
            return
        self._dispatch(chunks, inbound)

    def _receive_ootb(self, packet: Packet, inbound: _Inbound) -> None:
        # RFC 9260 section 8.4: a packet no association of ours owns.
        chunks = packet.chunks
        first = chunks[0]
        if type(first) is CookieEchoChunk and not self._finished:
            # Rule 4: a COOKIE ECHO may establish a listening association (section 5.1.5).
            self._dispatch(chunks, inbound)
            return
        self.stats.ootb += 1
        self.stats.packets_dropped += 1
        kinds = {type(chunk) for chunk in chunks}
        if AbortChunk in kinds:
            return  # rule 2: never answer an ABORT
        if ShutdownAckChunk in kinds:
            # Rule 5: SHUTDOWN COMPLETE with the T bit, reflecting the packet's tag.
            self._send_raw(
                inbound.source,
                packet.source_port,
                packet.verification_tag,
                (ShutdownCompleteChunk(reflected_tag=True),),
            )
            return
        if ShutdownCompleteChunk in kinds or CookieAckChunk in kinds:
            return  # rules 6 and 7
        for chunk in chunks:
            if type(chunk) is ErrorChunk and any(
                cause.code == CauseCode.STALE_COOKIE for cause in chunk.causes
            ):
                return  # rule 7
        # Rule 8: ABORT with the T bit.
        self.stats.aborts_sent += 1
        self._send_raw(
            inbound.source,
            packet.source_port,
            packet.verification_tag,
            (AbortChunk(reflected_tag=True),),
        )

    def _receive_foreign_tag(self, packet: Packet, inbound: _Inbound) -> None:
        # The tag is not ours: RFC 9260 section 8.5 drops the packet, with the exceptions of
        # 8.5.1 B, C and E.
        first = packet.chunks[0]
        tag = packet.verification_tag
        if (
            isinstance(first, AbortChunk | ShutdownCompleteChunk)
            and first.reflected_tag
            and self._peer_tag
            and tag == self._peer_tag
        ):
            self._dispatch(packet.chunks[:1], inbound)
            return
        if type(first) is ShutdownAckChunk and self.state in _HANDSHAKE:
            # 8.5.1 E: treated as out of the blue (8.4 rule 5).
            self.stats.ootb += 1
            self._send_raw(
                inbound.source,
                packet.source_port,
                tag,
                (ShutdownCompleteChunk(reflected_tag=True),),
            )
            return
        self.stats.packets_dropped += 1
        self.stats.vtag_mismatch += 1

    # --- chunk dispatch -------------------------------------------------------------------------

    def _dispatch(self, chunks: Sequence[Chunk], inbound: _Inbound) -> None:
        # Runs the chunks of one packet through _DISPATCH in order (rules in its comment).
        stats = self.stats
        tracker = self._tracker
        had_gaps = tracker is not None and tracker.has_gaps
        for index, chunk in enumerate(chunks):
            inbound.index = index
            if type(chunk) is UnknownChunk:
                stats.unknown_chunks += 1
                stop, report = unknown_chunk_action(chunk.type)
                if report:
                    inbound.errors.append(causes.unrecognized_chunk(self._fit_cause(chunk.raw)))
                if stop:
                    break
                continue
            handler, allowed = _DISPATCH[chunk_type_of(chunk)]
            if self.state not in allowed:
                stats.chunks_ignored += 1
                continue
            if not handler(self, chunk, inbound):
                break
            if self._finished:
                return
        self._after_packet(inbound, had_gaps)

    def _after_packet(self, inbound: _Inbound, had_gaps: bool) -> None:
        if inbound.errors and self.state in _WITH_TCB and self._peer_tag:
            self.stats.errors_sent += 1
            self._control.append((ErrorChunk(tuple(inbound.errors)), inbound.source))
        if not inbound.data_seen or self._tracker is None:
            return
        tracker = self._tracker
        duplicates = tracker.take_duplicates()
        if duplicates:
            self._duplicates.extend(duplicates[: 64 - len(self._duplicates)])
        self._deliver(inbound.source)
        self._sack_address = inbound.source
        self._data_packets_unacked += 1
        if self.state is State.SHUTDOWN_SENT:
            # RFC 9260 section 9.2: answer every packet with DATA with a SHUTDOWN and restart
            # T2-shutdown.
            self._queue_shutdown()
            self._t2.start(inbound.now, self._primary_path().destination.rto)
        # RFC 9260 section 6.2: SACK at least every second packet, at once on duplicates or
        # when gaps appear or close (6.7), otherwise within the delay.
        if (
            inbound.sack_now
            or had_gaps
            or tracker.has_gaps
            or self._data_packets_unacked >= 2
            or self.core.sack_delay == 0
            or self.state is not State.ESTABLISHED
        ):
            self._sack_due = True
            self._sack_timer.stop()
        elif not self._sack_timer.running:
            self._sack_timer.start(inbound.now, self.core.sack_delay)

    # --- handshake handlers ---------------------------------------------------------------------

    def _on_init(self, chunk: InitChunk, inbound: _Inbound) -> bool:
        state = self.state
        if self._finished:
            self.stats.ootb += 1
            self.stats.packets_dropped += 1
            return False
        # RFC 9260 section 3.3.2: an Initiate Tag of 0 is discarded silently; zero stream
        # counts are answered with an ABORT carrying the INIT's tag.
        if chunk.initiate_tag == 0:
            self.stats.packets_dropped += 1
            return False
        if chunk.outbound_streams == 0 or chunk.inbound_streams == 0:
            self._abort_init(chunk, inbound, (causes.invalid_mandatory_parameter(),))
            return False
        if state is State.SHUTDOWN_ACK_SENT:
            # Section 9.2: the SHUTDOWN COMPLETE was probably lost; resend SHUTDOWN ACK.
            self._control.append((ShutdownAckChunk(), None))
            return False
        parsed = _parse_params(chunk.params, _KNOWN_INIT_PARAMS)
        if parsed.host_name is not None:
            # Section 5.1.2: host names are not supported; they cannot be resolved.
            cause = ErrorCause(CauseCode.UNRESOLVABLE_ADDRESS, parsed.host_name.raw)
            self._abort_init(chunk, inbound, (cause,))
            return False
        peer_hosts = (inbound.source[0], *parsed.addresses)
        if state is State.CLOSED:
            # Section 5.1 B: answer statelessly with a new tag and a cookie.
            self._send_init_ack(
                chunk, inbound, parsed, self._random_tag(), self._rng.getrandbits(32), 0, 0
            )
            return False
        new_hosts = [host for host in peer_hosts if host not in self._paths]
        if state in _HANDSHAKE:
            # Section 5.2.1: an INIT collision; answer with the parameters of our own INIT.
            if new_hosts and state is State.COOKIE_ECHOED:
                self.stats.chunks_ignored += 1
                return False
            self._send_init_ack(
                chunk,
                inbound,
                parsed,
                self._local_tag,
                self._local_initial_tsn,
                self._local_tag,
                self._peer_tag,
            )
            return False
        # Section 5.2.2: an unexpected INIT in an established association (a peer restart, or
        # a lost handshake); new tag, tie-tags carry the current ones.
        if new_hosts:
            params = []
            for host in new_hosts:
                param = _address_param(host)
                if param is not None:
                    params.append(param)
            cause = ErrorCause(CauseCode.RESTART_WITH_NEW_ADDRESSES, encode_params(params))
            self._abort_init(chunk, inbound, (cause,))
            return False
        self._send_init_ack(
            chunk,
            inbound,
            parsed,
            self._random_tag(),
            self._rng.getrandbits(32),
            self._local_tag,
            self._peer_tag,
        )
        return False

    def _on_init_ack(self, chunk: InitAckChunk, inbound: _Inbound) -> bool:
        now = inbound.now
        # RFC 9260 section 3.3.3: a zero tag or stream count destroys the association.
        if chunk.initiate_tag == 0 or chunk.outbound_streams == 0 or chunk.inbound_streams == 0:
            if chunk.initiate_tag:
                self._send_raw(
                    inbound.source,
                    inbound.source_port,
                    chunk.initiate_tag,
                    (AbortChunk((causes.invalid_mandatory_parameter(),)),),
                )
                self.stats.aborts_sent += 1
            self._close(now, CauseCode.INVALID_MANDATORY_PARAMETER, aborted=True)
            return False
        parsed = _parse_params(chunk.params, _KNOWN_INIT_ACK_PARAMS)
        cookie = chunk.state_cookie
        if parsed.host_name is not None:
            cause = ErrorCause(CauseCode.UNRESOLVABLE_ADDRESS, parsed.host_name.raw)
            self._send_raw(
                inbound.source, inbound.source_port, chunk.initiate_tag, (AbortChunk((cause,)),)
            )
            self.stats.aborts_sent += 1
            self._close(now, CauseCode.UNRESOLVABLE_ADDRESS, aborted=True)
            return False
        if cookie is None:
            # Section 5.1 C: the State Cookie is mandatory.
            cause = causes.missing_mandatory([ParamType.STATE_COOKIE])
            self._send_raw(
                inbound.source, inbound.source_port, chunk.initiate_tag, (AbortChunk((cause,)),)
            )
            self.stats.aborts_sent += 1
            self._close(now, CauseCode.MISSING_MANDATORY_PARAMETER, aborted=True)
            return False
        self._t1.stop()
        self._peer_tag = chunk.initiate_tag
        self._peer_initial_tsn = chunk.initial_tsn
        self._peer_a_rwnd = self._peer_rwnd = chunk.a_rwnd
        # Section 5.1.1: use the smaller of our outbound and the peer's inbound count.
        self._outbound_streams = min(self.config.outbound_streams, chunk.inbound_streams)
        self._inbound_streams = min(self.config.inbound_streams, chunk.outbound_streams)
        echo: list[Chunk] = [CookieEchoChunk(cookie)]
        if parsed.unrecognized:
            # Section 3.2.2: unrecognized INIT ACK parameters are reported in an ERROR chunk
            # bundled with the COOKIE ECHO.
            report = b"".join(_padded(param.raw) for param in parsed.unrecognized)
            echo.append(ErrorChunk((causes.unrecognized_parameters(self._fit_cause(report)),)))
            self.stats.errors_sent += 1
        self._cookie_echo = tuple(echo)
        self.state = State.COOKIE_ECHOED
        self._init_retransmissions = 0
        self._send_cookie_echo(now)
        return False

    def _on_cookie_echo(self, chunk: CookieEchoChunk, inbound: _Inbound) -> bool:
        now = inbound.now
        if inbound.index != 0:
            # RFC 9260 section 5.1: COOKIE ECHO must be the first chunk of its packet.
            self.stats.chunks_ignored += 1
            return True
        opened = self._jar.open(chunk.cookie, now)
        if opened is None:
            # Section 5.1.5 step 1-2: a bad MAC; discard silently.
            self.stats.bad_cookies += 1
            self.stats.packets_dropped += 1
            return False
        if isinstance(opened, Stale):
            # Section 5.1.5 step 3: tell the peer how stale it was.
            self.stats.stale_cookies += 1
            self.stats.errors_sent += 1
            self._send_raw(
                inbound.source,
                inbound.source_port,
                opened.state.peer_tag,
                (ErrorChunk((causes.stale_cookie(opened.staleness_us),)),),
            )
            return False
        cookie = opened
        if inbound.tag != cookie.local_tag:
            # Section 5.1.5 step 4 / 8.5.1 D: the packet's tag must be the cookie's.
            self.stats.bad_cookies += 1
            self.stats.packets_dropped += 1
            return False
        if self.state is State.CLOSED:
            self._establish_from_cookie(cookie, inbound)
            self._queue_cookie_ack()
            self._became_established(now, restarted=False)
            return True
        return self._cookie_echo_with_tcb(cookie, inbound)

    def _cookie_echo_with_tcb(self, cookie: CookieState, inbound: _Inbound) -> bool:
        # RFC 9260 section 5.2.4, the table of actions for a COOKIE ECHO when a TCB exists.
        now = inbound.now
        local_match = cookie.local_tag == self._local_tag
        peer_match = bool(self._peer_tag) and cookie.peer_tag == self._peer_tag
        if (
            not local_match
            and not peer_match
            and cookie.local_tie_tag == self._local_tag
            and cookie.peer_tie_tag == self._peer_tag
            and self._peer_tag
        ):
            # Action A: the peer restarted.
            if self.state is State.SHUTDOWN_ACK_SENT:
                # Section 5.2.4 A: no new association while shutting down.
                self._control.append((ShutdownAckChunk(), None))
                self._control.append((ErrorChunk((causes.cookie_while_shutting_down(),)), None))
                self.stats.errors_sent += 1
                return False
            self._restart(cookie, inbound)
            return True
        if local_match and not peer_match:
            # Action B: a collision; the peer's tag is the one in the cookie.
            if self.state in _HANDSHAKE:
                self._establish_from_cookie(cookie, inbound)
                self._queue_cookie_ack()
                self._became_established(now, restarted=False)
            else:
                self._peer_tag = cookie.peer_tag
                self._queue_cookie_ack()
            return True
        if (
            not local_match
            and peer_match
            and cookie.local_tie_tag == 0
            and cookie.peer_tie_tag == 0
        ):
            # Action C: an old cookie crossing; discard.
            self.stats.chunks_ignored += 1
            return False
        if local_match and peer_match:
            # Action D: both tags match (a retransmitted COOKIE ECHO).
            if self.state in _HANDSHAKE:
                self._establish_from_cookie(cookie, inbound)
                self._became_established(now, restarted=False)
            self._queue_cookie_ack()
            return True
        self.stats.chunks_ignored += 1
        return False

    def _on_cookie_ack(self, chunk: CookieAckChunk, inbound: _Inbound) -> bool:
        # RFC 9260 section 5.1 E.
        self._start_data_plane()
        self._became_established(inbound.now, restarted=False)
        return True

    # --- data handlers --------------------------------------------------------------------------

    def _on_data(self, chunk: DataChunk, inbound: _Inbound) -> bool:
        tracker = self._tracker
        reassembler = self._reassembler
        assert tracker is not None  # DATA is allowed only once established
        assert reassembler is not None
        stats = self.stats
        stats.data_chunks_received += 1
        inbound.data_seen = True
        tsn = chunk.tsn
        if not chunk.data:
            # RFC 9260 section 6.2: DATA without user data ends the association.
            self._send_abort(inbound.now, (causes.no_user_data(tsn),))
            self._close(inbound.now, CauseCode.NO_USER_DATA, aborted=True)
            return False
        if chunk.immediate:
            inbound.sack_now = True  # the I bit (RFC 9260 section 3.3.1)
        if not tracker.is_new(tsn):
            tracker.receive(tsn)  # recorded for the SACK's Duplicate TSNs (section 6.2)
            stats.duplicate_tsns += 1
            inbound.sack_now = True
            return True
        if not self._fits_window(tsn):
            # Section 6.2: the chunk is dropped without being recorded and a SACK goes at
            # once; the peer resends it once the window opens.
            stats.data_chunks_dropped += 1
            inbound.sack_now = True
            return True
        tracker.receive(tsn)
        if chunk.stream >= self._inbound_streams:
            # Section 6.5: acknowledge it, report the stream, discard the data.
            inbound.errors.append(causes.invalid_stream(chunk.stream))
            inbound.sack_now = True
            return True
        try:
            reassembler.add(chunk)
        except MessageTooLarge:
            # Nothing could ever deliver the message (Config.max_message_size).
            self._send_abort(inbound.now, (causes.out_of_resource(),))
            self._close(inbound.now, CauseCode.OUT_OF_RESOURCE, aborted=True)
            return False
        return True

    def _fits_window(self, tsn: int) -> bool:
        # RFC 9260 section 6.2: with the window at 0, new DATA beyond the highest TSN received
        # is dropped; DATA filling a gap below it is still taken. One exception keeps a message
        # larger than the window from deadlocking: the next in-order chunk is taken while the
        # window is held by reassembly (not by messages the application has yet to read).
        # Whatever happens, buffered bytes stay below the window plus one maximum message.
        tracker = self._tracker
        reassembler = self._reassembler
        assert tracker is not None
        assert reassembler is not None
        window = self.core.receive_window
        held = reassembler.buffered_bytes + self._undelivered
        if held >= window + self.config.max_message_size:
            return False
        if held < window or tsn_lt(tsn, tracker.highest_tsn):
            return True
        return (
            tsn == tsn_add(tracker.cumulative_tsn, 1)
            and not tracker.has_gaps
            and self._undelivered < window
        )

    def _on_sack(self, chunk: SackChunk, inbound: _Inbound) -> bool:
        self.stats.sacks_received += 1
        self._last_sack_at = inbound.now
        self._process_ack(chunk, inbound.now)
        return True

    def _process_ack(self, chunk: SackChunk, now: float) -> None:
        sender = self._sender
        if sender is None:
            return
        result = sender.on_sack(chunk, now)
        if result.ignored:
            return
        self._peer_a_rwnd = chunk.a_rwnd
        self._peer_rwnd = result.peer_rwnd
        result.update_destinations()
        if result.fast_retransmit:
            self.stats.fast_retransmits += 1
        if result.newly_acked_bytes:
            # RFC 9260 sections 8.1, 8.2: an acknowledgement clears the error counters of the
            # association and of the destinations the acknowledged data went to.
            self._error_count = 0
            for ack in result.destinations:
                path = self._paths.get(ack.destination.address[0])
                if path is not None and ack.acked_bytes:
                    self._path_reachable(path)
        # Section 6.3.2 R2/R3: stop T3 when nothing is outstanding, restart it when the
        # earliest outstanding TSN was acknowledged.
        for path in self._paths.values():
            if not sender.outstanding_bytes:
                path.t3.stop()
            elif result.cum_ack_advanced and path.t3.running:
                path.t3.start(now, path.destination.rto)
        if result.newly_acked_bytes and self.config.sender_dry_events and sender.all_acked:
            self._events.append(SenderDry())
        self._check_shutdown_progress(now)

    # --- heartbeat handlers ---------------------------------------------------------------------

    def _on_heartbeat(self, chunk: HeartbeatChunk, inbound: _Inbound) -> bool:
        # RFC 9260 section 8.3: echo the info back to where it came from.
        self._control.append((HeartbeatAckChunk(chunk.info), inbound.source))
        return True

    def _on_heartbeat_ack(self, chunk: HeartbeatAckChunk, inbound: _Inbound) -> bool:
        info = chunk.info
        if len(info) < _HEARTBEAT_INFO.size:
            return True
        # The send time we trust is our own record, not the echoed copy.
        nonce, _echoed_time = _HEARTBEAT_INFO.unpack_from(info)
        try:
            host = info[_HEARTBEAT_INFO.size :].decode()
        except UnicodeDecodeError:
            return True
        path = self._paths.get(host)
        if path is None or path.heartbeat_nonce != nonce:
            return True  # not one we sent, or already answered: no RTT sample from it
        self.stats.heartbeat_acks_received += 1
        path.heartbeat_nonce = None
        destination = path.destination
        # Section 8.3: the HEARTBEAT ACK gives an RTT sample and clears the error counters.
        destination.rtt_sample(inbound.now - path.heartbeat_sent_at)
        self._error_count = 0
        self._path_reachable(path)
        path.heartbeat.start(inbound.now, self._heartbeat_delay(path))
        return True

    # --- shutdown and abort handlers ------------------------------------------------------------

    def _on_shutdown(self, chunk: ShutdownChunk, inbound: _Inbound) -> bool:
        now = inbound.now
        sender = self._sender
        # RFC 9260 section 9.2: the SHUTDOWN's Cumulative TSN Ack acknowledges like a SACK.
        if sender is not None and tsn_lt(sender.cumulative_tsn_ack, chunk.cumulative_tsn_ack):
            self._process_ack(SackChunk(chunk.cumulative_tsn_ack, self._peer_a_rwnd), now)
            if self._finished:
                return False
        if self.state in (State.ESTABLISHED, State.SHUTDOWN_PENDING):
            self.state = State.SHUTDOWN_RECEIVED
            self._events.append(PeerShutdown())
            self._check_shutdown_progress(now)
        elif self.state is State.SHUTDOWN_SENT:
            # Both sides shut down at once: answer with SHUTDOWN ACK (section 9.2).
            self._events.append(PeerShutdown())
            self.state = State.SHUTDOWN_ACK_SENT
            self._control.append((ShutdownAckChunk(), None))
            self._t2.start(now, self._primary_path().destination.rto)
        return True

    def _on_shutdown_ack(self, chunk: ShutdownAckChunk, inbound: _Inbound) -> bool:
        if self.state in _HANDSHAKE:
            # RFC 9260 section 8.5.1 E: out of the blue (8.4 rule 5).
            self._send_raw(
                inbound.source,
                inbound.source_port,
                inbound.tag,
                (ShutdownCompleteChunk(reflected_tag=True),),
            )
            return False
        # Section 9.2: SHUTDOWN COMPLETE ends it.
        self._send_raw(
            self._primary_path().destination.address,
            self._remote_port,
            self._peer_tag,
            (ShutdownCompleteChunk(),),
        )
        self._close(inbound.now, None, aborted=False)
        return False

    def _on_shutdown_complete(self, chunk: ShutdownCompleteChunk, inbound: _Inbound) -> bool:
        if not self._reflected_tag_ok(chunk.reflected_tag, inbound.tag):
            self.stats.vtag_mismatch += 1
            return False
        self._close(inbound.now, None, aborted=False)
        return False

    def _on_abort(self, chunk: AbortChunk, inbound: _Inbound) -> bool:
        if not self._reflected_tag_ok(chunk.reflected_tag, inbound.tag):
            # RFC 9260 section 8.5.1 B.
            self.stats.vtag_mismatch += 1
            return False
        self.stats.aborts_received += 1
        cause = chunk.causes[0].code if chunk.causes else None
        self._close(inbound.now, cause, aborted=True)
        return False

    def _on_error(self, chunk: ErrorChunk, inbound: _Inbound) -> bool:
        self.stats.errors_received += 1
        for cause in chunk.causes:
            if cause.code == CauseCode.STALE_COOKIE and self.state is State.COOKIE_ECHOED:
                self._on_stale_cookie(cause, inbound.now)
                return False
            self._events.append(RemoteError(cause.code, cause.info))
        return True

    def _on_stale_cookie(self, cause: ErrorCause, now: float) -> None:
        # RFC 9260 section 5.2.6: start over with a new INIT asking for a longer cookie life
        # (Cookie Preservative), as long as INIT retransmissions remain.
        if self._init_retransmissions >= self.config.max_init_retransmissions:
            self._close(now, CauseCode.STALE_COOKIE, aborted=True)
            return
        staleness_us = int.from_bytes(cause.info[:4], "big") if len(cause.info) >= 4 else 0
        self._cookie_preservative_ms = max(1000, 2 * (staleness_us // 1000))
        self._init_retransmissions += 1
        self._t1.stop()
        self._peer_tag = 0
        self.state = State.COOKIE_WAIT
        self._send_init(now)

    # --- state changes --------------------------------------------------------------------------

    def _establish_from_cookie(self, cookie: CookieState, inbound: _Inbound) -> None:
        self._local_tag = cookie.local_tag
        self._peer_tag = cookie.peer_tag
        self._local_initial_tsn = cookie.local_initial_tsn
        self._peer_initial_tsn = cookie.peer_initial_tsn
        self._outbound_streams = cookie.outbound_streams
        self._inbound_streams = cookie.inbound_streams
        self._peer_a_rwnd = self._peer_rwnd = cookie.peer_rwnd
        self._remote_port = inbound.source_port
        path = self._add_path(inbound.source)
        if self._primary is None:
            self._primary = path.destination.address[0]
        self._start_data_plane()

    def _start_data_plane(self) -> None:
        max_size = self.config.max_message_size
        self._sender = Sender(self._local_initial_tsn, self._outbound_streams, max_size)
        self._sender.set_peer_rwnd(self._peer_rwnd)
        self._tracker = TsnTracker(self._peer_initial_tsn)
        self._reassembler = Reassembler(self._inbound_streams, max_size)
        self._duplicates.clear()
        self._data_packets_unacked = 0
        self._sack_due = False
        self._sack_timer.stop()
        for path in self._paths.values():
            # RFC 9260 section 7.2.1: ssthresh starts at the peer's receive window.
            path.destination.ssthresh = max(self._peer_rwnd, 4 * path.destination.mtu)
            path.t3.stop()

    def _became_established(self, now: float, *, restarted: bool) -> None:
        self._t1.stop()
        self._init_retransmissions = 0
        self.state = State.ESTABLISHED
        self._connecting = False
        if restarted:
            self._events.append(AssociationRestarted(self.association_id))
        else:
            self._events.append(
                AssociationUp(self.association_id, self._outbound_streams, self._inbound_streams)
            )
        for path in self._paths.values():
            path.last_sent = now
            path.heartbeat_nonce = None
            path.heartbeat.start(now, self._heartbeat_delay(path))
        pending, self._pending = self._pending, []
        sender = self._sender
        assert sender is not None
        for data, stream, ppid, unordered in pending:
            if stream >= self._outbound_streams:
                # The peer accepted fewer streams than we asked for (section 5.1.1).
                self._events.append(
                    SendFailed(data, stream, ppid, CauseCode.INVALID_STREAM_IDENTIFIER, False)
                )
                continue
            sender.enqueue(data, stream, ppid, unordered, self._max_payload())
        if self._shutdown_requested:
            self.state = State.SHUTDOWN_PENDING
            self._check_shutdown_progress(now)

    def _restart(self, cookie: CookieState, inbound: _Inbound) -> None:
        # RFC 9260 section 5.2.4 A: like an ABORT followed by a new association, except that
        # messages not yet sent are kept and the application hears of a restart.
        self.stats.restarts += 1
        if self._sender is not None:
            for data, stream, ppid, sent in self._sender.drain_unsent():
                if sent:
                    self._events.append(SendFailed(data, stream, ppid, 0, True))
                else:
                    self._pending.append((data, stream, ppid, False))
        self._deliver(inbound.source)
        self._t2.stop()
        self._t5.stop()
        self._establish_from_cookie(cookie, inbound)
        for path in self._paths.values():
            path.destination.error_count = 0
        self._error_count = 0
        self._queue_cookie_ack()
        self._became_established(inbound.now, restarted=True)

    def _check_shutdown_progress(self, now: float) -> None:
        # RFC 9260 section 9.2: once everything queued is acknowledged, SHUTDOWN-PENDING sends
        # SHUTDOWN and SHUTDOWN-RECEIVED sends SHUTDOWN ACK.
        sender = self._sender
        if sender is None or not sender.all_acked:
            return
        rto = self._primary_path().destination.rto
        if self.state is State.SHUTDOWN_PENDING:
            self.state = State.SHUTDOWN_SENT
            self._queue_shutdown()
            self._t2.start(now, rto)
            self._t5.start(now, _T5_FACTOR * self.config.rto_max)
        elif self.state is State.SHUTDOWN_RECEIVED:
            self.state = State.SHUTDOWN_ACK_SENT
            self._control.append((ShutdownAckChunk(), None))
            self._t2.start(now, rto)

    def _close(self, now: float, cause: int | None, *, aborted: bool, lost: bool = False) -> None:
        if self._finished:
            return
        self._finished = True
        self._close_cause = cause
        self._aborted = aborted
        self._deliver(None)
        error = cause if cause is not None else 0
        for data, stream, ppid, _unordered in self._pending:
            self._events.append(SendFailed(data, stream, ppid, error, False))
        self._pending.clear()
        if self._sender is not None:
            for data, stream, ppid, sent in self._sender.drain_unsent():
                self._events.append(SendFailed(data, stream, ppid, error, sent))
        if lost:
            self._events.append(AssociationLost(self.association_id, cause))
        self._events.append(AssociationClosed(cause, aborted))
        self.state = State.CLOSED
        self._control.clear()
        for timer in (self._t1, self._t2, self._t5, self._sack_timer):
            timer.stop()
        for path in self._paths.values():
            path.t3.stop()
            path.heartbeat.stop()

    def _count_error(self, path: _Path, now: float) -> bool:
        # RFC 9260 sections 8.1, 8.2 (and RFC 7829): one more timeout on ``path``. Returns True
        # when the association failed.
        destination = path.destination
        destination.error_count += 1
        self._error_count += 1
        pf_threshold = self.config.potentially_failed_threshold
        if destination.error_count > self.config.path_max_retransmissions:
            self._set_path_state(path, PathState.INACTIVE)
        elif pf_threshold is not None and destination.error_count > pf_threshold:
            self._set_path_state(path, PathState.POTENTIALLY_FAILED)
        if self._error_count > self.config.association_max_retransmissions:
            # Section 8.1: the peer is unreachable. Tell it, in case only one direction died.
            self._send_abort(
                now, (causes.protocol_violation(b"Association exceeded its max_retrans count"),)
            )
            self._close(now, None, aborted=True, lost=True)
            return True
        return False

    def _path_reachable(self, path: _Path) -> None:
        path.destination.error_count = 0
        self._set_path_state(path, PathState.ACTIVE)

    def _set_path_state(self, path: _Path, state: PathState) -> None:
        destination = path.destination
        if destination.state is not state:
            destination.state = state
            self._events.append(PathStateChanged(destination.address, state))

    # --- output helpers -------------------------------------------------------------------------

    def _build_packets(self, now: float, out: list[tuple[bytes, Address]]) -> None:
        # Groups the control chunks by destination, puts a due SACK with them, then fills the
        # primary path's packets with DATA (RFC 9260 section 6.10: control chunks first).
        primary = self._primary_path() if self._primary is not None else None
        primary_address = primary.destination.address if primary is not None else None
        groups: dict[Address, list[Chunk]] = {}
        for chunk, address in self._control:
            target = address if address is not None else primary_address
            if target is not None:
                groups.setdefault(target, []).append(chunk)
        self._control.clear()

        sender = self._sender
        may_send_data = (
            sender is not None
            and primary is not None
            and self.state in (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED)
            and sender.has_data
        )
        sack_address = self._sack_address or primary_address
        if (
            self._tracker is not None
            and sack_address is not None
            and (self._sack_due or (self._sack_timer.running and may_send_data))
        ):
            # Section 6.2: a pending SACK rides with outgoing DATA rather than wait.
            groups.setdefault(sack_address, []).append(self._make_sack())

        budget = self.core.mtu - COMMON_HEADER_SIZE
        for address, chunks in groups.items():
            packets = _fill(chunks, budget)
            if address == primary_address and may_send_data:
                continue_with = packets.pop() if packets else []
                for packet_chunks in packets:
                    self._emit(address, packet_chunks, out)
                self._send_data(now, continue_with, out)
                may_send_data = False
                continue
            for packet_chunks in packets:
                self._emit(address, packet_chunks, out)
        if may_send_data:
            self._send_data(now, [], out)

    def _send_data(self, now: float, first: list[Chunk], out: list[tuple[bytes, Address]]) -> None:
        sender = self._sender
        path = self._primary_path()
        assert sender is not None
        destination = path.destination
        address = destination.address
        budget = self.core.mtu - COMMON_HEADER_SIZE
        current = first
        used = sum(chunk_size(chunk) for chunk in current)
        data_packets = 0
        sent_any = False
        while data_packets < self.core.max_burst:
            chunks = sender.chunks_to_send(now, destination, self._peer_rwnd, budget - used)
            if not chunks:
                if current and used and not any(type(c) is DataChunk for c in current):
                    # The control chunks left no room: send them and try a fresh packet.
                    self._emit(address, current, out)
                    current, used = [], 0
                    continue
                break
            current.extend(chunks)
            self.stats.data_chunks_sent += len(chunks)
            sent_any = True
            self._emit(address, current, out)
            data_packets += 1
            current, used = [], 0
        if current:
            self._emit(address, current, out)
        if sent_any:
            path.last_sent = now
        if sender.outstanding_bytes and not path.t3.running:
            # RFC 9260 section 6.3.2 R1: T3 runs whenever data is outstanding.
            path.t3.start(now, destination.rto)

    def _emit(
        self, address: Address, chunks: list[Chunk], out: list[tuple[bytes, Address]]
    ) -> None:
        if chunks:
            out.append(
                (
                    build_packet(self.core.local_port, self._remote_port, self._peer_tag, chunks),
                    address,
                )
            )

    def _send_raw(self, address: Address, port: int, tag: int, chunks: tuple[Chunk, ...]) -> None:
        # A packet with its own verification tag, encoded at once (INIT, INIT ACK, COOKIE ECHO,
        # ABORT, SHUTDOWN COMPLETE, OOTB answers).
        self._raw.append((build_packet(self.core.local_port, port, tag, chunks), address))

    def _send_abort(self, now: float, abort_causes: tuple[ErrorCause, ...]) -> None:
        if not self._peer_tag or self._primary is None:
            return
        self.stats.aborts_sent += 1
        chunk = AbortChunk(tuple(_fit_causes(abort_causes, self.core.mtu)))
        self._send_raw(
            self._primary_path().destination.address, self._remote_port, self._peer_tag, (chunk,)
        )

    def _send_init(self, now: float) -> None:
        params: list[Param] = []
        if len(self.local_addresses) > 1:
            for host in self.local_addresses:
                param = _address_param(host)
                if param is not None:
                    params.append(param)
        if self._cookie_preservative_ms:
            params.append(cookie_preservative(self._cookie_preservative_ms))
        init = InitChunk(
            initiate_tag=self._local_tag,
            a_rwnd=self._window_left(),
            outbound_streams=self.config.outbound_streams,
            inbound_streams=self.config.inbound_streams,
            initial_tsn=self._local_initial_tsn,
            params=tuple(params),
        )
        self._init_chunk = init
        path = self._primary_path()
        self._send_raw(path.destination.address, self._remote_port, 0, (init,))
        self._t1.start(now, path.destination.rto)

    def _send_cookie_echo(self, now: float) -> None:
        path = self._primary_path()
        self._send_raw(
            path.destination.address, self._remote_port, self._peer_tag, self._cookie_echo
        )
        self._t1.start(now, path.destination.rto)

    def _send_init_ack(
        self,
        init: InitChunk,
        inbound: _Inbound,
        parsed: _ParsedParams,
        local_tag: int,
        local_tsn: int,
        local_tie_tag: int,
        peer_tie_tag: int,
    ) -> None:
        # RFC 9260 section 5.1 B / 5.1.3: everything needed later goes into the cookie.
        lifetime = self.core.cookie_lifetime
        if parsed.preservative_ms:
            lifetime += min(parsed.preservative_ms / 1000, _MAX_COOKIE_EXTENSION)
        state = CookieState(
            local_tag=local_tag,
            peer_tag=init.initiate_tag,
            local_initial_tsn=local_tsn,
            peer_initial_tsn=init.initial_tsn,
            outbound_streams=min(self.config.outbound_streams, init.inbound_streams),
            inbound_streams=min(self.config.inbound_streams, init.outbound_streams),
            peer_rwnd=init.a_rwnd,
            created=inbound.now,
            lifetime=lifetime,
            peer_addresses=(inbound.source[0], *parsed.addresses),
            local_tie_tag=local_tie_tag,
            peer_tie_tag=peer_tie_tag,
            peer_port=inbound.source_port,
        )
        params: list[Param] = [state_cookie(self._jar.make(state))]
        if len(self.local_addresses) > 1:
            for host in self.local_addresses:
                param = _address_param(host)
                if param is not None:
                    params.append(param)
        # Section 3.2.2: unrecognized INIT parameters come back in the INIT ACK.
        room = self.core.mtu - COMMON_HEADER_SIZE - 20 - sum(4 + len(p.value) + 3 for p in params)
        for unknown in parsed.unrecognized:
            raw = unknown.raw
            if len(raw) + 8 > room:
                break
            room -= len(raw) + 8
            params.append(Param(ParamType.UNRECOGNIZED_PARAMETER, raw))
        ack = InitAckChunk(
            initiate_tag=local_tag,
            a_rwnd=self.core.receive_window,
            outbound_streams=self.config.outbound_streams,
            inbound_streams=self.config.inbound_streams,
            initial_tsn=local_tsn,
            params=tuple(params),
        )
        self._send_raw(inbound.source, inbound.source_port, init.initiate_tag, (ack,))

    def _abort_init(
        self, init: InitChunk, inbound: _Inbound, abort_causes: tuple[ErrorCause, ...]
    ) -> None:
        # RFC 9260 section 8.4 rule 3: an ABORT answering an INIT carries its Initiate Tag, T=0.
        self.stats.aborts_sent += 1
        chunk = AbortChunk(tuple(_fit_causes(abort_causes, self.core.mtu)))
        self._send_raw(inbound.source, inbound.source_port, init.initiate_tag, (chunk,))

    def _queue_cookie_ack(self) -> None:
        self._control.append((CookieAckChunk(), None))

    def _queue_shutdown(self) -> None:
        tracker = self._tracker
        assert tracker is not None
        self._control.append((ShutdownChunk(tracker.cumulative_tsn), None))

    def _make_sack(self) -> SackChunk:
        tracker = self._tracker
        assert tracker is not None
        duplicates = tuple(self._duplicates)
        self._duplicates.clear()
        window = self._window_left()
        self._last_advertised = window
        self._sack_due = False
        self._sack_timer.stop()
        self._data_packets_unacked = 0
        self.stats.sacks_sent += 1
        return SackChunk(tracker.cumulative_tsn, window, tracker.gap_blocks(), duplicates)

    def _send_heartbeat(self, path: _Path, now: float) -> None:
        nonce = self._rng.getrandbits(64)
        path.heartbeat_nonce = nonce
        path.heartbeat_sent_at = now
        info = _HEARTBEAT_INFO.pack(nonce, now) + path.destination.address[0].encode()
        self._control.append((HeartbeatChunk(info), path.destination.address))
        self.stats.heartbeats_sent += 1
        # Section 8.3: the answer is due within one RTO.
        path.heartbeat.start(now, path.destination.rto)

    # --- small helpers --------------------------------------------------------------------------

    def _deliver(self, source: Address | None) -> None:
        reassembler = self._reassembler
        if reassembler is None:
            return
        for message in reassembler.pop_messages():
            self._undelivered += len(message.data)
            self._events.append(
                received_message(
                    message.data,
                    message.stream,
                    message.ppid,
                    message.unordered,
                    None if message.unordered else message.ssn,
                    message.tsn,
                    source,
                )
            )

    def _window_left(self) -> int:
        held = self._undelivered
        if self._reassembler is not None:
            held += self._reassembler.buffered_bytes
        return max(0, self.core.receive_window - held)

    def _maybe_window_update(self) -> None:
        # RFC 9260 section 6.2: a SACK may go out just to reopen the window once the
        # application has taken enough data (receiver-side silly window avoidance).
        if self._tracker is None or self.state not in _DATA_FLOWS:
            return
        if self._window_left() - self._last_advertised >= max(
            self.core.mtu, self.core.receive_window // 4
        ):
            self._sack_due = True

    def _reflected_tag_ok(self, reflected: bool, tag: int) -> bool:
        # RFC 9260 section 8.5.1 B/C: our own tag without the T bit, the peer's with it.
        if reflected:
            return bool(self._peer_tag) and tag == self._peer_tag
        return tag == self._local_tag

    def _primary_path(self) -> _Path:
        assert self._primary is not None
        return self._paths[self._primary]

    def _add_path(self, address: Address) -> _Path:
        path = self._paths.get(address[0])
        if path is None:
            path = _Path(Destination(address, self.config, self.core.mtu))
            self._paths[address[0]] = path
        return path

    def _random_tag(self) -> int:
        # RFC 9260 section 5.3.1: a random non-zero 32-bit tag.
        return self._rng.getrandbits(32) or 1

    def _max_payload(self) -> int:
        return (self.core.mtu - COMMON_HEADER_SIZE - DATA_HEADER_SIZE) & ~3

    def _fit_cause(self, info: bytes) -> bytes:
        # An ERROR echoing a huge chunk or parameter would amplify; keep it within one packet.
        return info[: self.core.mtu - COMMON_HEADER_SIZE - 16]

    def _heartbeat_delay(self, path: _Path) -> float:
        return path.destination.rto + self._heartbeat_interval(path.destination)

    def _heartbeat_interval(self, destination: Destination) -> float:
        return max(0.0, self.config.heartbeat_interval + self._jitter(destination))

    def _jitter(self, destination: Destination) -> float:
        # RFC 9260 section 8.3: spread heartbeats by +-50% of the RTO.
        return (self._rng.random() - 0.5) * destination.rto


# --- the chunk dispatch table ------------------------------------------------------------------
#
# Rules (RFC 9260 sections 5.2, 8.4, 8.5, 9.2):
# * Before this table is consulted the packet passed the checks of _receive_packet: a packet
#   with an INIT holds only that INIT and has tag 0; a packet for a closed association is
#   handled by the out-of-the-blue rules (8.4), of which only a first-chunk COOKIE ECHO gets
#   here; any other packet carries our tag, except a first-chunk COOKIE ECHO (its tag is checked
#   against the cookie, 8.5.1 D) and the ABORT / SHUTDOWN COMPLETE exceptions of 8.5.1 B/C.
# * A chunk whose type is in the table but whose state is not in its allowed set is discarded
#   and counted (stats.chunks_ignored); processing continues with the next chunk.
# * A handler returns False to stop processing the rest of the packet (the association ended,
#   the packet was refused, or the chunk must be alone).
# * Unknown chunk types never reach the table: their upper two bits decide (3.2).
_DISPATCH: dict[int, tuple[_Handler, frozenset[State]]] = {
    ChunkType.DATA: (Association._on_data, _DATA_FLOWS),
    ChunkType.INIT: (Association._on_init, _ALL),
    ChunkType.INIT_ACK: (Association._on_init_ack, frozenset({State.COOKIE_WAIT})),
    ChunkType.SACK: (Association._on_sack, _DATA_FLOWS),
    ChunkType.HEARTBEAT: (Association._on_heartbeat, _CONNECTED),
    ChunkType.HEARTBEAT_ACK: (Association._on_heartbeat_ack, _CONNECTED),
    ChunkType.ABORT: (Association._on_abort, _WITH_TCB),
    ChunkType.SHUTDOWN: (
        Association._on_shutdown,
        frozenset(
            {
                State.ESTABLISHED,
                State.SHUTDOWN_PENDING,
                State.SHUTDOWN_SENT,
                State.SHUTDOWN_RECEIVED,
            }
        ),
    ),
    ChunkType.SHUTDOWN_ACK: (
        Association._on_shutdown_ack,
        _HANDSHAKE | {State.SHUTDOWN_SENT, State.SHUTDOWN_ACK_SENT},
    ),
    ChunkType.ERROR: (Association._on_error, _WITH_TCB),
    ChunkType.COOKIE_ECHO: (Association._on_cookie_echo, _ALL),
    ChunkType.COOKIE_ACK: (Association._on_cookie_ack, frozenset({State.COOKIE_ECHOED})),
    ChunkType.SHUTDOWN_COMPLETE: (
        Association._on_shutdown_complete,
        frozenset({State.SHUTDOWN_ACK_SENT}),
    ),
}

_CHUNK_TYPES: dict[type, int] = {
    DataChunk: ChunkType.DATA,
    InitChunk: ChunkType.INIT,
    InitAckChunk: ChunkType.INIT_ACK,
    SackChunk: ChunkType.SACK,
    HeartbeatChunk: ChunkType.HEARTBEAT,
    HeartbeatAckChunk: ChunkType.HEARTBEAT_ACK,
    AbortChunk: ChunkType.ABORT,
    ShutdownChunk: ChunkType.SHUTDOWN,
    ShutdownAckChunk: ChunkType.SHUTDOWN_ACK,
    ErrorChunk: ChunkType.ERROR,
    CookieEchoChunk: ChunkType.COOKIE_ECHO,
    CookieAckChunk: ChunkType.COOKIE_ACK,
    ShutdownCompleteChunk: ChunkType.SHUTDOWN_COMPLETE,
}


def chunk_type_of(chunk: Chunk) -> int:
    """The chunk type number of a decoded chunk."""
    if type(chunk) is UnknownChunk:
        return chunk.type
    return _CHUNK_TYPES[type(chunk)]


# --- parameters --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ParsedParams:
    addresses: tuple[str, ...]
    unrecognized: tuple[Param, ...]
    preservative_ms: int
    host_name: Param | None


def _parse_params(params: Sequence[Param], known: frozenset[int]) -> _ParsedParams:
    # RFC 9260 section 3.2.1: an unknown parameter type's upper two bits say whether to stop
    # (0x) or skip (1x) and whether to report it (x1).
    addresses: list[str] = []
    unrecognized: list[Param] = []
    preservative = 0
    host_name: Param | None = None
    for param in params:
        if param.type not in known:
            stop, report = unknown_param_action(param.type)
            if report:
                unrecognized.append(param)
            if stop:
                break
            continue
        if param.type == ParamType.HOST_NAME_ADDRESS:
            host_name = param
            continue
        host = address_of(param)
        if host is not None:
            addresses.append(host)
            continue
        ms = cookie_preservative_ms(param)
        if ms is not None:
            preservative = ms
    return _ParsedParams(tuple(addresses), tuple(unrecognized), preservative, host_name)


def _address_param(host: str) -> Param | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.version == 4:
        return ipv4_address(host)
    return ipv6_address(host)


def _padded(raw: bytes) -> bytes:
    return raw + b"\x00" * (-len(raw) % 4)


def _fit_causes(abort_causes: Sequence[ErrorCause], mtu: int) -> list[ErrorCause]:
    # Keep an ABORT within one packet: cause information is truncated, never the causes.
    room = mtu - COMMON_HEADER_SIZE - 4
    fitted: list[ErrorCause] = []
    for cause in abort_causes:
        info = cause.info[: max(0, room - 4)]
        room -= 4 + len(info) + 3
        fitted.append(ErrorCause(cause.code, info))
    return fitted


def _fill(chunks: list[Chunk], budget: int) -> list[list[Chunk]]:
    # Packs chunks in order into packets of at most ``budget`` bytes after the common header;
    # a chunk larger than the budget travels alone.
    packets: list[list[Chunk]] = []
    current: list[Chunk] = []
    used = 0
    for chunk in chunks:
        size = chunk_size(chunk)
        if current and used + size > budget:
            packets.append(current)
            current, used = [], 0
        current.append(chunk)
        used += size
    if current:
        packets.append(current)
    return packets
