"""The protocol-style API: callbacks in, a transport out, in the manner of asyncio.

A backend (kernel SCTP today, the userspace stack later) drives one
:class:`AssociationProtocol` per association through an :class:`AssociationTransport`.
:class:`sctpmh.Association`, the coroutine API most users want, is itself such a protocol;
write your own subclass when callbacks suit your protocol better than ``await``.

The call sequence mirrors ``asyncio.Protocol``::

    connection_made(transport)
    (message_received(message) | event_received(event)
     | pause_writing() | resume_writing())*
    connection_lost(exc)
"""

from __future__ import annotations

import abc
from typing import Any

from .addresses import Address
from .config import Config
from .events import Event, Message, PathInfo

__all__ = ["AssociationProtocol", "AssociationTransport"]


class AssociationProtocol:
    """Base class for protocols over one SCTP association. Every method is optional."""

    # Empty, so that subclasses may use __slots__ to keep thousands of associations small;
    # a subclass without __slots__ gets its instance dict as usual.
    __slots__ = ()

    def connection_made(self, transport: AssociationTransport) -> None:
        """The association is established; ``transport`` sends on it."""

    def message_received(self, message: Message) -> None:
        """A whole message arrived from the peer."""

    def event_received(self, event: Event) -> None:
        """Something happened to the association or one of its paths."""

    def pause_writing(self) -> None:
        """The transport's write buffer went over its high-water mark."""

    def resume_writing(self) -> None:
        """The transport's write buffer drained to its low-water mark."""

    def connection_lost(self, exc: Exception | None) -> None:
        """The association ended: ``None`` after a graceful shutdown, else the reason."""


class AssociationTransport(abc.ABC):
    """One SCTP association as a protocol sees it. Created by a backend, never by users."""

    __slots__ = ()

    @property
    @abc.abstractmethod
    def association_id(self) -> int:
        """The kernel's (or the stack's) id of this association."""

    @property
    @abc.abstractmethod
    def config(self) -> Config:
        """The configuration the association was opened with."""

    @property
    @abc.abstractmethod
    def outbound_streams(self) -> int:
        """Number of streams this side may send on, as negotiated in the handshake."""

    @property
    @abc.abstractmethod
    def inbound_streams(self) -> int:
        """Number of streams the peer may send on, as negotiated in the handshake."""

    @abc.abstractmethod
    def set_protocol(self, protocol: AssociationProtocol) -> None:
        """Hand the association to ``protocol``: calls its ``connection_made`` and delivers
        what arrived before it was attached."""

    @abc.abstractmethod
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
        """Queue one message. Never blocks; watch the write buffer or use ``drain``.

        ``to`` picks the peer address to send this message to; while that path is not active
        the message goes by the primary path instead. ``ttl`` (seconds) makes the message
        partially reliable: not delivered within it, it is abandoned (PR-SCTP, RFC 3758).
        Linux drops such messages without handing them back."""

    @abc.abstractmethod
    def set_primary(self, address: Address) -> None:
        """Send to the peer's ``address`` by default from now on (RFC 9260 section 6.4)."""

    @abc.abstractmethod
    def add_local_address(self, address: Address) -> None:
        """Start using one more local address and tell the peer (ASCONF, RFC 5061)."""

    @abc.abstractmethod
    def remove_local_address(self, address: Address) -> None:
        """Stop using one local address and tell the peer (ASCONF, RFC 5061)."""

    @abc.abstractmethod
    def request_peer_primary(self, address: Address) -> None:
        """Ask the peer to send to our ``address`` by default (RFC 5061 section 4.2.4)."""

    @abc.abstractmethod
    def get_write_buffer_size(self) -> int:
        """Bytes queued in sctpmh and not yet accepted by the kernel or the stack."""

    @abc.abstractmethod
    def get_write_buffer_limits(self) -> tuple[int, int]:
        """The (low, high) water marks of the write buffer."""

    @abc.abstractmethod
    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Set the water marks; defaults as asyncio's: 64 KiB and high // 4."""

    @abc.abstractmethod
    def pause_reading(self) -> None:
        """Stop delivering messages to the protocol until ``resume_reading``."""

    @abc.abstractmethod
    def resume_reading(self) -> None:
        """Deliver messages again."""

    @abc.abstractmethod
    def is_reading(self) -> bool:
        """False between ``pause_reading`` and ``resume_reading``."""

    @abc.abstractmethod
    def local_addresses(self) -> list[Address]:
        """Every local address of the association."""

    @abc.abstractmethod
    def peer_addresses(self) -> list[Address]:
        """Every address of the peer in the association."""

    @abc.abstractmethod
    def paths(self) -> list[PathInfo]:
        """Live state of every path to the peer."""

    @abc.abstractmethod
    def close(self) -> None:
        """Graceful SHUTDOWN after everything queued is sent (RFC 9260 section 9.2)."""

    @abc.abstractmethod
    def abort(self) -> None:
        """ABORT at once (RFC 9260 section 9.1); what was not yet sent comes back as
        :class:`~sctpmh.SendFailed` events before ``connection_lost``."""

    @abc.abstractmethod
    def is_closing(self) -> bool:
        """True once ``close`` or ``abort`` was called or the association ended."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Like asyncio's: ``"sockname"``, ``"peername"``, ``"peer_addresses"``,
        ``"local_addresses"``, ``"association_id"``, ``"backend"`` (its name), and on the
        kernel backend ``"socket"``."""
        return default
