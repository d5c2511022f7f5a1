"""Exceptions raised by sctpmh.

Every exception sctpmh raises on purpose derives from :class:`SctpmhError`, so one
``except sctpmh.SctpmhError`` catches them all. Errors caused by bad arguments also derive
from :class:`ValueError`; errors about a dead association derive from
:class:`ConnectionError`, the way asyncio's own transports report them.

This is the lowest leaf module: it imports nothing from the package.
"""

from __future__ import annotations

__all__ = [
    "AddressError",
    "AssociationAbortedError",
    "AssociationClosedError",
    "AssociationLostError",
    "BackendUnavailableError",
    "MessageTooLargeError",
    "NotSupportedError",
    "SctpUnavailableError",
    "SctpmhError",
    "StreamError",
]


class SctpmhError(Exception):
    """Base class of every error sctpmh raises on purpose."""


class AddressError(SctpmhError, ValueError):
    """An address or port given by the caller is malformed, unresolvable or out of range.

    ``item`` is the offending piece of input, exactly as the caller gave it.
    """

    def __init__(self, message: str, item: object = None) -> None:
        super().__init__(message)
        self.item = item


class StreamError(SctpmhError, ValueError):
    """A stream id is outside the range negotiated for the association."""

    def __init__(self, message: str, stream: int) -> None:
        super().__init__(message)
        self.stream = stream


class MessageTooLargeError(SctpmhError, ValueError):
    """A message is larger than ``Config.max_message_size``."""

    def __init__(self, message: str, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class AssociationClosedError(SctpmhError, ConnectionError):
    """The association is closed (locally, by the peer, or because it failed)."""


class AssociationAbortedError(AssociationClosedError):
    """The association ended abruptly: an ABORT was sent or received, or the peer stopped
    answering (RFC 9260 section 8.1, Association.Max.Retrans exceeded).

    ``cause`` is the SCTP error cause code when one is known (RFC 9260 section 3.3.10).
    ``remote`` tells who ended it: True when the peer sent the ABORT (``cause`` is then the
    peer's), False when this side did (``abort()``, a failed handler, a local error, or
    :class:`AssociationLostError`).
    """

    def __init__(self, message: str, cause: int | None = None, *, remote: bool = False) -> None:
        super().__init__(message)
        self.cause = cause
        self.remote = remote


class AssociationLostError(AssociationAbortedError):
    """The peer stopped answering on every path and the association failed (RFC 9260
    section 8.1: Association.Max.Retrans exceeded, or every destination inactive)."""


class NotSupportedError(SctpmhError):
    """The backend carrying the association cannot do what was asked.

    ``backend`` names the backend and ``feature`` the operation; the message says both.
    """

    def __init__(self, backend: str, feature: str, why: str = "") -> None:
        detail = f": {why}" if why else ""
        super().__init__(f"the {backend} backend does not support {feature}{detail}")
        self.backend = backend
        self.feature = feature


class BackendUnavailableError(SctpmhError):
    """The backend asked for (``backend=`` or ``SCTPMH_BACKEND``) cannot run here.

    The message says what is missing and what to install or enable.
    """


class SctpUnavailableError(BackendUnavailableError, OSError):
    """The running kernel cannot create SCTP sockets.

    The message says why and how to fix it (load the ``sctp`` module, install the kernel's
    extra modules package, un-blacklist it, or use the project's lab VM).
    """
