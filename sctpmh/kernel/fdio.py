"""Driving one kernel SCTP socket on the event loop: readiness callbacks, reads and writes.

A :class:`SocketIO` works the same on the default loop and on uvloop, because it only ever
asks the loop for readiness callbacks (handing SCTP sockets to uvloop's own transports does
not work, uvloop issue 467). It knows messages and notifications, not associations:

- reading: the adaptive read batch, joining the pieces of a message larger than one read
  (MSG_EOR marks the last, RFC 6458 section 3.1.4) into one :class:`PartialMessage`, and of a
  notification; whole ones go to the socket's owner (a :class:`SocketOwner`, the endpoint),
  which knows which association each belongs to;
- writing: one write queue of :class:`Outgoing` items in order, sent directly while nothing
  waits (SCTP sends a message whole or not at all: a partial send cannot happen), the rest
  when the socket is writable; the send buffer grown to fit a message.

The I/O callbacks follow asyncio's ``_SelectorTransport`` ladder: EAGAIN returns, SystemExit
and KeyboardInterrupt propagate, any other exception is fatal to what it concerns.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import struct
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..config import Config
from ..errors import MessageTooLargeError
from ..events import Event
from . import sockapi
from .sockapi import SockAddr

if TYPE_CHECKING:
    from .transport import KernelAssociationTransport

__all__ = ["Outgoing", "PartialMessage", "SocketIO", "SocketOwner"]

logger = logging.getLogger("sctpmh.kernel")

#: The most messages one readiness callback reads before yielding to other callbacks.
_READS_PER_CALLBACK: Final = 64
#: Callbacks in a row that read their whole batch without emptying the socket before the
#: batch doubles (see ``_on_readable``).
_FULL_BATCHES_TO_GROW: Final = 4
#: Size of one read; larger messages arrive in pieces and are joined (MSG_EOR ends one).
_READ_CHUNK: Final = 256 * 1024
#: Linux's SO_SNDBUFFORCE (asm-generic/socket.h), which the socket module does not export.
_SO_SNDBUFFORCE: Final = 32

_thread_state = threading.local()


def _read_buffer() -> memoryview:
    """The receive buffer of this thread's sockets. One is enough: a read's bytes are
    copied out before the next read, and a thread runs one callback at a time. A buffer per
    socket would cost every client association its own _READ_CHUNK."""
    view: memoryview | None = getattr(_thread_state, "view", None)
    if view is None:
        view = _thread_state.view = memoryview(bytearray(_READ_CHUNK))
    return view


@dataclass(slots=True)
class Outgoing:
    """One queued send: a whole message, or a control request (EOF / ABORT) with no data."""

    transport: KernelAssociationTransport
    data: bytes
    stream: int
    ppid: int
    flags: int
    to: SockAddr | None = None
    ttl_ms: int | None = None


class PartialMessage:
    """The pieces of one association's message read so far, until the piece with MSG_EOR.

    Linux delivers a message larger than one read (or than the partial delivery point) in
    pieces, and never interleaves another association's pieces with them. Once the pieces
    exceed ``Config.max_message_size`` they are dropped, and so is the rest of the message.
    It is an object of its own so that it can follow its association onto another socket
    (see :mod:`sctpmh.kernel.peeloff`)."""

    __slots__ = ("assoc_id", "oversize", "pieces", "size")

    def __init__(self, assoc_id: int) -> None:
        self.assoc_id = assoc_id
        self.pieces: list[bytes] = []
        #: Bytes in the pieces (kept when they are dropped: the size the peer exceeded).
        self.size = 0
        #: Over the limit: what is left of the message is read and dropped.
        self.oversize = False

    def add(self, piece: bytes, limit: int) -> bool:
        """Keep ``piece``; False, and the pieces dropped, once they add up to over ``limit``."""
        self.pieces.append(piece)
        self.size += len(piece)
        if self.size > limit:
            self.oversize = True
            self.pieces.clear()
            return False
        return True

    def join(self) -> bytes:
        """The whole message."""
        pieces = self.pieces
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


class SocketOwner(Protocol):
    """What a :class:`SocketIO` hands what it reads to (the endpoint owning the socket)."""

    def deliver(self, info: sockapi.RecvInfo, data: bytes, source: Any) -> None:
        """A whole message arrived (``source``: the address recvmsg gave)."""

    def notification(self, assoc_id: int, event: Event) -> None:
        """A whole notification arrived, decoded."""

    def message_too_large(self, assoc_id: int, size: int, limit: int) -> None:
        """The peer sent a message of more than ``limit`` bytes; it is being dropped."""

    def read_dry(self) -> None:
        """Reading stopped after :meth:`SocketIO.notify_read_dry`: the socket was read dry,
        or reading paused or failed."""

    def end_of_file(self) -> None:
        """A one-to-one socket's association has shut down."""

    def socket_error(self, exc: OSError) -> None:
        """Reading the socket failed."""

    def close(self) -> None:
        """Something fatal happened (already reported to the loop): close everything."""


class _Detached:
    """The owner of a closed :class:`SocketIO`: a callback still scheduled goes nowhere,
    and the owner is not kept alive by the socket it closed."""

    def deliver(self, info: sockapi.RecvInfo, data: bytes, source: Any) -> None:
        pass

    def notification(self, assoc_id: int, event: Event) -> None:
        pass

    def message_too_large(self, assoc_id: int, size: int, limit: int) -> None:
        pass

    def read_dry(self) -> None:
        pass

    def end_of_file(self) -> None:
        pass

    def socket_error(self, exc: OSError) -> None:
        pass

    def close(self) -> None:
        pass


_DETACHED: Final = _Detached()


class SocketIO:
    """One SCTP socket's reads and writes on an event loop. Its owner closes the socket."""

    __slots__ = (
        "_closed",
        "_deliver",
        "_dry_wanted",
        "_eof_by_shutdown",
        "_full_batches",
        "_loop",
        "_max_message_size",
        "_notification_pieces",
        "_one_to_many",
        "_owner",
        "_partial",
        "_read_batch",
        "_read_blockers",
        "_reading",
        "_send_buffer",
        "_send_buffer_fixed",
        "_sock",
        "_view",
        "_write_queue",
        "_writing",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        config: Config,
        owner: SocketOwner,
        *,
        one_to_many: bool,
        peeled_off: bool = False,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._owner = owner
        # The per-message entry, looked up once.
        self._deliver = owner.deliver
        self._one_to_many = one_to_many
        # One-to-one sockets take no SCTP_EOF; shutdown() starts the same SHUTDOWN. A
        # peeled-off socket is the other way round: Linux ignores its shutdown().
        self._eof_by_shutdown = not one_to_many and not peeled_off
        self._max_message_size = config.max_message_size
        self._send_buffer_fixed = config.send_buffer_size is not None
        self._closed = False
        self._reading = False
        self._read_blockers: set[int] = set()
        self._dry_wanted = False
        self._view = _read_buffer()
        self._read_batch = 1
        self._full_batches = 0
        self._partial: PartialMessage | None = None
        self._notification_pieces: list[bytes] = []
        self._write_queue: collections.deque[Outgoing] = collections.deque()
        self._writing = False
        self._send_buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)

    @property
    def socket(self) -> socket.socket:
        return self._sock

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop reading and writing for good; nothing more is handed to the owner."""
        if self._closed:
            return
        self._closed = True
        self.update_reading()
        self._set_writing(False)
        self._dry_wanted = False
        self._owner = _DETACHED
        self._deliver = _DETACHED.deliver

    # --- reading -----------------------------------------------------------------------------

    def update_reading(self) -> None:
        """Read while open and nothing holds reading (see :meth:`hold_reading`)."""
        want = not self._closed and not self._read_blockers
        if want and not self._reading:
            self._loop.add_reader(self._sock.fileno(), self._on_readable)
        elif not want and self._reading and self._sock.fileno() != -1:
            self._loop.remove_reader(self._sock.fileno())
        self._reading = want

    def hold_reading(self, assoc_id: int, held: bool) -> None:
        """Stop (or restart) reading the socket on behalf of association ``assoc_id``."""
        if held:
            self._read_blockers.add(assoc_id)
        else:
            self._read_blockers.discard(assoc_id)
        self.update_reading()

    def notify_read_dry(self, wanted: bool) -> None:
        """Whether the owner waits for :meth:`SocketOwner.read_dry`: the next time reading
        stops (the socket read dry, or reading paused or failed)."""
        self._dry_wanted = wanted

    def take_partial(self, assoc_id: int) -> PartialMessage | None:
        """Remove and return the message of ``assoc_id`` read in part, if there is one."""
        partial = self._partial
        if partial is None or partial.assoc_id != assoc_id:
            return None
        self._partial = None
        return partial

    def resume_partial(self, partial: PartialMessage) -> None:
        """Go on reading ``partial`` here (its association moved onto this socket)."""
        self._partial = partial

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
                if self._dry_wanted:
                    self._owner.read_dry()
                return
            try:
                nbytes, ancdata, flags, source = self._sock.recvmsg_into(
                    [self._view], sockapi.RCVINFO_SPACE
                )
            except (BlockingIOError, InterruptedError):
                self._read_batch = count or 1
                self._full_batches = 0
                if self._dry_wanted:
                    self._owner.read_dry()
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except OSError as exc:
                owner = self._owner
                if self._dry_wanted:
                    owner.read_dry()
                owner.socket_error(exc)
                return
            except BaseException as exc:
                self._fatal_error(exc, "fatal error reading an SCTP socket")
                return
            if flags & sockapi.MSG_NOTIFICATION:
                self._notification_piece(nbytes, flags)
            elif nbytes == 0 and not ancdata and not self._one_to_many:
                # One-to-one: end of file once the association has shut down.
                self._owner.end_of_file()
                return
            else:
                self._data_piece(nbytes, flags, ancdata, source)
        self._full_batches += 1
        if self._full_batches >= _FULL_BATCHES_TO_GROW and batch < _READS_PER_CALLBACK:
            self._read_batch = min(2 * batch, _READS_PER_CALLBACK)
            self._full_batches = 0
        if self._dry_wanted:
            # The batch ended with associations waiting to end (the owner waits for the
            # socket to be read dry): they end at the read that finds the socket empty, and
            # with level-triggered polling nothing else would call back if this batch
            # happened to empty it.
            self._loop.call_soon(self._on_readable)

    def _data_piece(
        self,
        nbytes: int,
        flags: int,
        ancdata: list[tuple[int, int, bytes]],
        source: Any = None,
    ) -> None:
        info = sockapi.parse_rcvinfo(ancdata)
        limit = self._max_message_size
        partial = self._partial
        if flags & sockapi.MSG_EOR and info is not None and partial is None and nbytes <= limit:
            # The common case, kept short: a whole message in one read.
            self._deliver(info, bytes(self._view[:nbytes]), source)
            return
        assoc_id = info.assoc_id if info is not None else 0
        if partial is None or partial.assoc_id != assoc_id:
            # Partial delivery never interleaves associations, so the previous one's message
            # was abandoned part-way (that association was aborted): drop what came of it.
            partial = self._partial = PartialMessage(assoc_id)
        if not partial.oversize and not partial.add(bytes(self._view[:nbytes]), limit):
            self._owner.message_too_large(assoc_id, partial.size, limit)
        if not flags & sockapi.MSG_EOR:
            return
        self._partial = None
        if partial.oversize or info is None:
            return
        self._deliver(info, partial.join(), source)

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
        self._owner.notification(notification.assoc_id, notification.event)

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        owner = self._owner
        self._loop.call_exception_handler(
            {"message": message, "exception": exc, "socket": self._sock}
        )
        owner.close()

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
        if not self._send_buffer_fixed and not self._closed:
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
            self.write(Outgoing(transport, data, stream, ppid, flags))
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
            self.write(Outgoing(transport, data, stream, ppid, flags))
        except OSError as exc:
            transport.send_failed(exc, Outgoing(transport, data, stream, ppid, flags))

    def write(self, item: Outgoing) -> None:
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

    def _send(self, item: Outgoing) -> None:
        transport = item.transport
        if item.flags & sockapi.SCTP_EOF and self._eof_by_shutdown:
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

    def take_queued(self, transport: KernelAssociationTransport) -> list[Outgoing]:
        """Remove and return everything still queued for ``transport``, in order."""
        kept: collections.deque[Outgoing] = collections.deque()
        taken: list[Outgoing] = []
        for item in self._write_queue:
            (taken if item.transport is transport else kept).append(item)
        self._write_queue = kept
        if not kept:
            self._set_writing(False)
        return taken

    def resume_queued(self, items: list[Outgoing]) -> None:
        """Queue ``items`` (taken from another socket with :meth:`take_queued`, and still
        counted in their transports' write buffers) behind what waits here."""
        self._write_queue.extend(items)
        if self._write_queue:
            self._set_writing(True)

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
