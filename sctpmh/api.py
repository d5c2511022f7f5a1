"""The entry points: :func:`create_server` and :func:`open_association`."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from types import TracebackType
from typing import Any

from .addresses import Addresses, parse_and_resolve
from .association import Association
from .config import Config
from .kernel import backend as kernel_backend
from .protocol import AssociationTransport
from .server import Handler, Server

__all__ = ["create_server", "open_association"]


async def create_server(
    handler: Handler,
    addrs: Addresses | None = None,
    port: int = 0,
    *,
    config: Config | None = None,
    backlog: int = 128,
) -> Server:
    """Listen on every address in ``addrs`` (None: all of the host's) at ``port``.

    Each association that comes up is handed to ``await handler(association)`` in a task of
    its own; when the handler returns the association is closed gracefully, when it raises
    the association is aborted and the error logged. Port 0 lets the kernel pick one; read
    it back from :attr:`Server.port`.
    """
    config = config or Config()
    loop = asyncio.get_running_loop()
    local = await parse_and_resolve(addrs, port, local=True) if addrs else None
    if local is None:
        # Validate the port alone: every address of the host will be bound.
        await parse_and_resolve(["0.0.0.0"], port, local=True)
    server = Server(loop, handler)
    endpoint = kernel_backend.listen(
        loop, local, port, config, server._new_association, backlog=backlog
    )
    server._attach(endpoint)
    return server


class _Opening:
    """What :func:`open_association` returns: await it, or use it with ``async with``."""

    def __init__(self, coroutine_factory: Any) -> None:
        self._factory = coroutine_factory
        self._association: Association | None = None

    def __await__(self) -> Generator[Any, None, Association]:
        return self._factory().__await__()  # type: ignore[no-any-return]

    async def __aenter__(self) -> Association:
        self._association = await self
        return self._association

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._association is not None
        await self._association.__aexit__(exc_type, exc, tb)


def open_association(
    remote_addrs: Addresses,
    port: int | None = None,
    *,
    local_addrs: Addresses | None = None,
    config: Config | None = None,
    timeout: float | None = 30.0,
) -> _Opening:
    """Open an association to every address in ``remote_addrs``.

    ``local_addrs`` (default: let the kernel choose) are all bound, with port 0 unless given.
    Works both as ``assoc = await open_association(...)`` and as
    ``async with open_association(...) as assoc``. Raises :class:`TimeoutError` after
    ``timeout`` seconds, :class:`~sctpmh.AddressError` for bad addresses and
    :class:`~sctpmh.AssociationAbortedError` when the peer refuses.
    """

    async def opening() -> Association:
        cfg = config or Config()
        loop = asyncio.get_running_loop()
        remote = await parse_and_resolve(remote_addrs, port)
        local = await parse_and_resolve(local_addrs, 0, local=True) if local_addrs else None
        async with asyncio.timeout(timeout):
            transport: AssociationTransport = await kernel_backend.connect(loop, remote, local, cfg)
        association = Association()
        transport.set_protocol(association)
        return association

    return _Opening(opening)
