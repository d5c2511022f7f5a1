"""Core associations on an event loop: datagrams in, events out, timers, demultiplexing.

A :class:`UserspaceEndpoint` is one SCTP endpoint (one port, one or more local addresses,
RFC 9260 section 1.3) of sctpmh's own stack. It drives sans-I/O
:class:`~sctpmh.core.association.Association` objects the way aioquic's asyncio glue drives
its connections: feed input, hand the events to the transports, transmit, re-arm one
``call_at`` timer per association when ``get_timer()`` changed.

- Incoming datagrams go to an association by verification tag (RFC 9260 section 8.5),
  else by the peer's address and port (packets with the T bit carry the peer's own tag,
  8.5.1); what matches neither goes to the listener, which answers INIT statelessly with a
  State Cookie (5.1.3) and becomes an association on a valid COOKIE ECHO, whereupon a
  fresh listener with the same cookie secret takes its place.
- Work is batched: input and sends only mark an association; one ``call_soon`` per loop
  iteration then services every marked association, so every datagram that was readable
  at a wakeup is processed before anything is sent.
- A :class:`Carrier` moves the datagrams (in memory, or over UDP).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import random
from collections.abc import Sequence
from typing import Final, Protocol

from ..addresses import Address, Endpoint
from ..config import Config
from ..core.association import Association as CoreAssociation
from ..core.association import CoreConfig
from ..errors import (
    AddressError,
    AssociationAbortedError,
    AssociationClosedError,
    AssociationLostError,
)
from ..events import AssociationClosed, AssociationLost, AssociationUp, Message, SendFailed
from ..seam import TransportCallback
from ..transport import USER_INITIATED_ABORT, BaseTransport, Unsent
from .transport import UserspaceTransport

__all__ = ["Carrier", "UserspaceEndpoint", "one_port"]

logger = logging.getLogger("sctpmh.userspace")

#: The common header: source port, destination port, verification tag, checksum (3.1).
_HEADER_SIZE: Final = 12

_association_ids = itertools.count(1)


class Carrier(Protocol):
    """What moves an endpoint's datagrams: SCTP packets between (host, port) addresses."""

    def send(self, data: bytes, source: Address, destination: Address) -> None:
        """Put one SCTP packet on the way from our ``source`` to ``destination``."""

    def forget(self, peers: Sequence[Address]) -> None:
        """The association with these peer addresses has ended: drop what was learned
        about them (a new association from the same addresses starts afresh)."""

    def close(self) -> None:
        """Stop carrying; nothing more arrives."""


def one_port(addresses: Sequence[Endpoint]) -> int:
    """The one port ``addresses`` share (RFC 9260 section 1.3), or AddressError."""
    ports = {e.port for e in addresses}
    if len(ports) != 1:
        raise AddressError(
            "every address of an SCTP endpoint shares one port (RFC 9260 section 1.3); "
            f"got ports {sorted(ports)}",
            [str(e) for e in addresses],
        )
    return ports.pop()


def _core_config(config: Config, local_port: int, remote_port: int) -> CoreConfig:
    """The core's own settings for an endpoint on ``local_port``."""
    core = CoreConfig(local_port=local_port, remote_port=remote_port)
    window = config.receive_buffer_size
    if window is not None:
        # The smallest a_rwnd RFC 9260 section 3.3.2 allows is 1500.
        core = dataclasses.replace(core, receive_window=max(window, 1500))
    return core


class _Driven:
    """One core association and what the endpoint keeps for it."""

    __slots__ = ("core", "deadline", "lost", "timer", "transport")

    def __init__(self, core: CoreAssociation) -> None:
        self.core = core
        self.lost = False  # the core reported AssociationLost: its end is a loss
        self.transport: UserspaceTransport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.deadline: float | None = None


class UserspaceEndpoint:
    """One SCTP endpoint of the userspace stack, listening or connecting."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        backend_name: str,
        local: Sequence[Endpoint],
        config: Config,
        remote_port: int,
        *,
        on_association: TransportCallback | None = None,
        on_association_lost: TransportCallback | None = None,
    ) -> None:
        self.loop = loop
        self.backend_name = backend_name
        self._local = list(local)
        self._config = config
        self._rng = random.SystemRandom()
        # One cookie secret for the endpoint, not one per listener core: a cookie handed out
        # before another association took the listener's place must still open at the
        # listener that replaced it (RFC 9260 section 5.1.3: the endpoint's secret key).
        self._core_config = dataclasses.replace(
            _core_config(config, self._local[0].port, remote_port),
            secret=self._rng.randbytes(32),
        )
        self._on_association = on_association
        self._on_association_lost = on_association_lost
        self._carrier: Carrier | None = None
        self._by_tag: dict[int, _Driven] = {}
        self._by_peer: dict[Address, _Driven] = {}
        self._driven: dict[CoreAssociation, _Driven] = {}
        self._listener: _Driven | None = None
        self._dirty: dict[_Driven, None] = {}
        self._flush_scheduled = False
        self._connect_waiter: asyncio.Future[UserspaceTransport] | None = None
        self._closed = False
        if on_association is not None:
            self._listener = self._new_listener()

    # --- set-up --------------------------------------------------------------------------------

    def attach(self, carrier: Carrier) -> None:
        """Carry the datagrams with ``carrier`` (before any traffic)."""
        self._carrier = carrier

    def _new_core(self) -> CoreAssociation:
        return CoreAssociation(
            self._config,
            self._core_config,
            local_addresses=[e.host for e in self._local],
            rng=self._rng,
            association_id=next(_association_ids),
        )

    def _new_listener(self) -> _Driven:
        return _Driven(self._new_core())

    def connect(self, remote: Sequence[Endpoint]) -> asyncio.Future[UserspaceTransport]:
        """Start one association to ``remote``; the future is its transport once it is up."""
        driven = _Driven(self._new_core())
        self._driven[driven.core] = driven
        driven.core.connect([(e.host, e.port) for e in remote], self.loop.time())
        self._by_tag[driven.core.local_tag] = driven
        for e in remote:
            self._by_peer[(e.host, e.port)] = driven
        self._connect_waiter = self.loop.create_future()
        self._mark(driven)
        return self._connect_waiter

    async def open(self, remote: Sequence[Endpoint]) -> UserspaceTransport:
        """:meth:`connect` and wait for the association; the endpoint closes if it fails
        (or the wait is cancelled)."""
        completed = False
        try:
            transport = await self.connect(remote)
            completed = True
            return transport
        finally:
            if not completed:
                self.close()

    def local_addresses(self) -> list[Address]:
        """Every local address of the endpoint, with its port."""
        return [(e.host, e.port) for e in self._local]

    def stop_accepting(self) -> None:
        """Answer no more INITs; live associations go on."""
        self._listener = None

    def close(self) -> None:
        """Abort every association and stop carrying datagrams."""
        if self._closed:
            return
        self._closed = True
        self._listener = None
        for driven in list(self._driven.values()):
            if driven.transport is not None:
                driven.transport._abort(
                    AssociationAbortedError("the endpoint was closed", USER_INITIATED_ABORT)
                )
            else:
                driven.core.abort(self.loop.time())
                self._service(driven)
        self._fail_connect(AssociationClosedError("the endpoint was closed"))
        for driven in self._driven.values():
            if driven.timer is not None:
                driven.timer.cancel()
        self._driven.clear()
        self._by_tag.clear()
        self._by_peer.clear()
        if self._carrier is not None:
            self._carrier.close()

    # --- input ---------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, source: Address, destination: Address) -> bool:
        """One SCTP packet arrived from ``source`` at our ``destination``.

        True when an association accepted it under its own verification tag (RFC 9260
        section 8.5: checksum, ports, tag and source address checked, nothing dropped it):
        only then may a carrier believe what the packet says about the peer, such as the
        UDP port it comes from."""
        if self._closed or len(data) < _HEADER_SIZE:
            return False
        tag = int.from_bytes(data[4:8], "big")
        driven = self._by_tag.get(tag) if tag else None
        if driven is None:
            driven = self._by_peer.get(source)
        if driven is None:
            driven = self._listener
            if driven is None:
                return False
        core = driven.core
        dropped = core.stats.packets_dropped
        core.receive_datagram(data, source, self.loop.time(), destination)
        if core.sack_due and driven.transport is not None:
            # RFC 9260 section 6.2: a SACK at least every second packet. When several packets
            # were read at one wake-up, holding it to the end of the batch would acknowledge
            # them all at once and let the sender's flight shrink to one Max.Burst (6.1 D).
            self._dirty.pop(driven, None)
            self._service(driven)
        else:
            self._mark(driven)
        # The tag is compared after processing: a COOKIE ECHO that made the listener an
        # association carries the tag it now has (section 5.1.5).
        return bool(tag) and tag == core.local_tag and core.stats.packets_dropped == dropped

    def touch(self, transport: UserspaceTransport) -> None:
        """``transport``'s association has work (a send, a shutdown, reading resumed)."""
        driven = self._driven.get(transport.core)
        if driven is not None:
            self._mark(driven)

    def _mark(self, driven: _Driven) -> None:
        self._dirty[driven] = None
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    # --- output --------------------------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_scheduled = False
        while self._dirty:
            dirty, self._dirty = self._dirty, {}
            for driven in dirty:
                self._service(driven)

    def _service(self, driven: _Driven) -> None:
        """Hand out the association's events, transmit its packets, re-arm its timer."""
        core = driven.core
        if driven is self._listener and core.local_tag:
            self._promote(driven)
        transport = driven.transport
        if transport is None or not transport.input_blocked:
            self._hand_out(driven)
        self._transmit(driven)
        transport = driven.transport
        if transport is not None:
            transport.update_buffer()
        self._arm(driven)

    def _promote(self, driven: _Driven) -> None:
        """The listener took a valid COOKIE ECHO: it is an association now."""
        self._listener = self._new_listener()
        self._driven[driven.core] = driven
        self._by_tag[driven.core.local_tag] = driven
        for path in driven.core.paths():
            self._by_peer[path.address] = driven

    def _hand_out(self, driven: _Driven) -> None:
        core = driven.core
        while True:
            transport = driven.transport
            if transport is not None and transport.input_blocked:
                return
            item = core.next_event()
            if item is None:
                return
            if transport is not None:
                if isinstance(item, Message):
                    transport._deliver_message(item)
                elif isinstance(item, AssociationClosed):
                    transport.ended(self._end_reason(driven, item))
                elif isinstance(item, AssociationLost):
                    # Told by the base transport's end sequence, from the reason.
                    driven.lost = True
                else:
                    transport._deliver_event(item)
            elif isinstance(item, AssociationUp):
                self._up(driven, item)
            elif isinstance(item, AssociationClosed):
                self._never_up(driven, item)

    def _up(self, driven: _Driven, up: AssociationUp) -> None:
        transport = UserspaceTransport(
            self, driven.core, up.association_id, up.outbound_streams, up.inbound_streams
        )
        driven.transport = transport
        for path in driven.core.paths():
            self._by_peer[path.address] = driven
        transport.log_up()
        waiter = self._connect_waiter
        if waiter is not None:
            self._connect_waiter = None
            if not waiter.done():
                waiter.set_result(transport)
                return
        if self._on_association is None:
            transport.abort()
            return
        # The COOKIE ACK goes out before user code runs, as a kernel sends it: the peer is
        # up whatever the application then does (RFC 9260 section 5.1 D).
        self._transmit(driven)
        self._on_association(transport)

    def _never_up(self, driven: _Driven, closed: AssociationClosed) -> None:
        self._fail_connect(
            AssociationAbortedError(
                "could not establish the association: the peer did not answer or refused it",
                closed.cause,
                remote=closed.cause is not None,
            )
        )
        self._drop(driven)

    def _end_reason(self, driven: _Driven, closed: AssociationClosed) -> Exception | None:
        """The exception a core AssociationClosed ends the transport with."""
        if not closed.aborted:
            return None
        if driven.lost:
            return AssociationLostError(
                "the peer stopped answering on every path; the association was lost",
                closed.cause,
            )
        if driven.core.aborted_by_peer:
            return AssociationAbortedError(
                "the peer aborted the association", closed.cause, remote=True
            )
        return AssociationAbortedError(
            "the association was aborted: the peer broke the protocol or took too long",
            closed.cause,
        )

    def take_unsent(self, transport: UserspaceTransport) -> list[Unsent]:
        """What the core handed back as it ended (its SendFailed events), for the end
        sequence; whatever else it still held is moot after an abort."""
        unsent: list[Unsent] = []
        core = transport.core
        while (item := core.next_event()) is not None:
            if isinstance(item, SendFailed):
                unsent.append((item.data, item.stream, item.ppid, item.sent))
        return unsent

    def _transmit(self, driven: _Driven) -> None:
        carrier = self._carrier
        datagrams = driven.core.datagrams_to_send(self.loop.time())
        if carrier is None or not datagrams:
            return
        fallback = self.local_addresses()[0]
        for data, source, destination in datagrams:
            carrier.send(data, source or fallback, destination)

    def _arm(self, driven: _Driven) -> None:
        deadline = driven.core.get_timer()
        if deadline == driven.deadline:
            return
        if driven.timer is not None:
            driven.timer.cancel()
            driven.timer = None
        driven.deadline = deadline
        if deadline is not None and not self._closed:
            driven.timer = self.loop.call_at(deadline, self._timer_fired, driven)

    def _timer_fired(self, driven: _Driven) -> None:
        driven.timer = None
        driven.deadline = None
        driven.core.handle_timer(self.loop.time())
        self._mark(driven)

    # --- endings -------------------------------------------------------------------------------

    def forget(self, transport: UserspaceTransport) -> None:
        """``transport``'s association is over: drop it (its last packets still go out)."""
        driven = self._driven.get(transport.core)
        if driven is not None:
            self._transmit(driven)
            self._drop(driven)

    def _drop(self, driven: _Driven) -> None:
        self._driven.pop(driven.core, None)
        self._dirty.pop(driven, None)
        for tag in [k for k, v in self._by_tag.items() if v is driven]:
            del self._by_tag[tag]
        peers = [k for k, v in self._by_peer.items() if v is driven]
        for peer in peers:
            del self._by_peer[peer]
        if self._carrier is not None and peers:
            self._carrier.forget(peers)
        if driven.timer is not None:
            driven.timer.cancel()
            driven.timer = None
        if self._on_association is None and not self._driven:
            # A client endpoint carries one association: it ends with it.
            self.close()

    def association_lost(self, transport: BaseTransport) -> None:
        """``transport``'s association has ended and its protocol has been told."""
        if self._on_association_lost is not None:
            self._on_association_lost(transport)

    def _fail_connect(self, exc: Exception) -> None:
        waiter = self._connect_waiter
        self._connect_waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
