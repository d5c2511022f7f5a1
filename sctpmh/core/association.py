"""The SCTP association state machine (RFC 9260), sans I/O.

An :class:`Association` is driven by its caller: ``connect()`` / ``send()`` / ``shutdown()`` /
``abort()`` from the application, ``receive_datagram()`` for every SCTP packet that arrived and
``handle_timer()`` when ``get_timer()``'s deadline has come. It hands back the packets to put on
the wire with ``datagrams_to_send()`` (each with the local address to send it from and its
destination) and what happened with ``next_event()``. It never reads a clock (every input takes
``now``) and draws every random number from the injected ``rng``.

It is the one public facade over components that each own their state:

* :class:`~sctpmh.core.tcb.Tcb`: what every part shares (state, tags, streams, the data plane,
  the event queue) and how an association ends.
* :class:`~sctpmh.core.paths.PathManager`: local and peer addresses, per-path timers,
  heartbeats, address confirmation (5.4), failure detection (8.1-8.3, RFC 7829), path
  selection and the primary path (6.4).
* :class:`~sctpmh.core.bundling.Outbox`: control chunks and DATA bundled into packets (6.10).
* :class:`~sctpmh.core.handshake.Handshake`: the four-way handshake, collisions, restarts
  (5.1, 5.2).
* :class:`~sctpmh.core.transfer.Transfer`: DATA, SACK, T3-rtx (6), and PR-SCTP's FORWARD TSN
  (RFC 3758).
* :class:`~sctpmh.core.termination.Termination`: SHUTDOWN and ABORT (9).
* :func:`~sctpmh.core.intake.screen`: which packets reach the chunk handlers (8.4, 8.5).

This module keeps the public API, the timers' dispatch and the chunk dispatch table (unknown
chunks by the upper two bits of their type, 3.2).

Bad input from the wire never raises: it is dropped (and counted in :attr:`Association.stats`)
or answered with ABORT or ERROR as the RFC says.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from random import Random
from typing import Any

from sctpmh.config import Config
from sctpmh.core import causes
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import (
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    ForwardTsnChunk,
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
from sctpmh.core.coreconfig import CoreConfig
from sctpmh.core.destination import Destination
from sctpmh.core.handshake import Handshake
from sctpmh.core.intake import Inbound, screen
from sctpmh.core.packet import ChecksumError, PacketError, decode_packet
from sctpmh.core.paths import Address
from sctpmh.core.states import (
    ALL_STATES,
    CONNECTED,
    DATA_FLOWS,
    HANDSHAKE,
    HEARTBEATING,
    WITH_TCB,
    State,
)
from sctpmh.core.stats import Stats
from sctpmh.core.tcb import PendingSend, Tcb
from sctpmh.core.termination import Termination
from sctpmh.core.transfer import Transfer
from sctpmh.errors import (
    AddressError,
    AssociationAbortedError,
    AssociationClosedError,
)
from sctpmh.events import Event, Message, PathInfo, RemoteError
from sctpmh.validation import check_payload, check_ppid, check_stream

__all__ = ["Association", "CoreConfig", "State"]

_Handler = Callable[[Any, Inbound], bool]

# Where packets go out at all, and where new DATA may (RFC 9260 sections 5.1, 9.2).
_SENDING = CONNECTED | {State.COOKIE_ECHOED}
_DATA_GOES = frozenset({State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED})


class Association:
    """One SCTP association, driven by its caller (see the module docstring).

    An association that is never ``connect()``-ed listens: it answers INITs statelessly with
    a State Cookie and is established by the first valid COOKIE ECHO (RFC 9260 section 5.1).
    ``local_addresses`` are our hosts (the SCTP port is ``core.local_port``) or
    ``(host, port)`` pairs.
    """

    def __init__(
        self,
        config: Config,
        core: CoreConfig,
        *,
        local_addresses: Sequence[str] | Sequence[tuple[str, int]],
        rng: Random,
        association_id: int = 1,
    ) -> None:
        local = tuple(
            (item, core.local_port) if isinstance(item, str) else (item[0], core.local_port)
            for item in local_addresses
        )
        self._tcb = tcb = Tcb(config, core, local, rng, association_id)
        self._paths = tcb.paths
        self._transfer = transfer = Transfer(tcb)
        self._termination = termination = Termination(tcb, transfer)
        self._handshake = handshake = Handshake(tcb, transfer, termination)
        # The chunk dispatch table (RFC 9260 sections 5.2, 8.4, 8.5, 9.2). Rules:
        # * Before this table is consulted the packet passed intake.screen: a packet with an
        #   INIT holds only that INIT and has tag 0; a packet for a closed association is
        #   handled by the out-of-the-blue rules (8.4), of which only a first-chunk COOKIE ECHO
        #   gets here; any other packet carries our tag and comes from a peer address, except
        #   a first-chunk COOKIE ECHO (its tag is checked against the cookie, 8.5.1 D), an
        #   INIT ACK (from any address of the peer) and the ABORT / SHUTDOWN COMPLETE
        #   exceptions of 8.5.1 B/C.
        # * A chunk whose type is in the table but whose state is not in its allowed set is
        #   discarded and counted (stats.chunks_ignored); processing continues with the next.
        # * A handler returns False to stop processing the rest of the packet (the association
        #   ended, the packet was refused, or the chunk must be alone).
        # * Unknown chunk types never reach the table: their upper two bits decide (3.2).
        shutdown_states = frozenset(
            {
                State.ESTABLISHED,
                State.SHUTDOWN_PENDING,
                State.SHUTDOWN_SENT,
                State.SHUTDOWN_RECEIVED,
            }
        )
        self._dispatch_table: dict[type, tuple[_Handler, frozenset[State]]] = {
            chunk_class: (handler, allowed)
            for chunk_class, handler, allowed in (
                (DataChunk, transfer.on_data, DATA_FLOWS),
                (InitChunk, handshake.on_init, ALL_STATES),
                (
                    InitAckChunk,
                    handshake.on_init_ack,
                    frozenset({State.COOKIE_WAIT}),
                ),
                (SackChunk, self._on_sack, DATA_FLOWS),
                (HeartbeatChunk, self._on_heartbeat, CONNECTED),
                (HeartbeatAckChunk, self._on_heartbeat_ack, CONNECTED),
                (AbortChunk, termination.on_abort, WITH_TCB),
                (ShutdownChunk, termination.on_shutdown, shutdown_states),
                (
                    ShutdownAckChunk,
                    termination.on_shutdown_ack,
                    HANDSHAKE | {State.SHUTDOWN_SENT, State.SHUTDOWN_ACK_SENT},
                ),
                (ErrorChunk, self._on_error, WITH_TCB),
                (CookieEchoChunk, handshake.on_cookie_echo, ALL_STATES),
                (
                    CookieAckChunk,
                    handshake.on_cookie_ack,
                    frozenset({State.COOKIE_ECHOED}),
                ),
                (
                    ShutdownCompleteChunk,
                    termination.on_shutdown_complete,
                    frozenset({State.SHUTDOWN_ACK_SENT}),
                ),
                (ForwardTsnChunk, transfer.on_forward_tsn, DATA_FLOWS),
            )
        }

    # --- read-only views ---------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """Protocol parameters."""
        return self._tcb.config

    @property
    def core(self) -> CoreConfig:
        """Core-only parameters."""
        return self._tcb.core

    @property
    def association_id(self) -> int:
        """The id events carry."""
        return self._tcb.association_id

    @property
    def state(self) -> State:
        """The RFC 9260 section 4 state."""
        return self._tcb.state

    @property
    def stats(self) -> Stats:
        """Counters."""
        return self._tcb.stats

    @property
    def local_addresses(self) -> tuple[Address, ...]:
        """Our addresses, ``(host, sctp_port)``, listed in INIT / INIT ACK when there are
        several."""
        return self._paths.local_addresses

    @property
    def local_tag(self) -> int:
        """Our verification tag (0 before connect / before a COOKIE ECHO established us)."""
        return self._tcb.local_tag

    @property
    def local_initial_tsn(self) -> int:
        """The TSN of our first DATA chunk (RFC 9260 section 5.1), 0 before it is chosen."""
        return self._tcb.local_initial_tsn

    @property
    def peer_tag(self) -> int:
        """The peer's verification tag, 0 while unknown."""
        return self._tcb.peer_tag

    @property
    def outbound_streams(self) -> int:
        """Negotiated outbound streams (0 before establishment, RFC 9260 section 5.1.1)."""
        return self._tcb.outbound_streams

    @property
    def inbound_streams(self) -> int:
        """Negotiated inbound streams (0 before establishment)."""
        return self._tcb.inbound_streams

    @property
    def aborted_by_peer(self) -> bool:
        """Whether the association ended by the peer's ABORT (not by a local decision)."""
        return self._tcb.peer_aborted

    @property
    def peer_supports_prsctp(self) -> bool:
        """Whether the peer announced PR-SCTP in its INIT / INIT ACK (RFC 3758 section 3.3)."""
        return self._tcb.peer_prsctp

    @property
    def destinations(self) -> dict[str, Destination]:
        """Per-destination state, keyed by host."""
        return {path.address[0]: path.destination for path in self._paths}

    @property
    def primary_address(self) -> Address | None:
        """The address new data goes to first (RFC 9260 section 6.4), or None."""
        primary = self._paths.primary
        return primary.address if primary is not None else None

    @property
    def peer_rwnd(self) -> int:
        """The peer's receive window as last computed (RFC 9260 section 6.2.1)."""
        if self._tcb.sender is not None:
            return self._tcb.sender.peer_rwnd
        return self._tcb.peer_rwnd

    def peer_addresses(self) -> list[Address]:
        """Every peer address, confirmed or not, in the order they were learned."""
        return [path.address for path in self._paths]

    def paths(self) -> list[PathInfo]:
        """A snapshot of every peer address (``UNCONFIRMED`` until a HEARTBEAT ACK confirmed
        it, RFC 9260 section 5.4)."""
        primary = self._paths.primary
        return [
            PathInfo(
                address=path.address,
                state=path.destination.state,
                srtt=path.destination.srtt,
                rto=path.destination.rto,
                cwnd=path.destination.cwnd,
                mtu=path.destination.mtu,
                primary=path is primary,
            )
            for path in self._paths
        ]

    # --- application inputs ------------------------------------------------------------------

    def connect(self, remote_addresses: Sequence[Address] | Sequence[str], now: float) -> None:
        """Start the association: send INIT and start T1-init (RFC 9260 section 5.1 A).

        The addresses given are the peer's, confirmed from the start (section 5.4); the first
        is primary.
        """
        tcb = self._tcb
        if tcb.finished:
            raise AssociationClosedError("the association is closed")
        if tcb.state is not State.CLOSED or self._handshake.connecting:
            raise ValueError("connect() called twice")
        addresses: list[Address] = []
        for item in remote_addresses:
            address = (item, tcb.core.remote_port) if isinstance(item, str) else item
            addresses.append((address[0], address[1]))
        if not addresses:
            raise ValueError("connect() needs at least one remote address")
        self._handshake.start(addresses, now)

    def send(
        self,
        data: bytes,
        *,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        now: float,
        to: tuple[str, int] | None = None,
        ttl: float | None = None,
    ) -> None:
        """Queue one message; it goes out with the next ``datagrams_to_send``.

        ``to`` names the peer address the message should go to (RFC 9260 section 6.4: it
        goes to the primary while that address is not active). ``ttl`` is the message's
        lifetime in seconds under PR-SCTP (RFC 3758): if it is not delivered in time it is
        abandoned and comes back as ``SendFailed``; the peer must support PR-SCTP.

        Raises :class:`~sctpmh.errors.StreamError`, :class:`~sctpmh.errors.MessageTooLargeError`,
        :class:`~sctpmh.errors.AddressError`, :class:`~sctpmh.errors.AssociationClosedError` or
        ``ValueError`` (also for a ``ttl`` the peer cannot honour) on local misuse only.
        Before the association is up the message waits for it.
        """
        tcb = self._tcb
        if tcb.finished:
            if tcb.aborted:
                raise AssociationAbortedError("the association was aborted", tcb.close_cause)
            raise AssociationClosedError("the association is closed")
        if tcb.state not in (State.COOKIE_WAIT, State.COOKIE_ECHOED, State.ESTABLISHED):
            # RFC 9260 section 9.2: once shutting down, new sends are refused.
            raise AssociationClosedError(f"cannot send in state {tcb.state.value}")
        if tcb.shutdown_requested:
            raise AssociationClosedError("the association is shutting down")
        limit_streams = tcb.outbound_streams if tcb.sender is not None else None
        if limit_streams is None:
            limit_streams = tcb.config.outbound_streams
        # The checks every backend makes (sctpmh.validation), so the core says the same.
        check_stream(stream, limit_streams)
        check_ppid(ppid)
        data = check_payload(data, tcb.config.max_message_size)
        if to is not None:
            if not (
                isinstance(to, tuple)
                and len(to) == 2
                and to[0] in self._paths
                and to[1] == tcb.remote_port
            ):
                raise AddressError(f"{to!r} is not a peer address of the association")
            to = (to[0], to[1])
        expires: float | None = None
        if ttl is not None:
            if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
                raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
            if tcb.sender is not None and not tcb.peer_prsctp:
                # RFC 3758 section 3.3: without the peer's support there is no FORWARD TSN.
                raise ValueError("the peer does not support PR-SCTP (RFC 3758): no ttl")
            if math.isfinite(ttl):
                expires = now + ttl
        sender = tcb.sender
        if sender is None:
            tcb.pending.append(PendingSend(bytes(data), stream, ppid, unordered, to, expires))
        elif to is None and expires is None:
            sender.enqueue(bytes(data), stream, ppid, unordered, tcb.max_payload)
        else:
            tcb.enqueue(PendingSend(bytes(data), stream, ppid, unordered, to, expires))

    def set_primary(self, address: tuple[str, int]) -> None:
        """Make ``address`` the primary path (RFC 9260 section 6.4); reports
        ``PrimaryChanged``. Raises :class:`~sctpmh.errors.AddressError` for an address that is
        not a confirmed peer address (an unconfirmed one may not be primary, section 5.4)."""
        path = self._paths.get(address[0]) if isinstance(address, tuple) else None
        if path is None or address[1] != self._tcb.remote_port:
            raise AddressError(f"{address!r} is not a peer address of the association")
        if not path.confirmed:
            raise AddressError(f"{address!r} is not confirmed yet (RFC 9260 section 5.4)")
        self._paths.set_primary(path)

    def shutdown(self, now: float) -> None:
        """Close gracefully: queued data is delivered first (RFC 9260 section 9.2).

        Before the association is up the shutdown waits for it, so messages queued meanwhile
        are still delivered. A listening association simply ends.
        """
        tcb = self._tcb
        if tcb.finished:
            return
        if tcb.state is State.CLOSED:
            tcb.close(now, None, aborted=False)
            return
        if tcb.state in HANDSHAKE:
            tcb.shutdown_requested = True
            return
        if tcb.state is State.ESTABLISHED:
            tcb.state = State.SHUTDOWN_PENDING
            self._termination.check_progress(now)

    def abort(self, now: float, reason: bytes = b"") -> None:
        """End at once with an ABORT carrying a User-Initiated Abort cause (RFC 9260 section
        9.1); unsent and unacknowledged messages come back as ``SendFailed`` (errno
        ``ECONNABORTED``)."""
        tcb = self._tcb
        if tcb.finished:
            return
        if tcb.state is not State.CLOSED and tcb.peer_tag:
            tcb.send_abort((causes.user_abort(bytes(reason)),))
        tcb.close(now, CauseCode.USER_INITIATED_ABORT, aborted=True)

    # --- outputs -----------------------------------------------------------------------------

    def next_event(self) -> Event | Message | None:
        """The next event, or None. :class:`~sctpmh.events.AssociationClosed` is the last."""
        events = self._tcb.events
        if not events:
            return None
        event = events.popleft()
        if type(event) is Message:
            self._tcb.undelivered -= len(event.data)
            self._transfer.maybe_window_update()
        return event

    def pending_bytes(self) -> int:
        """Bytes queued or in flight, not yet acknowledged by the peer."""
        tcb = self._tcb
        pending = sum(len(item.data) for item in tcb.pending) if tcb.pending else 0
        if tcb.sender is not None:
            pending += tcb.sender.queued_bytes + tcb.sender.outstanding_bytes
        return pending

    @property
    def sack_due(self) -> bool:
        """Whether a SACK is due now (every second DATA packet, a gap, a duplicate: RFC 9260
        section 6.2): a caller that reads several packets at once sends before reading on."""
        return self._transfer.sack_due

    def get_timer(self) -> float | None:
        """The earliest timer deadline, or None when no timer runs."""
        if self._tcb.finished:
            return None
        deadlines = [
            timer.deadline
            for timer in (
                self._handshake.t1,
                self._termination.t2,
                self._termination.t5,
                self._transfer.sack_timer,
            )
            if timer.deadline is not None
        ]
        deadlines.extend(self._paths.deadlines())
        expiry = self._transfer.next_expiry()
        if expiry is not None:
            deadlines.append(expiry)
        return min(deadlines) if deadlines else None

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address | None, Address]]:
        """The SCTP packets to send now, as ``(data, source, destination)``: ``source`` is the
        local ``(host, port)`` the packet must leave from (None only when the association has
        no local address of the destination's family).

        Control chunks go first, then DATA, filling packets up to the MTU (RFC 9260 section
        6.10); a SACK that is due, or waiting for its delay, rides with the DATA (6.2).
        """
        tcb = self._tcb
        out = tcb.outbox.take_raw()
        if tcb.peer_tag and tcb.state in _SENDING:
            transfer = self._transfer
            transfer.before_build(now)
            sender = tcb.sender
            data_goes = sender is not None and tcb.state in _DATA_GOES and sender.has_data
            tcb.outbox.build(
                now,
                out,
                paths=self._paths,
                remote_port=tcb.remote_port,
                peer_tag=tcb.peer_tag,
                sender=sender if data_goes else None,
                peer_rwnd=tcb.peer_rwnd,
                sack=transfer.make_sack if transfer.sack_wanted(data_goes) else None,
                sack_path=transfer.sack_path,
            )
        else:
            tcb.outbox.clear_control()
        tcb.stats.packets_sent += len(out)
        return out

    # --- timers ------------------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        """Run every timer whose deadline has come."""
        tcb = self._tcb
        if tcb.finished:
            return
        if self._handshake.t1.due(now):
            self._handshake.on_t1(now)
        if self._termination.t2.due(now):
            self._termination.on_t2(now)
        if self._termination.t5.due(now):
            self._termination.on_t5(now)
            return
        if self._transfer.sack_timer.due(now):
            self._transfer.sack_timer_expired()
        heartbeating = tcb.state in HEARTBEATING
        for path in self._paths.all():
            if tcb.finished:
                return
            if path.t3.due(now):
                self._transfer.on_t3(path, now)
            if tcb.finished:
                return
            if path.heartbeat.due(now) and self._paths.on_heartbeat_timer(path, now, heartbeating):
                tcb.fail(now)
                return
        if not tcb.finished:
            self._transfer.abandon_expired(now)
            self._termination.check_progress(now)

    # --- datagrams in ------------------------------------------------------------------------

    def receive_datagram(
        self,
        data: bytes,
        source: tuple[str, int],
        now: float,
        destination: tuple[str, int] | str | None = None,
    ) -> None:
        """Process one received SCTP packet (the UDP payload under RFC 6951) from ``source``,
        which arrived on our address ``destination`` (a host or ``(host, port)``; None when
        the caller does not know).

        Never raises on bad input: malformed packets are dropped and counted.
        """
        tcb = self._tcb
        stats = tcb.stats
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
        local: Address | None = None
        if destination is not None:
            host = destination if isinstance(destination, str) else destination[0]
            local = (host, tcb.core.local_port)
        path = self._paths.get(source[0])
        inbound = Inbound(
            (source[0], source[1]), local, path, packet.source_port, packet.verification_tag, now
        )
        chunks = screen(tcb, packet, inbound)
        if chunks is None:
            return
        if path is not None and not path.confirmed:
            self._paths.note_arrival(path, local)
        self._dispatch(chunks, inbound)

    # --- chunk dispatch ----------------------------------------------------------------------

    def _dispatch(self, chunks: Sequence[Chunk], inbound: Inbound) -> None:
        # Runs the chunks of one packet through the dispatch table in order (rules in its
        # comment in __init__).
        tcb = self._tcb
        stats = tcb.stats
        tracker = tcb.tracker
        had_gaps = tracker is not None and tracker.has_gaps
        table = self._dispatch_table
        for index, chunk in enumerate(chunks):
            inbound.index = index
            entry = table.get(type(chunk))
            if entry is None:
                assert type(chunk) is UnknownChunk
                stats.unknown_chunks += 1
                stop, report = unknown_chunk_action(chunk.type)
                if report:
                    inbound.errors.append(
                        causes.unrecognized_chunk(tcb.outbox.fit_cause(chunk.raw))
                    )
                if stop:
                    break
                continue
            handler, allowed = entry
            if tcb.state not in allowed:
                stats.chunks_ignored += 1
                continue
            if not handler(chunk, inbound):
                break
            if tcb.finished:
                return
        if inbound.path is None:
            # A packet that established the association (COOKIE ECHO) or added its source.
            inbound.path = self._paths.get(inbound.source[0])
        if self._transfer.after_packet(inbound, had_gaps) and tcb.state is State.SHUTDOWN_SENT:
            self._termination.data_while_shutdown_sent(inbound.now)

    # --- chunks handled here -----------------------------------------------------------------

    def _on_sack(self, chunk: Any, inbound: Inbound) -> bool:
        self._transfer.on_sack(chunk, inbound)
        self._termination.check_progress(inbound.now)
        return True

    def _on_heartbeat(self, chunk: HeartbeatChunk, inbound: Inbound) -> bool:
        # RFC 9260 section 8.3: echo the info back to where it came from.
        self._tcb.outbox.queue(HeartbeatAckChunk(chunk.info), inbound.path)
        return True

    def _on_heartbeat_ack(self, chunk: HeartbeatAckChunk, inbound: Inbound) -> bool:
        if self._paths.on_heartbeat_ack(chunk, inbound.now):
            self._tcb.stats.heartbeat_acks_received += 1
        return True

    def _on_error(self, chunk: ErrorChunk, inbound: Inbound) -> bool:
        tcb = self._tcb
        tcb.stats.errors_received += 1
        for cause in chunk.causes:
            if cause.code == CauseCode.STALE_COOKIE and tcb.state is State.COOKIE_ECHOED:
                self._handshake.on_stale_cookie(cause, inbound.now)
                return False
            tcb.events.append(RemoteError(cause.code, cause.info))
        return True
