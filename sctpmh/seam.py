"""The backend seam: what the public layer asks of a backend, and nothing more.

A backend (``sctpmh.kernel``, ``sctpmh.userspace``) offers :class:`Backend`: ``listen`` for
a server, ``connect`` for a client, and the set of optional features it has. Per
association it hands out a :class:`~sctpmh.transport.BaseTransport` subclass, which holds
the behaviour every backend shares. The public modules (api, server, association,
protocol) know only these types; :mod:`sctpmh.registry` imports the backends, lazily.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from .addresses import Address, Endpoint
from .config import Config
from .protocol import AssociationTransport

__all__ = [
    "ALL_FEATURES",
    "ASCONF",
    "PATHS",
    "PR_SCTP",
    "SEND_TO",
    "SET_PRIMARY",
    "Backend",
    "ListeningEndpoint",
    "TransportCallback",
]

#: ``send(..., ttl=)``: partially reliable messages (PR-SCTP, RFC 3758).
PR_SCTP: Final = "ttl"
#: ``send(..., to=)``: a peer address chosen per message.
SEND_TO: Final = "to"
#: ``set_primary``: choose the primary path (RFC 9260 section 6.4).
SET_PRIMARY: Final = "set_primary"
#: ``add_local_address`` / ``remove_local_address`` / ``request_peer_primary`` (RFC 5061).
ASCONF: Final = "asconf"
#: ``paths``: live per-path state.
PATHS: Final = "paths"
#: Every optional feature, in the order the docs' capability table lists them.
ALL_FEATURES: Final = (PATHS, SET_PRIMARY, SEND_TO, PR_SCTP, ASCONF)

TransportCallback = Callable[[AssociationTransport], None]


class ListeningEndpoint(Protocol):
    """What a backend's listening endpoint offers the server."""

    def close(self) -> None:
        """Stop at once; associations still on it end (the kernel aborts them)."""

    def stop_accepting(self) -> None:
        """Refuse new associations; live ones go on."""

    def local_addresses(self) -> list[Address]:
        """Every local address it listens on."""


class Backend(Protocol):
    """One way of carrying SCTP associations."""

    @property
    def name(self) -> str:
        """The name ``backend=`` and ``SCTPMH_BACKEND`` use."""

    @property
    def features(self) -> frozenset[str]:
        """The optional features (:data:`ALL_FEATURES`) it has; the others raise
        :class:`~sctpmh.NotSupportedError`."""

    async def listen(
        self,
        loop: asyncio.AbstractEventLoop,
        local: Sequence[Endpoint] | None,
        port: int,
        config: Config,
        on_association: TransportCallback,
        on_association_lost: TransportCallback,
        *,
        backlog: int,
    ) -> ListeningEndpoint:
        """Listen on ``local`` (None: every address of the host) at ``port``.

        ``on_association`` gets each new association's transport, ``on_association_lost``
        each one that has ended once its protocol's ``connection_lost`` has returned."""

    async def connect(
        self,
        loop: asyncio.AbstractEventLoop,
        remote: Sequence[Endpoint],
        local: Sequence[Endpoint] | None,
        config: Config,
    ) -> AssociationTransport:
        """Open one association to every address in ``remote``, from ``local``."""
