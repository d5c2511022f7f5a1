"""The kernel backend as the public layer sees it (see :mod:`sctpmh.seam`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..addresses import Endpoint
from ..config import Config
from ..seam import ALL_FEATURES, ListeningEndpoint, TransportCallback
from ..transport import BaseTransport
from . import setup

__all__ = ["BACKEND", "KernelBackend"]


class KernelBackend:
    """Linux kernel SCTP: one-to-many sockets for servers, one-to-one for clients."""

    name = "kernel"
    features = frozenset(ALL_FEATURES)

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
        return setup.listen(
            loop, local, port, config, on_association, on_association_lost, backlog=backlog
        )

    async def connect(
        self,
        loop: asyncio.AbstractEventLoop,
        remote: Sequence[Endpoint],
        local: Sequence[Endpoint] | None,
        config: Config,
    ) -> BaseTransport:
        return await setup.connect(loop, remote, local, config)


#: The instance :mod:`sctpmh.registry` hands out.
BACKEND = KernelBackend()
