"""What every backend's association transport does, written once.

:class:`BaseTransport` holds everything of an :class:`~sctpmh.AssociationTransport` that does
not depend on what carries the association (compare asyncio's ``_SelectorTransport``, which
keeps the whole lifecycle while its subclasses only move bytes):

- the checks on what is sent (:mod:`sctpmh.validation`);
- write-buffer flow control with high and low water marks, calling the protocol's
  ``pause_writing`` / ``resume_writing`` on the edges, as asyncio's ``_FlowControlMixin``;
- delivery: what arrives before a protocol is attached waits, what arrives while reading is
  paused is held up to ``Config.read_high_water`` and then the backend stops taking input
  (the peer then sees the receive window close, RFC 9260 section 6.2);
- protocol callbacks guarded by asyncio's ladder: SystemExit and KeyboardInterrupt pass,
  anything else is reported to the loop's exception handler and aborts this association;
- the end of the association, exactly once, in the order docs/lifecycle.md gives: unsent
  messages back as :class:`~sctpmh.SendFailed`, held messages handed over,
  :class:`~sctpmh.AssociationLost` when the peer became unreachable, then
  ``connection_lost`` in a later loop iteration, then the backend's "lost" callback.

A backend subclasses it and supplies the hooks marked "backend hook" below.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from .addresses import Address
from .config import Config
from .errors import (
    AssociationAbortedError,
    AssociationClosedError,
    AssociationLostError,
    NotSupportedError,
)
from .events import AssociationLost, Event, Message, PathInfo, SendFailed
from .logs import AssociationLog
from .protocol import AssociationProtocol, AssociationTransport
from .validation import check_payload, check_ppid, check_stream, check_ttl, peer_address

__all__ = ["USER_INITIATED_ABORT", "BaseTransport", "Unsent"]

#: RFC 9260 section 3.3.10.12: the cause of an ABORT the application asked for.
USER_INITIATED_ABORT = 12

Unsent = tuple[bytes, int, int, bool]
"""A message the backend hands back at the end: ``(data, stream, ppid, sent)``."""


class BaseTransport(AssociationTransport):
    """The backend-neutral part of one association's transport."""

    #: The backend's name (see :attr:`backend_name`).
    BACKEND: ClassVar[str] = "?"

    # A server holds thousands of these: no per-instance dict.
    __slots__ = (
        "_assoc_id",
        "_buffer_size",
        "_closing",
        "_config",
        "_early",
        "_ended_called",
        "_exception",
        "_high_water",
        "_inbound_streams",
        "_log",
        "_loop",
        "_low_water",
        "_on_lost",
        "_outbound_streams",
        "_paused",
        "_paused_size",
        "_protocol",
        "_protocol_paused",
        "_reading",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        config: Config,
        association_id: int,
        outbound_streams: int,
        inbound_streams: int,
        logger: logging.Logger,
        on_lost: Callable[[BaseTransport], None] | None = None,
    ) -> None:
        self._loop = loop
        self._config = config
        self._assoc_id = association_id
        self._outbound_streams = outbound_streams
        self._inbound_streams = inbound_streams
        self._log = AssociationLog(logger, association_id)
        self._on_lost = on_lost
        self._protocol: AssociationProtocol | None = None
        # What arrives before a protocol is attached waits here (the handshake completes
        # in a backend callback, before the caller gets the transport).
        self._early: list[Message | Event] = []
        # Created when reading is first paused: most associations never need it.
        self._paused: collections.deque[Message] | None = None
        self._paused_size = 0
        self._reading = True
        self._buffer_size = 0
        self._high_water = config.write_high_water
        self._low_water = config.effective_write_low_water
        self._protocol_paused = False
        self._closing = False
        self._ended_called = False
        self._exception: Exception | None = None

    @property
    def backend_name(self) -> str:
        """The name of the backend carrying this association, for errors and
        ``get_extra_info("backend")``."""
        return self.BACKEND

    # --- backend hooks -----------------------------------------------------------------------

    def _transmit(
        self,
        payload: bytes,
        stream: int,
        ppid: int,
        unordered: bool,
        to: Address | None,
        ttl: float | None,
    ) -> None:
        """Backend hook: carry one checked message. Report what waits with ``_queued``."""
        raise NotImplementedError

    def _start_shutdown(self) -> None:
        """Backend hook: begin the graceful SHUTDOWN once everything queued is sent."""
        raise NotImplementedError

    def _send_abort(self) -> None:
        """Backend hook: send ABORT to the peer now (RFC 9260 section 9.1)."""
        raise NotImplementedError

    def _take_unsent(self) -> list[Unsent]:
        """Backend hook: remove and return what the backend still holds unsent."""
        return []

    def _set_input_blocked(self, blocked: bool) -> None:
        """Backend hook: stop (or restart) taking this association's input from the peer."""
        raise NotImplementedError

    def _release(self) -> None:
        """Backend hook: the association is over; free what the backend holds for it."""

    def log_up(self) -> None:
        """Log that the association came up, with its addresses and streams."""
        if not self._log.enabled(logging.INFO):
            return
        self._log.up(
            self.local_addresses(),
            self.peer_addresses(),
            f"{self._outbound_streams} out / {self._inbound_streams} in",
        )

    # --- attaching ---------------------------------------------------------------------------

    def set_protocol(self, protocol: AssociationProtocol) -> None:
        """Hand the association to ``protocol`` and deliver anything that arrived early.

        A ``connection_made`` that raises is reported like any failing callback and aborts
        this association alone."""
        self._protocol = protocol
        try:
            protocol.connection_made(self)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._protocol_failed(protocol.connection_made, exc)
            return
        early, self._early = self._early, []
        for item in early:
            if isinstance(item, Message):
                self._deliver_message(item)
            else:
                self._deliver_event(item)
        if self._ended_called and self._protocol is protocol:
            # It ended before anyone was attached: the end is told now, in order.
            self._protocol = None
            self._loop.call_soon(self._connection_lost, protocol, self._exception)

    # --- properties --------------------------------------------------------------------------

    @property
    def association_id(self) -> int:
        return self._assoc_id

    @property
    def config(self) -> Config:
        return self._config

    @property
    def outbound_streams(self) -> int:
        return self._outbound_streams

    @property
    def inbound_streams(self) -> int:
        return self._inbound_streams

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "association_id":
            return self._assoc_id
        if name == "backend":
            return self.backend_name
        if name == "peer_addresses":
            return self.peer_addresses()
        if name == "local_addresses":
            return self.local_addresses()
        if name == "peername":
            peers = self.peer_addresses()
            return peers[0] if peers else default
        if name == "sockname":
            local = self.local_addresses()
            return local[0] if local else default
        return default

    def _not_supported(self, feature: str, why: str = "") -> NotSupportedError:
        return NotSupportedError(self.backend_name, feature, why)

    def set_primary(self, address: Address) -> None:
        raise self._not_supported("set_primary")

    def add_local_address(self, address: Address) -> None:
        raise self._not_supported("add_local_address", "no ASCONF (RFC 5061)")

    def remove_local_address(self, address: Address) -> None:
        raise self._not_supported("remove_local_address", "no ASCONF (RFC 5061)")

    def request_peer_primary(self, address: Address) -> None:
        raise self._not_supported("request_peer_primary", "no ASCONF (RFC 5061)")

    def paths(self) -> list[PathInfo]:
        raise self._not_supported("paths")

    # --- sending -----------------------------------------------------------------------------

    def send(
        self,
        data: bytes | bytearray | memoryview,
        *,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        to: Address | None = None,
        ttl: float | None = None,
    ) -> None:
        if self._closing or self._ended_called:
            raise self._closed_error(f"association {self._assoc_id} is closed; cannot send")
        # Plain ints in range and bytes pass with one test each: this runs for every message.
        if not (type(stream) is int and 0 <= stream < self._outbound_streams):
            check_stream(stream, self._outbound_streams)
        if not (type(ppid) is int and 0 <= ppid <= 0xFFFFFFFF):
            check_ppid(ppid)
        if type(data) is bytes and 0 < len(data) <= self._config.max_message_size:
            payload = data
        else:
            payload = check_payload(data, self._config.max_message_size)
        destination = None if to is None else peer_address(to, self.peer_addresses())
        lifetime = None if ttl is None else check_ttl(ttl)
        self._transmit(payload, stream, ppid, unordered, destination, lifetime)

    def _closed_error(self, message: str) -> AssociationClosedError:
        """What a call on the ended association raises: the reason's class when it ended
        abruptly (its cause and origin kept), else AssociationClosedError."""
        reason = self._exception
        if isinstance(reason, AssociationAbortedError):
            error: AssociationClosedError = type(reason)(
                message, reason.cause, remote=reason.remote
            )
            error.__cause__ = reason
            return error
        if reason is not None:
            error = AssociationAbortedError(message)
            error.__cause__ = reason
            return error
        return AssociationClosedError(message)

    # --- flow control ------------------------------------------------------------------------

    def get_write_buffer_size(self) -> int:
        return self._buffer_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low_water, self._high_water)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high_water, self._low_water = high, low
        self._maybe_pause_protocol()
        self._maybe_resume_protocol()

    def _queued(self, size: int) -> None:
        """The backend holds ``size`` more bytes of this association's messages."""
        self._buffer_size += size
        self._maybe_pause_protocol()

    def _dequeued(self, size: int) -> None:
        """The backend let go of ``size`` bytes (sent, or handed back)."""
        self._buffer_size -= size
        self._maybe_resume_protocol()

    def _set_buffer_size(self, size: int) -> None:
        """The backend holds ``size`` bytes in all (for backends that count it themselves)."""
        self._buffer_size = size
        self._maybe_pause_protocol()
        self._maybe_resume_protocol()

    def _maybe_pause_protocol(self) -> None:
        if self._buffer_size <= self._high_water or self._protocol_paused:
            return
        self._protocol_paused = True
        if self._protocol is not None:
            self._call_protocol(self._protocol.pause_writing)

    def _maybe_resume_protocol(self) -> None:
        if self._protocol_paused and self._buffer_size <= self._low_water:
            self._protocol_paused = False
            if self._protocol is not None:
                self._call_protocol(self._protocol.resume_writing)

    # --- receiving ---------------------------------------------------------------------------

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        if self._reading:
            return
        self._reading = True
        paused = self._paused
        while paused and self._reading:
            message = paused.popleft()
            self._paused_size -= len(message.data)
            self._hand_over(message)
        if not self._ended_called:
            self._set_input_blocked(False)

    def is_reading(self) -> bool:
        return self._reading

    def _deliver_message(self, message: Message) -> None:
        """A whole message arrived from the peer (the backend's per-message entry)."""
        if self._protocol is None:
            self._early.append(message)
        elif not self._reading:
            # A paused association keeps what still arrives; once it holds more than the
            # read high-water mark the backend stops taking input, and the receive window
            # closes toward the peer (RFC 9260 section 6.2).
            if self._paused is None:
                self._paused = collections.deque()
            self._paused.append(message)
            self._paused_size += len(message.data)
            if self._paused_size > self._config.read_high_water:
                self._set_input_blocked(True)
        else:
            # The per-message path, inlined: no helper calls between the backend and the
            # protocol (see _call_protocol).
            method = self._protocol.message_received
            try:
                method(message)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._protocol_failed(method, exc)

    def _hand_over(self, message: Message) -> None:
        if self._protocol is not None:
            self._call_protocol(self._protocol.message_received, message)

    def _deliver_event(self, event: Event) -> None:
        """Something happened to the association (the backend's per-event entry)."""
        self._log.event(event)
        if self._protocol is None:
            self._early.append(event)
        else:
            self._call_protocol(self._protocol.event_received, event)

    def _call_protocol(self, method: Callable[..., None], *args: Any) -> None:
        try:
            method(*args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._protocol_failed(method, exc)

    def _protocol_failed(self, method: Callable[..., None], exc: BaseException) -> None:
        """A protocol callback raised: report it and abort the association."""
        self._loop.call_exception_handler(
            {
                "message": f"protocol callback {method.__qualname__} failed",
                "exception": exc,
                "transport": self,
            }
        )
        error = AssociationAbortedError(
            f"aborted because protocol callback {method.__qualname__} raised {exc!r}",
            USER_INITIATED_ABORT,
        )
        error.__cause__ = exc
        self._abort(error)

    # --- closing -----------------------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._closing or self._ended_called

    def close(self) -> None:
        if self._closing or self._ended_called:
            return
        self._closing = True
        self._start_shutdown()

    def abort(self) -> None:
        self._abort(
            AssociationAbortedError(
                f"association {self._assoc_id} was aborted locally", USER_INITIATED_ABORT
            )
        )

    def _abort(self, reason: Exception) -> None:
        """Send ABORT and end the association because of ``reason``."""
        if self._ended_called:
            return
        self._closing = True
        self._send_abort()
        self._ended(reason)

    def _ended(self, exc: Exception | None) -> None:
        """The association is over: tell the protocol once, handing back what was unsent.

        The order is the contract of docs/lifecycle.md: SendFailed for every unsent message,
        messages held while reading was paused, AssociationLost when the peer became
        unreachable, then (in a later loop iteration) ``connection_lost(exc)``."""
        if self._ended_called:
            return
        self._ended_called = True
        self._closing = True
        self._exception = exc
        self._log.closed(exc)
        # SendFailed.error is an errno, as the userspace core reports it: the peer became
        # unreachable, or the association ended some other way.
        error = errno.ETIMEDOUT if isinstance(exc, AssociationLostError) else errno.ECONNABORTED
        for data, stream, ppid, sent in self._take_unsent():
            self._deliver_event(SendFailed(data, stream, ppid, error, sent))
        self._buffer_size = 0
        # Messages held back while reading was paused were received all the same (a graceful
        # SHUTDOWN completes once they are acknowledged): hand them over before the end.
        paused, self._paused = self._paused or (), None
        self._paused_size = 0
        for message in paused:
            self._hand_over(message)
        if isinstance(exc, AssociationLostError):
            self._deliver_event(AssociationLost(self._assoc_id, exc.cause))
        self._release()
        protocol = self._protocol
        if protocol is not None:
            self._protocol = None
            self._loop.call_soon(self._connection_lost, protocol, exc)
        else:
            self._lost()

    def _connection_lost(self, protocol: AssociationProtocol, exc: Exception | None) -> None:
        try:
            protocol.connection_lost(exc)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self._loop.call_exception_handler(
                {"message": "connection_lost failed", "exception": error, "transport": self}
            )
        finally:
            self._lost()

    def _lost(self) -> None:
        on_lost, self._on_lost = self._on_lost, None
        if on_lost is not None:
            on_lost(self)
