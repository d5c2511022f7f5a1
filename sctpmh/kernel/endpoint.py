"""Kernel SCTP sockets driven by asyncio's ``add_reader`` / ``add_writer``.

A :class:`KernelEndpoint` owns one SCTP socket and works the same on the default loop and on
uvloop, because it only ever asks the loop for readiness callbacks (handing SCTP sockets to
uvloop's own transports does not work, uvloop issue 467).

Socket styles (RFC 6458 sections 3 and 4):

- a server uses one one-to-many socket (SOCK_SEQPACKET) bound to all its addresses; messages
  and notifications carry an association id and are demultiplexed here into one
  :class:`KernelAssociationTransport` per association;
- a client uses one one-to-one socket (SOCK_STREAM) per association, so each association has
  its own kernel buffers and flow control, and closing it is closing the fd;
- a server association whose application stops consuming is peeled off (RFC 6458 section
  9.2) onto a socket of its own before reading stops, so that only its socket stops being
  read and the shared socket goes on serving the other associations.

The I/O callbacks follow asyncio's ``_SelectorTransport`` ladder: EAGAIN returns, SystemExit
and KeyboardInterrupt propagate, any other exception is fatal to what it concerns.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
import socket
import struct
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..config import Config
from ..errors import (
    AddressError,
    AssociationAbortedError,
    AssociationClosedError,
    AssociationLostError,
    MessageTooLargeError,
)
from ..events import AssociationUp, Event, PathInfo, SendFailed, received_message
from ..seam import TransportCallback
from ..transport import BaseTransport, Unsent
from ..validation import peer_address, plain_address
from . import sockapi
from .sockapi import AssociationEnded, SockAddr

__all__ = ["KernelAssociationTransport", "KernelEndpoint"]

logger = logging.getLogger("sctpmh.kernel")

#: The most messages one readiness callback reads before yielding to other callbacks.
_READS_PER_CALLBACK: Final = 64
#: Callbacks in a row that read their whole batch without emptying the socket before the
#: batch doubles (see ``_on_readable``).
_FULL_BATCHES_TO_GROW: Final = 4
#: Size of one read; larger messages arrive in pieces and are joined (MSG_EOR ends one).
_READ_CHUNK: Final = 256 * 1024
#: Errors with which a send finds the association already gone: the peer aborted it, or it
#: was lost (see ``KernelAssociationTransport.send_failed``).
_GONE_ERRNOS: Final = frozenset({errno.EPIPE, errno.ECONNRESET})
#: How long such a send waits for the kernel's notification of why the association ended.
_END_NOTICE_WAIT: Final = 1.0
#: Source addresses remembered in their converted form (cleared when full).
_SOURCE_CACHE_SIZE: Final = 1024
#: Linux's SO_SNDBUFFORCE (asm-generic/socket.h), which the socket module does not export.
_SO_SNDBUFFORCE: Final = 32


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


_thread_state = threading.local()


def _read_buffer() -> memoryview:
    """The receive buffer of this thread's endpoints. One is enough: a read's bytes are
    copied out before the next read, and a thread runs one callback at a time. A buffer per
    endpoint would cost every client association its own _READ_CHUNK."""
    view: memoryview | None = getattr(_thread_state, "view", None)
    if view is None:
        view = _thread_state.view = memoryview(bytearray(_READ_CHUNK))
    return view


@dataclass(slots=True)
class _Outgoing:
    """One queued send: a whole message, or a control request (EOF / ABORT) with no data."""

    transport: KernelAssociationTransport
    data: bytes
    stream: int
    ppid: int
    flags: int
    to: SockAddr | None = None
    ttl_ms: int | None = None


class KernelEndpoint:
    """One SCTP socket on an event loop, and the associations that live on it."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        config: Config,
        *,
        one_to_many: bool,
        on_association: TransportCallback | None = None,
        on_association_lost: TransportCallback | None = None,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._config = config
        self._one_to_many = one_to_many
        self._on_association = on_association
        self._on_association_lost = on_association_lost
        self._transports: dict[int, KernelAssociationTransport] = {}
        self._write_queue: collections.deque[_Outgoing] = collections.deque()
        self._writing = False
        self._reading = False
        self._read_blockers: set[int] = set()
        self._view = _read_buffer()
        self._read_batch = 1
        self._full_batches = 0
        self._pieces: list[bytes] = []
        self._pieces_size = 0
        self._skipping_oversize = False
        self._pieces_assoc = 0  # the association whose message the pieces belong to
        # recvmsg's source address -> the (host, port) users see; converting costs more than
        # the rest of a small message's receive path, and a peer has only a few addresses.
        self._sources: dict[Any, SockAddr] = {}
        self._notification_pieces: list[bytes] = []
        self._connect_waiter: asyncio.Future[KernelAssociationTransport] | None = None
        self._closed = False
        self._ending: dict[KernelAssociationTransport, Exception | None] = {}
        self._send_buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        # A one-to-many endpoint's associations peeled off onto sockets of their own (see
        # block_reading); each such endpoint knows where it came from.
        self._peeled_off: set[KernelEndpoint] = set()
        self._peeled_from: KernelEndpoint | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def socket(self) -> socket.socket:
        return self._sock

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def config(self) -> Config:
        return self._config

    def start(self) -> None:
        """Begin reading. Call once, after the socket is bound (and listening or connecting)."""
        self._update_reading()

    def expect_association(self) -> asyncio.Future[KernelAssociationTransport]:
        """A future for the first association to come up (one-to-one connect)."""
        self._connect_waiter = self._loop.create_future()
        return self._connect_waiter

    def stop_accepting(self) -> None:
        """Refuse new associations; live ones go on (a backlog of 0 stops a one-to-many
        socket from listening, RFC 6458 section 3.1.3)."""
        if not self._closed:
            self._sock.listen(0)

    def local_addresses(self) -> list[SockAddr]:
        """Every address the socket is bound to."""
        if self._closed:
            return []
        try:
            return sockapi.get_local_addresses(self._sock, 0)
        except OSError:
            return []

    def close(self) -> None:
        """Close the socket at once; associations still on it are aborted by the kernel."""
        if self._closed:
            return
        self._closed = True
        for peeled in list(self._peeled_off):
            peeled.close()
        if self._peeled_from is not None:
            self._peeled_from._peeled_off.discard(self)
        self._update_reading()
        self._set_writing(False)
        self._finish_endings()
        for transport in list(self._transports.values()):
            transport.ended(AssociationAbortedError("the socket was closed"))
        self._transports.clear()
        self._fail_connect(AssociationClosedError("the socket was closed"))
        self._sock.close()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if not self._closed and self._sock.fileno() != -1:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self._sock.close()

    # --- reading -----------------------------------------------------------------------------

    def _update_reading(self) -> None:
        want = not self._closed and not self._read_blockers
        if want and not self._reading:
            self._loop.add_reader(self._sock.fileno(), self._on_readable)
        elif not want and self._reading and self._sock.fileno() != -1:
            self._loop.remove_reader(self._sock.fileno())
        self._reading = want

    def block_reading(self, assoc_id: int, blocked: bool) -> None:
        """Stop (or restart) reading the socket on behalf of one association.

        On a one-to-many socket the association is first peeled off onto a socket of its own,
        and only that one stops being read; where Linux refuses (see :meth:`_peel_off`), the
        shared socket stops being read, holding back every association on it.
        """
        if blocked:
            if self._one_to_many and not self._closed:
                transport = self._transports.get(assoc_id)
                if transport is not None and self._peel_off(transport) is not None:
                    return
            self._read_blockers.add(assoc_id)
        else:
            self._read_blockers.discard(assoc_id)
        self._update_reading()

    def _peel_off(self, transport: KernelAssociationTransport) -> KernelEndpoint | None:
        """Move ``transport`` and its association to an endpoint on a socket of their own
        (RFC 6458 section 9.2); None, and nothing changed, when the kernel refuses."""
        if transport in self._ending:
            # Its end is already read: it goes once the socket is read dry.
            return None
        assoc_id = transport.association_id
        try:
            sock = sockapi.peel_off(self._sock, assoc_id)
        except OSError as exc:
            # EINVAL when this thread is not in the socket's network namespace (Linux does
            # not peel off across namespaces) or the association is going away.
            logger.warning(
                "association %d could not be peeled off (%s); reading the shared socket "
                "stops until it resumes",
                assoc_id,
                exc.strerror or exc,
            )
            return None
        peeled = KernelEndpoint(
            self._loop,
            sock,
            self._config,
            one_to_many=False,
            on_association_lost=self._on_association_lost,
        )
        peeled._peeled_from = self
        self._peeled_off.add(peeled)
        del self._transports[assoc_id]
        peeled._transports[assoc_id] = transport
        transport.moved_to(peeled)
        # What the kernel has not been handed yet follows the association, in order, behind
        # what it has (the association took its own send queue along).
        kept: collections.deque[_Outgoing] = collections.deque()
        for item in self._write_queue:
            (peeled._write_queue if item.transport is transport else kept).append(item)
        self._write_queue = kept
        if not kept:
            self._set_writing(False)
        if peeled._write_queue:
            peeled._set_writing(True)
        if self._pieces_assoc == assoc_id and (self._pieces or self._skipping_oversize):
            # A message read in part: the kernel moved the rest of its partial delivery to
            # the new socket (its pd_lobby), so the pieces read so far go there too.
            peeled._pieces, self._pieces = self._pieces, []
            peeled._pieces_size, self._pieces_size = self._pieces_size, 0
            peeled._skipping_oversize, self._skipping_oversize = self._skipping_oversize, False
            peeled._pieces_assoc = assoc_id
        self._read_blockers.discard(assoc_id)
        peeled._read_blockers.add(assoc_id)
        peeled.start()
        self._update_reading()
        return peeled

    def _on_readable(self) -> None:
        # How many reads per callback adapts to the traffic. Request-response traffic leaves
        # one message per wakeup, and a second read would only find the socket empty (a
        # system call and an exception per message); a stream of messages fills the socket
        # faster than one read per wakeup drains it. So the batch shrinks to what the last
        # emptying read found, and doubles after a few callbacks that never emptied it.
        batch = self._read_batch
        for count in range(batch):
            if not self._reading:
                # Paused (or closed): what is still unread stays in the kernel, and the
                # associations known to be over end now rather than wait for a read.
                self._finish_endings()
                return
            try:
                nbytes, ancdata, flags, source = self._sock.recvmsg_into(
                    [self._view], sockapi.RCVINFO_SPACE
                )
            except (BlockingIOError, InterruptedError):
                self._read_batch = count or 1
                self._full_batches = 0
                self._finish_endings()
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except OSError as exc:
                self._finish_endings()
                self._socket_error(exc)
                return
            except BaseException as exc:
                self._fatal_error(exc, "fatal error reading an SCTP socket")
                return
            if flags & sockapi.MSG_NOTIFICATION:
                self._notification_piece(nbytes, flags)
            elif nbytes == 0 and not ancdata and not self._one_to_many:
                # One-to-one: end of file once the association has shut down.
                self._eof()
                return
            else:
                self._data_piece(nbytes, flags, ancdata, source)
        self._full_batches += 1
        if self._full_batches >= _FULL_BATCHES_TO_GROW and batch < _READS_PER_CALLBACK:
            self._read_batch = min(2 * batch, _READS_PER_CALLBACK)
            self._full_batches = 0
        if self._ending:
            # The batch ended with associations waiting to end: they end at the read that
            # finds the socket empty, and with level-triggered polling nothing else would
            # call back if this batch happened to empty it.
            self._loop.call_soon(self._on_readable)

    def _data_piece(
        self,
        nbytes: int,
        flags: int,
        ancdata: list[tuple[int, int, bytes]],
        source: Any = None,
    ) -> None:
        info = sockapi.parse_rcvinfo(ancdata)
        limit = self._config.max_message_size
        if (
            flags & sockapi.MSG_EOR
            and info is not None
            and not self._pieces
            and not self._skipping_oversize
            and nbytes <= limit
        ):
            # The common case, kept short: a whole message in one read.
            self._deliver(info, bytes(self._view[:nbytes]), source)
            return
        assoc_id = info.assoc_id if info is not None else 0
        if assoc_id != self._pieces_assoc and (self._pieces or self._skipping_oversize):
            # Partial delivery never interleaves associations, so the previous one's message
            # was abandoned part-way (that association was aborted): drop what came of it.
            self._pieces = []
            self._pieces_size = 0
            self._skipping_oversize = False
        self._pieces_assoc = assoc_id
        if not self._skipping_oversize:
            self._pieces.append(bytes(self._view[:nbytes]))
            self._pieces_size += nbytes
            if self._pieces_size > limit:
                self._skipping_oversize = True
                self._pieces.clear()
                transport = self._transport_for(info.assoc_id if info else 0)
                if transport is not None:
                    transport.fail(
                        MessageTooLargeError(
                            f"the peer sent a message larger than max_message_size ({limit} "
                            "bytes); the association was aborted",
                            self._pieces_size,
                            limit,
                        )
                    )
        if not flags & sockapi.MSG_EOR:
            return
        data = self._pieces[0] if len(self._pieces) == 1 else b"".join(self._pieces)
        skipped = self._skipping_oversize
        self._pieces = []
        self._pieces_size = 0
        self._skipping_oversize = False
        if skipped or info is None:
            return
        self._deliver(info, data, source)

    def _deliver(self, info: sockapi.RecvInfo, data: bytes, source: Any) -> None:
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
        """``source`` as users see it, remembered (the cache lookup is in ``_deliver``)."""
        if len(self._sources) >= _SOURCE_CACHE_SIZE:
            self._sources.clear()
        plain = self._sources[source] = sockapi.plain_address(source)
        return plain

    def _notification_piece(self, nbytes: int, flags: int) -> None:
        self._notification_pieces.append(bytes(self._view[:nbytes]))
        if not flags & sockapi.MSG_EOR:
            return
        data = b"".join(self._notification_pieces)
        self._notification_pieces = []
        try:
            notification = sockapi.decode_notification(data)
        except (ValueError, struct.error):
            logger.exception("undecodable SCTP notification dropped")
            return
        if notification is None:
            return
        self._dispatch(notification.assoc_id, notification.event)

    def _dispatch(self, assoc_id: int, event: Event) -> None:
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

    def association_lost(self, transport: BaseTransport) -> None:
        """``transport``'s association has ended and its protocol has been told."""
        if self._on_association_lost is not None:
            self._on_association_lost(transport)

    def _transport_for(self, assoc_id: int) -> KernelAssociationTransport | None:
        if not self._one_to_many:
            # One association per socket: ids in ancillary data need not be consulted.
            return next(iter(self._transports.values()), None)
        return self._transports.get(assoc_id)

    def _finish_endings(self) -> None:
        """End the transports whose end the kernel announced (see ``_dispatch``)."""
        while self._ending:
            transport, exc = self._ending.popitem()
            transport.ended(exc)

    def _eof(self) -> None:
        self._finish_endings()
        for transport in list(self._transports.values()):
            transport.ended(None)
        self._update_reading()

    def _socket_error(self, exc: OSError) -> None:
        if self._one_to_many:
            logger.warning("error on a one-to-many SCTP socket ignored: %s", exc)
            return
        error = AssociationAbortedError(f"the association failed: {exc.strerror or exc}")
        error.__cause__ = exc
        self._fail_connect(error)
        for transport in list(self._transports.values()):
            transport.ended(error)
        self.close()  # a one-to-one socket holds nothing more after its association failed

    def _fail_connect(self, exc: Exception) -> None:
        waiter = self._connect_waiter
        self._connect_waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        self._loop.call_exception_handler(
            {"message": message, "exception": exc, "socket": self._sock}
        )
        self.close()

    def forget(self, transport: KernelAssociationTransport) -> None:
        """``transport``'s association is over: stop reading for it (a one-to-one socket,
        which held only it, closes)."""
        self._transports.pop(transport.association_id, None)
        self._read_blockers.discard(transport.association_id)
        self._update_reading()
        if not self._one_to_many:
            self.close()

    # --- writing -----------------------------------------------------------------------------

    def _set_writing(self, want: bool) -> None:
        if want and not self._writing and not self._closed:
            self._loop.add_writer(self._sock.fileno(), self._on_writable)
            self._writing = True
        elif not want and self._writing:
            if self._sock.fileno() != -1:
                self._loop.remove_writer(self._sock.fileno())
            self._writing = False

    def fit_send_buffer(self, size: int) -> None:
        """Make room for a message of ``size`` bytes: Linux refuses a message larger than
        the socket's send buffer (EMSGSIZE). Grows the buffer unless ``Config.send_buffer_size``
        fixes it; raises MessageTooLargeError when the kernel will not take the message."""
        if size <= self._send_buffer:
            return
        if self._config.send_buffer_size is None and not self._closed:
            # SO_SNDBUFFORCE passes net.core.wmem_max but needs CAP_NET_ADMIN.
            for option in (_SO_SNDBUFFORCE, socket.SO_SNDBUF):
                try:
                    self._sock.setsockopt(socket.SOL_SOCKET, option, size)
                except OSError:
                    continue
                break
            self._send_buffer = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            if size <= self._send_buffer:
                return
        raise MessageTooLargeError(
            f"message of {size} bytes is larger than the socket's send buffer "
            f"({self._send_buffer} bytes), the largest message Linux sends; raise "
            "Config.send_buffer_size, or net.core.wmem_max so that sctpmh can grow it",
            size,
            self._send_buffer,
        )

    def send_message(
        self, transport: KernelAssociationTransport, data: bytes, stream: int, ppid: int, flags: int
    ) -> None:
        """Send one message with no per-message options: :meth:`write` without building the
        queue entry unless the message has to wait (the common case, kept short)."""
        if self._write_queue:
            self.write(_Outgoing(transport, data, stream, ppid, flags))
            return
        try:
            self._sock.sendmsg(
                [data],
                [
                    sockapi.sndinfo_cmsg(
                        stream, ppid, flags, transport.association_id if self._one_to_many else 0
                    )
                ],
            )
        except (BlockingIOError, InterruptedError):
            self.write(_Outgoing(transport, data, stream, ppid, flags))
        except OSError as exc:
            transport.send_failed(exc, _Outgoing(transport, data, stream, ppid, flags))

    def write(self, item: _Outgoing) -> None:
        """Send now if nothing waits before it, else queue it behind the others."""
        if not self._write_queue:
            try:
                self._send(item)
                return
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as exc:
                item.transport.send_failed(exc, item)
                return
        self._write_queue.append(item)
        item.transport._queued(len(item.data))
        self._set_writing(True)

    def _send(self, item: _Outgoing) -> None:
        transport = item.transport
        if item.flags & sockapi.SCTP_EOF and not self._one_to_many and self._peeled_from is None:
            # One-to-one sockets take no SCTP_EOF; shutdown() starts the same SHUTDOWN. A
            # peeled-off socket is the other way round: Linux ignores its shutdown().
            self._sock.shutdown(socket.SHUT_WR)
            return
        sockapi.send_message(
            self._sock,
            item.data,
            stream=item.stream,
            ppid=item.ppid,
            flags=item.flags,
            assoc_id=transport.association_id if self._one_to_many else 0,
            to=item.to,
            ttl_ms=item.ttl_ms,
        )

    def _on_writable(self) -> None:
        while self._write_queue:
            item = self._write_queue[0]
            try:
                self._send(item)
            except (BlockingIOError, InterruptedError):
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except OSError as exc:
                self._write_queue.popleft()
                item.transport._dequeued(len(item.data))
                item.transport.send_failed(exc, item)
                continue
            except BaseException as exc:
                self._fatal_error(exc, "fatal error writing an SCTP socket")
                return
            self._write_queue.popleft()
            item.transport._dequeued(len(item.data))
        self._set_writing(False)

    def drop_queued(self, transport: KernelAssociationTransport) -> list[_Outgoing]:
        """Remove and return everything still queued for ``transport``."""
        kept: collections.deque[_Outgoing] = collections.deque()
        dropped: list[_Outgoing] = []
        for item in self._write_queue:
            (dropped if item.transport is transport else kept).append(item)
        self._write_queue = kept
        if not kept:
            self._set_writing(False)
        return dropped

    def abort_association(self, transport: KernelAssociationTransport) -> None:
        """Send ABORT for one association (RFC 9260 section 9.1), bypassing the queue."""
        if self._closed:
            return
        if not self._one_to_many:
            # SO_LINGER with a zero timeout makes close() send ABORT instead of SHUTDOWN.
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        try:
            sockapi.send_message(
                self._sock,
                b"",
                stream=0,
                ppid=0,
                flags=sockapi.SCTP_ABORT,
                assoc_id=transport.association_id,
            )
        except OSError as exc:
            logger.debug("abort of association %d: %s", transport.association_id, exc)


class KernelAssociationTransport(BaseTransport):
    """One association on a kernel SCTP socket: the kernel-specific hooks of
    :class:`~sctpmh.transport.BaseTransport`."""

    BACKEND = "kernel"

    __slots__ = ("_endpoint", "_local_addresses", "_peer_addresses")

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
        endpoint = self._endpoint
        endpoint.fit_send_buffer(len(payload))
        flags = sockapi.SCTP_UNORDERED if unordered else 0
        if to is None and ttl is None:
            endpoint.send_message(self, payload, stream, ppid, flags)
            return
        ttl_ms = None if ttl is None else sockapi.milliseconds(ttl)
        endpoint.write(_Outgoing(self, payload, stream, ppid, flags, to, ttl_ms))

    def _start_shutdown(self) -> None:
        self._endpoint.write(_Outgoing(self, b"", 0, 0, sockapi.SCTP_EOF))

    def _send_abort(self) -> None:
        self._endpoint.abort_association(self)

    def _take_unsent(self) -> list[Unsent]:
        return [
            (item.data, item.stream, item.ppid, False)
            for item in self._endpoint.drop_queued(self)
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
        a socket of its own (see ``KernelEndpoint.block_reading``) changes only its own."""
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

    def send_failed(self, exc: OSError, item: _Outgoing) -> None:
        """The kernel refused ``item`` (the endpoint's write path reports it here)."""
        if item.data:
            self._deliver_event(SendFailed(item.data, item.stream, item.ppid, 0, False))
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
