"""The coroutine API for one association: ``await send``, ``await recv``, streams, events.

:class:`Association` is an :class:`~sctpmh.protocol.AssociationProtocol` that turns callbacks
into queues, the way ``asyncio.StreamReader`` does for TCP. It does not know which backend
carries it.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Generic, TypeVar

from .addresses import Address
from .config import Config
from .errors import AssociationAbortedError, AssociationClosedError, StreamError
from .events import AssociationClosed, Event, Message, PathInfo
from .protocol import AssociationProtocol, AssociationTransport

__all__ = ["Association", "Stream"]


#: Undelivered events kept for ``events()``; older ones are dropped past this, so that an
#: application that never looks at events does not grow without bound.
EVENT_BACKLOG = 1000

T = TypeVar("T")


class _Queue(Generic[T]):
    """Items waiting for a consumer, and the consumers waiting for items."""

    # Several per association, thousands of associations per server: no instance dicts, the
    # item deque made on first use and the waiters in a list (a deque costs ~700 bytes even
    # empty, and most queues of an idle association stay empty).
    __slots__ = ("_maxlen", "items", "waiters")

    def __init__(self, maxlen: int | None = None) -> None:
        self._maxlen = maxlen
        self.items: collections.deque[T] | None = None
        self.waiters: list[asyncio.Future[None]] = []

    def put(self, item: T) -> None:
        """Queue ``item`` (dropping the oldest past ``maxlen``) and wake the consumers."""
        items = self.items
        if items is None:
            items = self.items = collections.deque(maxlen=self._maxlen)
        items.append(item)
        if self.waiters:
            self.wake()

    def get(self) -> T:
        """The oldest item; only call when ``items`` is non-empty."""
        assert self.items is not None
        return self.items.popleft()

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class Stream:
    """One stream of an association, with its own receive queue.

    Get it with :meth:`Association.stream`. Once a stream object exists, messages arriving
    on that stream go to it instead of to :meth:`Association.recv`.
    """

    __slots__ = ("_association", "_id", "_queue")

    def __init__(self, association: Association, stream_id: int) -> None:
        self._association = association
        self._id = stream_id
        self._queue = _Queue[Message]()

    @property
    def id(self) -> int:
        """The stream number (0..65535)."""
        return self._id

    async def send(self, data: bytes, *, ppid: int = 0, unordered: bool = False) -> None:
        """Send one message on this stream; see :meth:`Association.send`."""
        await self._association.send(data, stream=self._id, ppid=ppid, unordered=unordered)

    async def recv(self) -> Message:
        """The next message that arrived on this stream; at the association's end, as
        :meth:`Association.recv`."""
        return await self._association._receive(self._queue)

    def __aiter__(self) -> AsyncIterator[Message]:
        """``async for message in stream``: this stream's messages, ending as
        ``async for`` over the :class:`Association` does."""
        return self._association._iterate(self._queue)


class Association(AssociationProtocol):
    """One SCTP association spread over every address of both sides.

    Obtained from :func:`sctpmh.open_association` or handed to a server's handler; not
    created directly.
    """

    __slots__ = (
        "_closed",
        "_drain_waiters",
        "_events",
        "_exception",
        "_loop",
        "_messages",
        "_read_high_water",
        "_reading_paused",
        "_received_size",
        "_streams",
        "_transport",
        "_write_paused",
    )

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: AssociationTransport | None = None
        self._messages = _Queue[Message]()
        self._streams: dict[int, Stream] = {}
        self._events = _Queue[Event](maxlen=EVENT_BACKLOG)
        self._received_size = 0
        # Set from the transport's Config in connection_made; read for every message.
        self._read_high_water = 0
        self._reading_paused = False  # whether this object paused the transport's reading
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._write_paused = False
        self._closed = self._loop.create_future()
        self._exception: Exception | None = None

    def __repr__(self) -> str:
        if self._transport is None:
            return "<Association (not connected)>"
        state = "closed" if self._closed.done() else "open"
        return (
            f"<Association id={self.association_id} {state} "
            f"peer={self._transport.peer_addresses()}>"
        )

    # --- protocol callbacks ------------------------------------------------------------------

    def connection_made(self, transport: AssociationTransport) -> None:
        self._transport = transport
        self._read_high_water = transport.config.read_high_water

    def message_received(self, message: Message) -> None:
        stream = self._streams.get(message.stream)
        queue = stream._queue if stream is not None else self._messages
        queue.put(message)
        self._received_size += len(message.data)
        if self._received_size > self._read_high_water and not self._reading_paused:
            # Nobody is reading fast enough: stop taking messages so memory stays bounded.
            transport = self._transport
            if transport is not None:
                self._reading_paused = True
                transport.pause_reading()

    def event_received(self, event: Event) -> None:
        self._events.put(event)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drainers(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._exception = exc
        self._wake_drainers(exc)
        self._messages.wake()
        for stream in self._streams.values():
            stream._queue.wake()
        aborted = exc is not None
        cause = getattr(exc, "cause", None)
        self._events.put(AssociationClosed(cause=cause, aborted=aborted))
        if not self._closed.done():
            self._closed.set_result(None)

    # --- information -------------------------------------------------------------------------

    @property
    def transport(self) -> AssociationTransport:
        """The transport underneath, for what the coroutine API does not cover."""
        if self._transport is None:
            raise AssociationClosedError("the association is not connected")
        return self._transport

    @property
    def association_id(self) -> int:
        """The id the kernel (or the stack) gave this association."""
        return self.transport.association_id

    @property
    def config(self) -> Config:
        """The configuration this association was opened with."""
        return self.transport.config

    @property
    def outbound_streams(self) -> int:
        """Streams this side may send on (negotiated in the handshake)."""
        return self.transport.outbound_streams

    @property
    def inbound_streams(self) -> int:
        """Streams the peer may send on (negotiated in the handshake)."""
        return self.transport.inbound_streams

    @property
    def local_addresses(self) -> list[Address]:
        """Every local address of the association."""
        return self.transport.local_addresses()

    @property
    def peer_addresses(self) -> list[Address]:
        """Every address of the peer."""
        return self.transport.peer_addresses()

    @property
    def paths(self) -> list[PathInfo]:
        """Live state of every path to the peer: state, srtt, rto, cwnd, mtu, primary."""
        return self.transport.paths()

    @property
    def closed(self) -> bool:
        """True once the association has ended."""
        return self._closed.done()

    # --- sending -----------------------------------------------------------------------------

    async def send(
        self,
        data: bytes,
        *,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        to: Address | None = None,
        ttl: float | None = None,
    ) -> None:
        """Send one message, waiting while the write buffer is above its high-water mark.

        Raises :class:`~sctpmh.StreamError` for a stream outside the negotiated range,
        :class:`~sctpmh.MessageTooLargeError` above ``Config.max_message_size`` and
        :class:`~sctpmh.AssociationClosedError` once the association is closed.
        ``to`` sends this message to one peer address (while that path is active; otherwise
        by the primary path), like the seed article's preferred destination. ``ttl``
        (seconds) abandons the message if it is not delivered in time (PR-SCTP, RFC 3758);
        Linux drops it without a :class:`~sctpmh.SendFailed` event.
        """
        self.transport.send(data, stream=stream, ppid=ppid, unordered=unordered, to=to, ttl=ttl)
        if self._write_paused or self._exception is not None:
            await self.drain()

    async def set_primary(self, address: Address) -> None:
        """Send to the peer's ``address`` by default from now on (RFC 9260 section 6.4).

        Raises :class:`~sctpmh.AddressError` when ``address`` is not one of the peer's.
        """
        self.transport.set_primary(address)

    async def add_local_address(self, address: Address) -> None:
        """Start using one more local address; the peer learns it by ASCONF (RFC 5061
        section 4.2.1) and reports a :class:`~sctpmh.PathAdded` event. Port 0 means this
        association's port. Linux needs ``net.sctp.addip_enable=1`` on both sides."""
        self.transport.add_local_address(address)

    async def remove_local_address(self, address: Address) -> None:
        """Stop using one local address; the peer reports :class:`~sctpmh.PathRemoved`."""
        self.transport.remove_local_address(address)

    async def request_peer_primary(self, address: Address) -> None:
        """Ask the peer to send to our local ``address`` by default (an ASCONF request,
        RFC 5061 section 4.2.4). Linux needs ``net.sctp.addip_enable=1`` on both sides."""
        self.transport.request_peer_primary(address)

    async def drain(self) -> None:
        """Wait until the write buffer is at or below its low-water mark."""
        if self._exception is not None:
            raise self._closed_error()
        if not self._write_paused:
            return
        waiter = self._loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def _wake_drainers(self, exc: Exception | None) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(self._closed_error())

    # --- receiving ---------------------------------------------------------------------------

    def stream(self, stream_id: int) -> Stream:
        """The :class:`Stream` object for ``stream_id``, created on first use."""
        if isinstance(stream_id, bool) or not isinstance(stream_id, int):
            raise StreamError(f"stream id must be an int, not {stream_id!r}", -1)
        if not 0 <= stream_id <= 0xFFFF:
            raise StreamError(f"stream id {stream_id} is outside 0..65535", stream_id)
        existing = self._streams.get(stream_id)
        if existing is not None:
            return existing
        stream = self._streams[stream_id] = Stream(self, stream_id)
        # Messages of this stream that already wait in the shared queue move over, in order.
        waiting, self._messages.items = self._messages.items or (), None
        for message in waiting:
            (stream._queue if message.stream == stream_id else self._messages).put(message)
        return stream

    async def recv(self) -> Message:
        """The next message (of any stream without its own :class:`Stream` object).

        Every message that arrived before the end is returned first. Then, after a graceful
        SHUTDOWN (either side), it raises :class:`~sctpmh.AssociationClosedError`; after an
        ABORT (either side) :class:`~sctpmh.AssociationAbortedError`, and when every path
        failed :class:`~sctpmh.AssociationLostError` (a subclass of it). Both are
        AssociationClosedError subclasses, so ``except AssociationClosedError`` catches every
        end. docs/lifecycle.md has the whole table.
        """
        return await self._receive(self._messages)

    async def _receive(self, queue: _Queue[Message]) -> Message:
        while not queue.items:
            if self._closed.done():
                raise self._closed_error()
            waiter = self._loop.create_future()
            queue.waiters.append(waiter)
            await waiter
        message = queue.get()
        self._received_size -= len(message.data)
        if self._reading_paused and self._received_size <= self._read_high_water // 4:
            # Only a pause of this object's own is lifted: one the application made through
            # the transport stays until the application lifts it.
            self._reading_paused = False
            transport = self._transport
            if transport is not None:
                transport.resume_reading()
        return message

    def _closed_error(self) -> AssociationClosedError:
        """What using the ended association raises: AssociationAbortedError, caused by the
        reason, when it did not end gracefully."""
        reason = self._exception
        if reason is None:
            return AssociationClosedError("the association is closed")
        message = f"the association ended abruptly: {reason}"
        error = (
            type(reason)(message, reason.cause, remote=reason.remote)
            if isinstance(reason, AssociationAbortedError)
            else AssociationAbortedError(message)
        )
        error.__cause__ = reason
        return error

    def __aiter__(self) -> AsyncIterator[Message]:
        """``async for message in assoc``: every message as :meth:`recv` gives it. The loop
        ends quietly after a graceful SHUTDOWN, and raises the :meth:`recv` error
        (:class:`~sctpmh.AssociationAbortedError`, :class:`~sctpmh.AssociationLostError`)
        after an abort or a loss, once every message before it has been yielded."""
        return self._iterate(self._messages)

    async def _iterate(self, queue: _Queue[Message]) -> AsyncIterator[Message]:
        while True:
            try:
                yield await self._receive(queue)
            except AssociationClosedError:
                if self._exception is not None:
                    raise
                return

    async def events(self) -> AsyncIterator[Event]:
        """Events as they happen: path changes, send failures, shutdown; ends after
        :class:`~sctpmh.events.AssociationClosed`. Events wait here until read, up to the
        last ``EVENT_BACKLOG`` (1,000) of them."""
        queue = self._events
        while True:
            while not queue.items:
                if self._closed.done():
                    return
                waiter = self._loop.create_future()
                queue.waiters.append(waiter)
                await waiter
            yield queue.get()

    # --- closing -----------------------------------------------------------------------------

    def close(self) -> asyncio.Future[None]:
        """Start a graceful SHUTDOWN: everything already sent is delivered first.

        Returns a future that is done once the association has ended, so both
        ``assoc.close()`` and ``await assoc.close()`` work (as :meth:`aclose`)."""
        if self._transport is not None:
            self._transport.close()
        return asyncio.shield(self._closed)

    def abort(self) -> asyncio.Future[None]:
        """ABORT the association at once (RFC 9260 section 9.1). Messages not yet sent come
        back as :class:`~sctpmh.SendFailed` events; returns a future as :meth:`close`."""
        if self._transport is not None:
            self._transport.abort()
        return asyncio.shield(self._closed)

    async def wait_closed(self) -> None:
        """Wait until the association has ended."""
        await asyncio.shield(self._closed)

    async def aclose(self) -> None:
        """``close()`` then ``wait_closed()``."""
        await self.close()

    async def __aenter__(self) -> Association:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.aclose()
        else:
            self.abort()
            await self.wait_closed()
