"""One kernel SCTP socket's associations: which transport each message and notification is for.

A :class:`KernelEndpoint` owns one SCTP socket, driven on the loop by its
:class:`~sctpmh.kernel.fdio.SocketIO`, and the associations that live on it. Socket styles
(RFC 6458 sections 3 and 4):

- a server uses one one-to-many socket (SOCK_SEQPACKET) bound to all its addresses; messages
  and notifications carry an association id and are demultiplexed here into one
  :class:`~sctpmh.kernel.transport.KernelAssociationTransport` per association;
- a client uses one one-to-one socket (SOCK_STREAM) per association, so each association has
  its own kernel buffers and flow control, and closing it is closing the fd;
- a server association whose application stops consuming is peeled off (RFC 6458 section
  9.2, :mod:`sctpmh.kernel.peeloff`) onto a socket of its own before reading stops, so that
  only its socket stops being read and the shared socket goes on serving the others.

An association comes up with SCTP_ASSOC_CHANGE / SCTP_COMM_UP (RFC 6458 section 6.1.1): a
transport is made for it and handed to whoever waits (a connect) or to the server. Its end is
announced the same way, but the transport ends only once the socket has been read dry, so
that the kernel's send-failed notifications queued behind the announcement reach it first.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import warnings
from collections.abc import Callable
from typing import Any, Final

from ..config import Config
from ..errors import (
    AssociationAbortedError,
    AssociationClosedError,
    AssociationLostError,
    MessageTooLargeError,
)
from ..events import AssociationUp, Event, received_message
from ..seam import TransportCallback
from ..transport import BaseTransport
from . import sockapi
from .fdio import SocketIO
from .peeloff import peel_off
from .sockapi import AssociationEnded, SockAddr
from .transport import KernelAssociationTransport

__all__ = ["KernelEndpoint"]

logger = logging.getLogger("sctpmh.kernel")

#: ``socket.socket`` where the class's ``socket`` property hides the module.
_Socket = socket.socket

#: Source addresses remembered in their converted form (cleared when full).
_SOURCE_CACHE_SIZE: Final = 1024


def _end_reason(event: AssociationEnded) -> Exception | None:
    """What ends a transport when the kernel says its association is gone.

    Linux reports a received ABORT and a peer that stopped answering alike, as
    SCTP_COMM_LOST (RFC 6458 section 6.1.1). It gives the ABORT's first cause code in
    ``sac_error`` and the ABORT's causes in ``sac_info``; a lost association has neither
    (cause SCTP_ERROR_NO_ERROR, no chunk). So a cause, or a chunk, means the peer aborted;
    their absence that it was lost (a cause-less ABORT from the peer reads as lost too)."""
    if not event.aborted:
        return None
    if event.cause or event.abort_chunk:
        return AssociationAbortedError("the peer aborted the association", event.cause, remote=True)
    return AssociationLostError(
        "the peer stopped answering on every path; the association was lost"
    )


class KernelEndpoint:
    """One SCTP socket on an event loop, and the associations that live on it."""

    __slots__ = (
        "__weakref__",
        "_config",
        "_connect_waiter",
        "_ending",
        "_io",
        "_loop",
        "_on_association",
        "_on_association_lost",
        "_one_to_many",
        "_peeled_from",
        "_peeled_off",
        "_sock",
        "_sources",
        "_transports",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        config: Config,
        *,
        one_to_many: bool,
        on_association: TransportCallback | None = None,
        on_association_lost: TransportCallback | None = None,
        peeled_from: KernelEndpoint | None = None,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._config = config
        self._one_to_many = one_to_many
        self._on_association = on_association
        self._on_association_lost = on_association_lost
        self._transports: dict[int, KernelAssociationTransport] = {}
        # recvmsg's source address -> the (host, port) users see; converting costs more than
        # the rest of a small message's receive path, and a peer has only a few addresses.
        self._sources: dict[Any, SockAddr] = {}
        self._connect_waiter: asyncio.Future[KernelAssociationTransport] | None = None
        self._ending: dict[KernelAssociationTransport, Exception | None] = {}
        # A one-to-many endpoint's associations peeled off onto sockets of their own (see
        # block_reading); each such endpoint knows where it came from.
        self._peeled_off: set[KernelEndpoint] = set()
        self._peeled_from = peeled_from
        self._io = SocketIO(
            loop, sock, config, self, one_to_many=one_to_many, peeled_off=peeled_from is not None
        )

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def socket(self) -> socket.socket:
        return self._sock

    @property
    def io(self) -> SocketIO:
        """What drives the socket: its reads and its write queue."""
        return self._io

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def config(self) -> Config:
        return self._config

    def start(self) -> None:
        """Begin reading. Call once, after the socket is bound (and listening or connecting)."""
        self._io.update_reading()

    def expect_association(self) -> asyncio.Future[KernelAssociationTransport]:
        """A future for the first association to come up (one-to-one connect)."""
        self._connect_waiter = self._loop.create_future()
        return self._connect_waiter

    def stop_accepting(self) -> None:
        """Refuse new associations; live ones go on (a backlog of 0 stops a one-to-many
        socket from listening, RFC 6458 section 3.1.3)."""
        if not self._io.closed:
            self._sock.listen(0)

    def local_addresses(self) -> list[SockAddr]:
        """Every address the socket is bound to."""
        if self._io.closed:
            return []
        try:
            return sockapi.get_local_addresses(self._sock, 0)
        except OSError:
            return []

    def close(self) -> None:
        """Close the socket at once; associations still on it are aborted by the kernel."""
        if self._io.closed:
            return
        self._io.close()
        for peeled in list(self._peeled_off):
            peeled.close()
        if self._peeled_from is not None:
            self._peeled_from.peeled_closed(self)
        self._finish_endings()
        for transport in list(self._transports.values()):
            transport.ended(AssociationAbortedError("the socket was closed"))
        self._transports.clear()
        self._fail_connect(AssociationClosedError("the socket was closed"))
        self._sock.close()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        io: SocketIO | None = getattr(self, "_io", None)  # None: __init__ failed
        if io is not None and not io.closed and self._sock.fileno() != -1:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self._sock.close()

    # --- peeling off -------------------------------------------------------------------------

    def block_reading(self, assoc_id: int, blocked: bool) -> None:
        """Stop (or restart) reading the socket on behalf of one association.

        On a one-to-many socket the association is first peeled off onto a socket of its own,
        and only that one stops being read; where Linux refuses (see
        :func:`~sctpmh.kernel.peeloff.peel_off`), the shared socket stops being read, holding
        back every association on it.
        """
        if blocked and self._one_to_many and not self._io.closed:
            transport = self._transports.get(assoc_id)
            if transport is not None and peel_off(self, transport) is not None:
                return
        self._io.hold_reading(assoc_id, blocked)

    def is_ending(self, transport: KernelAssociationTransport) -> bool:
        """Whether the end of ``transport``'s association is read, waiting for the socket to
        be read dry (see :meth:`notification`)."""
        return transport in self._ending

    def open_peeled(self, sock: _Socket) -> KernelEndpoint:
        """An endpoint for ``sock``, an association of this one's peeled off (not started)."""
        peeled = KernelEndpoint(
            self._loop,
            sock,
            self._config,
            one_to_many=False,
            on_association_lost=self._on_association_lost,
            peeled_from=self,
        )
        self._peeled_off.add(peeled)
        return peeled

    def peeled_closed(self, peeled: KernelEndpoint) -> None:
        """``peeled`` (from :meth:`open_peeled`) has closed."""
        self._peeled_off.discard(peeled)

    def release(self, transport: KernelAssociationTransport) -> None:
        """``transport`` leaves this socket (its association was peeled off)."""
        del self._transports[transport.association_id]

    def adopt(self, transport: KernelAssociationTransport) -> None:
        """``transport``'s association now lives on this socket (it was peeled off)."""
        self._transports[transport.association_id] = transport
        transport.moved_to(self)

    # --- what the socket reads (the SocketOwner side) ----------------------------------------

    def deliver(self, info: sockapi.RecvInfo, data: bytes, source: Any) -> None:
        """Hand a whole message to its association."""
        transport = self._transports.get(info.assoc_id)
        if transport is None and (transport := self._transport_for(info.assoc_id)) is None:
            logger.warning("message for unknown association %d dropped", info.assoc_id)
            return
        if isinstance(source, tuple):
            address = self._sources.get(source) or self._convert_source(source)
        else:
            address = None
        unordered = info.unordered
        transport._deliver_message(
            received_message(
                data,
                info.stream,
                info.ppid,
                unordered,
                None if unordered else info.ssn,
                info.tsn,
                address,
            )
        )

    def _convert_source(self, source: tuple[Any, ...]) -> SockAddr:
        """``source`` as users see it, remembered (the cache lookup is in ``deliver``)."""
        if len(self._sources) >= _SOURCE_CACHE_SIZE:
            self._sources.clear()
        plain = self._sources[source] = sockapi.plain_address(source)
        return plain

    def message_too_large(self, assoc_id: int, size: int, limit: int) -> None:
        transport = self._transport_for(assoc_id)
        if transport is not None:
            transport.fail(
                MessageTooLargeError(
                    f"the peer sent a message larger than max_message_size ({limit} "
                    "bytes); the association was aborted",
                    size,
                    limit,
                )
            )

    def notification(self, assoc_id: int, event: Event) -> None:
        if isinstance(event, AssociationUp):
            self._association_up(event)
            return
        transport = self._transport_for(assoc_id)
        if isinstance(event, AssociationEnded):
            if transport is None:
                if event.never_started:
                    self._fail_connect(
                        AssociationAbortedError(
                            "could not establish the association: the peer did not answer "
                            "or refused it",
                            event.cause,
                        )
                    )
                return
            # The kernel queues the send-failed notifications for the data it could not
            # deliver right after this one, as it frees the association; the transport ends
            # once the socket has been read dry, so that they reach the protocol first.
            transport.ending()
            self._ending[transport] = _end_reason(event)
            self._io.notify_read_dry(True)
            return
        if transport is None:
            logger.debug("event %r for unknown association %d dropped", event, assoc_id)
            return
        transport._deliver_event(event)

    def _association_up(self, event: AssociationUp) -> None:
        known = self._transport_for(event.association_id)
        if known is not None:
            return
        transport = KernelAssociationTransport(self, event)
        self._transports[event.association_id] = transport
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
        self._on_association(transport)

    def read_dry(self) -> None:
        self._finish_endings()

    def _finish_endings(self) -> None:
        """End the transports whose end the kernel announced (see ``notification``)."""
        if not self._ending:
            return
        while self._ending:
            transport, exc = self._ending.popitem()
            transport.ended(exc)
        self._io.notify_read_dry(False)

    def end_of_file(self) -> None:
        self._finish_endings()
        for transport in list(self._transports.values()):
            transport.ended(None)
        self._io.update_reading()

    def socket_error(self, exc: OSError) -> None:
        if self._one_to_many:
            logger.warning("error on a one-to-many SCTP socket ignored: %s", exc)
            return
        error = AssociationAbortedError(f"the association failed: {exc.strerror or exc}")
        error.__cause__ = exc
        self._fail_connect(error)
        for transport in list(self._transports.values()):
            transport.ended(error)
        self.close()  # a one-to-one socket holds nothing more after its association failed

    # --- the associations ----------------------------------------------------------------------

    def association_lost(self, transport: BaseTransport) -> None:
        """``transport``'s association has ended and its protocol has been told."""
        if self._on_association_lost is not None:
            self._on_association_lost(transport)

    def _transport_for(self, assoc_id: int) -> KernelAssociationTransport | None:
        if not self._one_to_many:
            # One association per socket: ids in ancillary data need not be consulted.
            return next(iter(self._transports.values()), None)
        return self._transports.get(assoc_id)

    def _fail_connect(self, exc: Exception) -> None:
        waiter = self._connect_waiter
        self._connect_waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def forget(self, transport: KernelAssociationTransport) -> None:
        """``transport``'s association is over: stop reading for it (a one-to-one socket,
        which held only it, closes)."""
        self._transports.pop(transport.association_id, None)
        self._io.hold_reading(transport.association_id, False)
        if not self._one_to_many:
            self.close()
