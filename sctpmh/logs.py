"""Log records about associations, each naming the association and, for a path, its address.

sctpmh logs through the standard :mod:`logging` module under the ``sctpmh`` logger (backends
use children such as ``sctpmh.kernel``). It is quiet by default: like every library it leaves
handlers to the application, and a :class:`logging.NullHandler` on ``sctpmh`` keeps Python's
last-resort handler from printing its warnings to stderr. To see them::

    logging.basicConfig(level=logging.INFO)

Every record about an association has two extra attributes besides its text, for structured
logging and filters: ``association_id`` (an ``int``) and ``path`` (the peer address as
``"host:port"``, or ``None`` when the record is not about one path). What is logged, by level:

- INFO: an association comes up or closes gracefully, a path changes state or comes and goes,
  the primary path changes, the peer starts a shutdown.
- WARNING: a path becomes unreachable, an association is aborted or lost, the peer restarted
  it, the peer reported an error.
- DEBUG: each message handed back undelivered, each "sender dry" notification.

Nothing is logged per message sent or received: that would cost every message time even when
the level is off.

This module imports only the leaf module :mod:`sctpmh.events`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .events import (
    AssociationRestarted,
    Event,
    PathAdded,
    PathRemoved,
    PathState,
    PathStateChanged,
    PeerShutdown,
    PrimaryChanged,
    RemoteError,
    SenderDry,
    SendFailed,
)

__all__ = ["AssociationLog", "format_address"]

logging.getLogger("sctpmh").addHandler(logging.NullHandler())

# A path that stops carrying data is the news an operator of a multi-homed service wants.
_STATE_LEVELS = {
    PathState.ACTIVE: logging.INFO,
    PathState.UNCONFIRMED: logging.INFO,
    PathState.POTENTIALLY_FAILED: logging.WARNING,
    PathState.INACTIVE: logging.WARNING,
}


def format_address(address: tuple[str, int]) -> str:
    """``host:port``, with brackets around an IPv6 host."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _addresses(addresses: Iterable[tuple[str, int]]) -> str:
    return ", ".join(map(format_address, addresses)) or "none known"


class AssociationLog:
    """Writes the log records of one association to ``logger``.

    Each record's text starts with ``association N`` and carries the ``association_id`` and
    ``path`` attributes described in the module docstring.
    """

    __slots__ = ("_association_id", "_logger")

    def __init__(self, logger: logging.Logger, association_id: int) -> None:
        self._logger = logger
        self._association_id = association_id

    def enabled(self, level: int) -> bool:
        """Whether a record at ``level`` would be written (to skip building it)."""
        return self._logger.isEnabledFor(level)

    def log(
        self,
        level: int,
        text: str,
        *args: object,
        path: tuple[str, int] | None = None,
        exc_info: bool = False,
    ) -> None:
        """Log ``text % args`` about the association (and ``path``, when given); with
        ``exc_info``, the exception being handled too."""
        logger = self._logger
        if not logger.isEnabledFor(level):
            return
        where = format_address(path) if path is not None else None
        prefix = f"association {self._association_id}"
        if where is not None:
            prefix += f" path {where}"
        logger.log(
            level,
            f"{prefix}: {text}",
            *args,
            extra={"association_id": self._association_id, "path": where},
            exc_info=exc_info,
        )

    def up(
        self, local: Iterable[tuple[str, int]], peer: Iterable[tuple[str, int]], streams: str
    ) -> None:
        """The association is established."""
        self.log(
            logging.INFO,
            "up, local %s, peer %s, streams %s",
            _addresses(local),
            _addresses(peer),
            streams,
        )

    def closed(self, exc: BaseException | None) -> None:
        """The association is over: gracefully when ``exc`` is ``None``."""
        if exc is None:
            self.log(logging.INFO, "closed")
        else:
            self.log(logging.WARNING, "ended: %s", exc)

    def event(self, event: Event) -> None:
        """Log what ``event`` tells about the association."""
        if isinstance(event, PathStateChanged):
            detail = f" (error {event.error})" if event.error else ""
            self.log(
                _STATE_LEVELS.get(event.state, logging.INFO),
                "%s%s",
                event.state.value,
                detail,
                path=event.address,
            )
        elif isinstance(event, PrimaryChanged):
            self.log(logging.INFO, "is now the primary path", path=event.address)
        elif isinstance(event, PathAdded):
            self.log(logging.INFO, "added by the peer", path=event.address)
        elif isinstance(event, PathRemoved):
            self.log(logging.INFO, "removed", path=event.address)
        elif isinstance(event, PeerShutdown):
            self.log(logging.INFO, "the peer started a graceful shutdown")
        elif isinstance(event, AssociationRestarted):
            self.log(logging.WARNING, "the peer restarted the association")
        elif isinstance(event, RemoteError):
            self.log(logging.WARNING, "the peer reported error cause %d", event.cause)
        elif isinstance(event, SendFailed):
            self.log(
                logging.DEBUG,
                "%d-byte message on stream %d handed back undelivered (error %d, %s)",
                len(event.data),
                event.stream,
                event.error,
                "was sent" if event.sent else "never sent",
            )
        elif isinstance(event, SenderDry):
            self.log(logging.DEBUG, "everything sent has been acknowledged")
