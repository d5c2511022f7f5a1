"""One association on a kernel SCTP socket: the kernel's hooks onto the shared transport base.

:class:`KernelAssociationTransport` is what :class:`~sctpmh.transport.BaseTransport` leaves to
a backend: carrying a message (through its socket's :class:`~sctpmh.kernel.fdio.SocketIO`),
SHUTDOWN and ABORT, holding input back, and the kernel-only operations (primary path,
ASCONF, per-path state), which are socket options on the association (RFC 6458 section 8).
Its endpoint (:class:`~sctpmh.kernel.demux.KernelEndpoint`) makes it when the association
comes up and tells it when the kernel says the association has ended.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ..errors import AddressError, AssociationAbortedError
from ..events import AssociationUp, PathInfo, SendFailed
from ..transport import BaseTransport, Unsent
from ..validation import peer_address, plain_address
from . import sockapi
from .fdio import Outgoing
from .sockapi import SockAddr

if TYPE_CHECKING:
    from .demux import KernelEndpoint

__all__ = ["KernelAssociationTransport"]

logger = logging.getLogger("sctpmh.kernel")

#: Errors with which a send finds the association already gone: the peer aborted it, or it
#: was lost (see ``KernelAssociationTransport.send_failed``).
_GONE_ERRNOS: Final = frozenset({errno.EPIPE, errno.ECONNRESET})
#: How long such a send waits for the kernel's notification of why the association ended.
_END_NOTICE_WAIT: Final = 1.0


class KernelAssociationTransport(BaseTransport):
    """One association on a kernel SCTP socket: the kernel-specific hooks of
    :class:`~sctpmh.transport.BaseTransport`."""

    BACKEND = "kernel"

    __slots__ = ("_endpoint", "_io", "_local_addresses", "_peer_addresses")

    def __init__(self, endpoint: KernelEndpoint, up: AssociationUp) -> None:
        super().__init__(
            endpoint.loop,
            endpoint.config,
            up.association_id,
            up.outbound_streams,
            up.inbound_streams,
            logger,
            endpoint.association_lost,
        )
        self._endpoint = endpoint
        # Its socket's reads and writes, held here too: sending goes straight to it.
        self._io = endpoint.io
        self._peer_addresses = self._query_addresses(sockapi.get_peer_addresses)
        self._local_addresses = self._query_addresses(sockapi.get_local_addresses)

    def __repr__(self) -> str:
        return f"<KernelAssociationTransport id={self._assoc_id} peer={self._peer_addresses}>"

    def _query_addresses(
        self, query: Callable[[socket.socket, int], list[SockAddr]]
    ) -> list[SockAddr]:
        try:
            return query(self._endpoint.socket, self._assoc_id)
        except OSError:
            return []

    def moved_to(self, endpoint: KernelEndpoint) -> None:
        """The association now lives on ``endpoint``'s socket (it was peeled off)."""
        self._endpoint = endpoint
        self._io = endpoint.io

    # --- queries -----------------------------------------------------------------------------

    def local_addresses(self) -> list[SockAddr]:
        if not self._ended_called:
            self._local_addresses = self._query_addresses(sockapi.get_local_addresses) or (
                self._local_addresses
            )
        return list(self._local_addresses)

    def peer_addresses(self) -> list[SockAddr]:
        if not self._ended_called:
            self._peer_addresses = self._query_addresses(sockapi.get_peer_addresses) or (
                self._peer_addresses
            )
        return list(self._peer_addresses)

    def paths(self) -> list[PathInfo]:
        if self._ended_called:
            return []
        sock = self._endpoint.socket
        try:
            primary = sockapi.get_primary_address(sock, self._assoc_id)
        except OSError:
            primary = None
        result = []
        for address in self.peer_addresses():
            try:
                info = sockapi.get_peer_address_info(sock, self._assoc_id, address)
            except OSError:
                continue
            result.append(
                PathInfo(
                    address=address,
                    state=info.state,
                    srtt=info.srtt if info.srtt > 0 else None,
                    rto=info.rto,
                    cwnd=info.cwnd,
                    mtu=info.mtu,
                    primary=address == primary,
                )
            )
        return result

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self._endpoint.socket
        return super().get_extra_info(name, default)

    # --- the hooks ---------------------------------------------------------------------------

    def _transmit(
        self,
        payload: bytes,
        stream: int,
        ppid: int,
        unordered: bool,
        to: SockAddr | None,
        ttl: float | None,
    ) -> None:
        io = self._io
        io.fit_send_buffer(len(payload))
        flags = sockapi.SCTP_UNORDERED if unordered else 0
        if to is None and ttl is None:
            io.send_message(self, payload, stream, ppid, flags)
            return
        ttl_ms = None if ttl is None else sockapi.milliseconds(ttl)
        io.write(Outgoing(self, payload, stream, ppid, flags, to, ttl_ms))

    def _start_shutdown(self) -> None:
        self._io.write(Outgoing(self, b"", 0, 0, sockapi.SCTP_EOF))

    def _send_abort(self) -> None:
        self._io.abort_association(self)

    def _take_unsent(self) -> list[Unsent]:
        return [
            (item.data, item.stream, item.ppid, False)
            for item in self._io.take_queued(self)
            if item.data
        ]

    def _set_input_blocked(self, blocked: bool) -> None:
        self._endpoint.block_reading(self._assoc_id, blocked)

    def _release(self) -> None:
        self._endpoint.forget(self)

    # --- kernel-only operations ----------------------------------------------------------------

    def set_primary(self, address: SockAddr) -> None:
        """Send to the peer's ``address`` by default from now on (RFC 9260 section 6.4)."""
        peer = peer_address(address, self.peer_addresses())
        sockapi.set_primary_address(self._endpoint.socket, self._assoc_id, peer)

    def add_local_address(self, address: SockAddr) -> None:
        """Start using one more local address (RFC 5061 section 4.2.1; Linux needs
        net.sctp.addip_enable=1 on both sides). On a server's one-to-many socket the address
        joins the endpoint, and so every association on it; an association peeled off onto
        a socket of its own (see :mod:`sctpmh.kernel.peeloff`) changes only its own."""
        sockapi.add_local_address(self._endpoint.socket, self._local_endpoint(address))

    def remove_local_address(self, address: SockAddr) -> None:
        """Stop using one local address (RFC 5061 section 4.2.2); as for adding, it concerns
        the whole endpoint on a server."""
        sockapi.remove_local_address(self._endpoint.socket, self._local_endpoint(address))

    def _local_endpoint(self, address: SockAddr) -> SockAddr:
        endpoint = plain_address(address)
        port = self._endpoint.socket.getsockname()[1]
        if endpoint.port not in (0, port):
            raise AddressError(
                f"{address!r} has port {endpoint.port}, but this endpoint's port is {port}; "
                "an SCTP endpoint has one port for all its addresses",
                address,
            )
        return (endpoint.host, port)

    def request_peer_primary(self, address: SockAddr) -> None:
        """Ask the peer to send to our ``address`` by default (RFC 5061 section 4.2.4)."""
        sockapi.request_peer_primary(self._endpoint.socket, self._assoc_id, address)

    def send_failed(self, exc: OSError, item: Outgoing) -> None:
        """The kernel refused ``item`` (the socket's write path reports it here)."""
        if item.data:
            self._deliver_event(
                SendFailed(item.data, item.stream, item.ppid, exc.errno or errno.EIO, False)
            )
        reason = AssociationAbortedError(f"sending failed: {exc.strerror or exc}")
        reason.__cause__ = exc
        if exc.errno in _GONE_ERRNOS:
            # The kernel already knows the association is gone (the peer's ABORT, or it was
            # lost), and its notification saying why (SCTP_ASSOC_CHANGE with the abort
            # cause, RFC 6458 section 6.1.1) waits in the receive queue: the association
            # ends by that, as it would have without this send. Until then sends raise;
            # should the notification not come, the errno ends it.
            if self._exception is None and not self._ended_called:
                self._closing = True
                self._exception = reason
                self._loop.call_later(_END_NOTICE_WAIT, self._abort, reason)
            return
        self._abort(reason)

    def fail(self, reason: Exception) -> None:
        """End the association because of ``reason``, aborting it toward the peer."""
        self._abort(reason)

    def ended(self, exc: Exception | None) -> None:
        """The kernel ended the association (shutdown complete, ABORT, lost, socket gone)."""
        self._ended(exc)

    def ending(self) -> None:
        """The kernel announced the end; it takes effect once the socket is read dry."""
        self._closing = True
