"""The SCTP association state machine (RFC 9260), sans I/O.

An :class:`Association` is driven by its caller: ``connect()`` / ``send()`` / ``shutdown()`` /
``abort()`` from the application, ``receive_datagram()`` for every SCTP packet that arrived and
``handle_timer()`` when ``get_timer()``'s deadline has come. It hands back the packets to put on
the wire with ``datagrams_to_send()`` and what happened with ``next_event()``. It never reads a
clock (every input takes ``now``) and draws every random number from the injected ``rng``.

What it does, by RFC 9260 section, and where (each part is a module of private methods that
the :class:`Association` class binds; this module keeps the public API, the timers, the chunk
dispatch table and the bookkeeping that ties the parts together):

* 5.1, 5.1.3, 5.1.5: the four-way handshake; the answering side keeps no state until a valid
  COOKIE ECHO arrives (HMAC-authenticated cookie with a lifetime, Stale Cookie ERROR).
  5.2.1-5.2.6: INIT collisions, unexpected INIT / INIT ACK / COOKIE ECHO / COOKIE ACK, the
  COOKIE ECHO table of 5.2.4 (peer restart, collisions), Stale Cookie handling. 3.2.1:
  unknown INIT / INIT ACK parameters. In :mod:`sctpmh.core.handshake`.
* 8.4, 8.5, 8.5.1: out-of-the-blue packets and the verification tag rules, in
  :mod:`sctpmh.core.intake`.
* 6.1-6.2, 6.5-6.9: DATA and SACK (through :mod:`sctpmh.core.sender` and
  :mod:`sctpmh.core.receiver`), delayed SACK, invalid streams, empty DATA, T3-rtx (6.3.2,
  6.3.3), in :mod:`sctpmh.core.transfer`.
* 6.10: bundling control chunks and DATA into packets, in :mod:`sctpmh.core.bundling`.
* 8.1-8.3: failure detection and heartbeats per peer address, in :mod:`sctpmh.core.paths`
  (RTO and congestion control, 6.3 and 7.2, are in :mod:`sctpmh.core.destination`).
* 9.1, 9.2: ABORT and the graceful SHUTDOWN sequence with its T2 timer, in
  :mod:`sctpmh.core.termination`; the T5 guard is in :meth:`Association.handle_timer`.
* 3.2: unknown chunks by the upper two bits of their type, in ``Association._dispatch``.

Bad input from the wire never raises: it is dropped (and counted in :attr:`Association.stats`)
or answered with ABORT or ERROR as the RFC says.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any

from sctpmh.config import Config
from sctpmh.core import bundling, causes, handshake, intake, termination, transfer
from sctpmh.core import paths as peer_paths
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import (
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
    unknown_chunk_action,
)
from sctpmh.core.cookie import CookieJar
from sctpmh.core.destination import Destination
from sctpmh.core.intake import Inbound
from sctpmh.core.packet import ChecksumError, PacketError, decode_packet
from sctpmh.core.paths import Address, PeerPath
from sctpmh.core.receiver import Reassembler, TsnTracker
from sctpmh.core.sender import Sender
from sctpmh.core.states import ALL_STATES, CONNECTED, DATA_FLOWS, HANDSHAKE, WITH_TCB, State
from sctpmh.core.stats import Stats
from sctpmh.core.timers import Timer
from sctpmh.errors import (
    AssociationAbortedError,
    AssociationClosedError,
    MessageTooLargeError,
    StreamError,
)
from sctpmh.events import MAX_PPID, MAX_STREAM, Event, Message, PathInfo, RemoteError

__all__ = ["Association", "CoreConfig", "State"]

# RFC 9260 section 6.2: the SACK delay MUST NOT exceed 500 ms.
_MAX_SACK_DELAY = 0.5
# RFC 9260 section 3.3.2: a_rwnd of INIT / INIT ACK is at least 1500.
_MIN_RECEIVE_WINDOW = 1500
_MIN_MTU = 512


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


_Handler = Callable[["Association", Any, Inbound], bool]


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
        self._paths: dict[str, PeerPath] = {}
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
        if isinstance(stream, bool) or not isinstance(stream, int) or not 0 <= stream <= MAX_STREAM:
            raise ValueError(f"stream must be an int in 0..{MAX_STREAM}, got {stream!r}")
        if isinstance(ppid, bool) or not isinstance(ppid, int) or not 0 <= ppid <= MAX_PPID:
            raise ValueError(f"ppid must be an int in 0..{MAX_PPID}, got {ppid!r}")
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
        if self.state in HANDSHAKE:
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
        if self._peer_tag and self.state in CONNECTED | {State.COOKIE_ECHOED}:
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
            if isinstance(exc, ChecksumError):
                stats.bad_checksum += 1
            else:
                stats.malformed += 1
            return
        self._receive_packet(packet, (source[0], source[1]), now)

    # --- chunk dispatch -------------------------------------------------------------------------

    def _dispatch(self, chunks: Sequence[Chunk], inbound: Inbound) -> None:
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

    # --- ERROR chunks ----------------------------------------------------------------------------

    def _on_error(self, chunk: ErrorChunk, inbound: Inbound) -> bool:
        self.stats.errors_received += 1
        for cause in chunk.causes:
            if cause.code == CauseCode.STALE_COOKIE and self.state is State.COOKIE_ECHOED:
                self._on_stale_cookie(cause, inbound.now)
                return False
            self._events.append(RemoteError(cause.code, cause.info))
        return True

    # --- private methods defined in the modules of the state machine's parts ---------------------
    # Each is a function taking the association as ``self``, bound here as a method, so that a
    # call costs the same as if it were written in this class.

    # Which received packets reach _dispatch (RFC 9260 sections 8.4, 8.5).
    _receive_packet = intake._receive_packet
    _receive_ootb = intake._receive_ootb
    _receive_foreign_tag = intake._receive_foreign_tag
    _reflected_tag_ok = intake._reflected_tag_ok

    # The handshake (sections 5.1, 5.2).
    _on_t1 = handshake._on_t1
    _send_init = handshake._send_init
    _send_cookie_echo = handshake._send_cookie_echo
    _on_init = handshake._on_init
    _send_init_ack = handshake._send_init_ack
    _abort_init = handshake._abort_init
    _on_init_ack = handshake._on_init_ack
    _on_cookie_echo = handshake._on_cookie_echo
    _cookie_echo_with_tcb = handshake._cookie_echo_with_tcb
    _on_cookie_ack = handshake._on_cookie_ack
    _on_stale_cookie = handshake._on_stale_cookie
    _establish_from_cookie = handshake._establish_from_cookie
    _became_established = handshake._became_established
    _restart = handshake._restart
    _queue_cookie_ack = handshake._queue_cookie_ack
    _random_tag = handshake._random_tag

    # User data transfer (section 6).
    _after_packet = transfer._after_packet
    _on_data = transfer._on_data
    _fits_window = transfer._fits_window
    _on_sack = transfer._on_sack
    _process_ack = transfer._process_ack
    _make_sack = transfer._make_sack
    _on_t3 = transfer._on_t3
    _start_data_plane = transfer._start_data_plane
    _deliver = transfer._deliver
    _window_left = transfer._window_left
    _maybe_window_update = transfer._maybe_window_update

    # Peer addresses: heartbeats and failure detection (sections 8.1-8.3).
    _add_path = peer_paths._add_path
    _primary_path = peer_paths._primary_path
    _on_heartbeat_timer = peer_paths._on_heartbeat_timer
    _send_heartbeat = peer_paths._send_heartbeat
    _on_heartbeat = peer_paths._on_heartbeat
    _on_heartbeat_ack = peer_paths._on_heartbeat_ack
    _heartbeat_delay = peer_paths._heartbeat_delay
    _heartbeat_interval = peer_paths._heartbeat_interval
    _jitter = peer_paths._jitter
    _count_error = peer_paths._count_error
    _path_reachable = peer_paths._path_reachable
    _set_path_state = peer_paths._set_path_state

    # SHUTDOWN and ABORT (section 9).
    _on_t2 = termination._on_t2
    _on_shutdown = termination._on_shutdown
    _on_shutdown_ack = termination._on_shutdown_ack
    _on_shutdown_complete = termination._on_shutdown_complete
    _check_shutdown_progress = termination._check_shutdown_progress
    _queue_shutdown = termination._queue_shutdown
    _on_abort = termination._on_abort
    _send_abort = termination._send_abort
    _close = termination._close

    # Packet assembly (section 6.10).
    _build_packets = bundling._build_packets
    _send_data = bundling._send_data
    _emit = bundling._emit
    _send_raw = bundling._send_raw
    _fit_cause = bundling._fit_cause
    _max_payload = bundling._max_payload


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
    ChunkType.DATA: (Association._on_data, DATA_FLOWS),
    ChunkType.INIT: (Association._on_init, ALL_STATES),
    ChunkType.INIT_ACK: (Association._on_init_ack, frozenset({State.COOKIE_WAIT})),
    ChunkType.SACK: (Association._on_sack, DATA_FLOWS),
    ChunkType.HEARTBEAT: (Association._on_heartbeat, CONNECTED),
    ChunkType.HEARTBEAT_ACK: (Association._on_heartbeat_ack, CONNECTED),
    ChunkType.ABORT: (Association._on_abort, WITH_TCB),
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
        HANDSHAKE | {State.SHUTDOWN_SENT, State.SHUTDOWN_ACK_SENT},
    ),
    ChunkType.ERROR: (Association._on_error, WITH_TCB),
    ChunkType.COOKIE_ECHO: (Association._on_cookie_echo, ALL_STATES),
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
