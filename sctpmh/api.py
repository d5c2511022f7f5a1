"""The entry points: :func:`create_server` and :func:`open_association`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, TypeVar

from .addresses import Addresses, Endpoint, parse_and_resolve
from .association import Association
from .config import Config
from .protocol import AssociationProtocol, AssociationTransport
from .registry import get_backend
from .seam import Backend
from .server import Handler, Server

__all__ = [
    "Opening",
    "create_protocol_server",
    "create_server",
    "open_association",
    "open_protocol_association",
]

P = TypeVar("P", bound=AssociationProtocol)


async def create_server(
    handler: Handler,
    addrs: Addresses | None = None,
    port: int = 0,
    *,
    config: Config | None = None,
    backlog: int = 128,
    backend: str | Backend | None = None,
) -> Server:
    """Listen on every address in ``addrs`` (None: all of the host's) at ``port``.

    Each association that comes up is handed to ``await handler(association)`` in a task of
    its own; when the handler returns the association is closed gracefully, when it raises
    the association is aborted and the error logged. Port 0 lets the backend pick one; read
    it back from :attr:`Server.port`. ``backend`` picks what carries the associations
    ("auto", "kernel", "udp", "memory", or a backend object such as
    ``sctpmh.userspace.udp.UdpBackend(port=...)``; None: ``SCTPMH_BACKEND``, else "auto";
    see docs/backends.md).
    """
    loop = asyncio.get_running_loop()
    server = Server(loop, handler=handler)
    return await _listen(server, addrs, port, config, backlog, backend)


async def create_protocol_server(
    protocol_factory: Callable[[], AssociationProtocol],
    addrs: Addresses | None = None,
    port: int = 0,
    *,
    config: Config | None = None,
    backlog: int = 128,
    backend: str | Backend | None = None,
) -> Server:
    """Like :func:`create_server`, but each association gets ``protocol_factory()``, an
    :class:`~sctpmh.AssociationProtocol` driven by callbacks (as ``loop.create_server``)."""
    loop = asyncio.get_running_loop()
    server = Server(loop, protocol_factory=protocol_factory)
    return await _listen(server, addrs, port, config, backlog, backend)


async def _listen(
    server: Server,
    addrs: Addresses | None,
    port: int,
    config: Config | None,
    backlog: int,
    backend: str | Backend | None,
) -> Server:
    loop = asyncio.get_running_loop()
    if isinstance(backlog, bool) or not isinstance(backlog, int) or not 0 <= backlog <= 65535:
        raise ValueError(f"backlog must be an int in 0..65535, not {backlog!r}")
    if addrs:
        local: list[Endpoint] | None = await parse_and_resolve(addrs, port, local=True)
    else:
        # Every address of the host will be bound; validate the port alone.
        await parse_and_resolve(["0.0.0.0"], port, local=True)
        local = None
    carrier = get_backend(backend)
    endpoint = await carrier.listen(
        loop,
        local,
        port,
        config or Config(),
        server._new_association,
        server._association_lost,
        backlog=backlog,
    )
    server._attach(endpoint)
    return server


async def open_protocol_association(
    protocol_factory: Callable[[], P],
    remote_addrs: Addresses,
    port: int | None = None,
    *,
    local_addrs: Addresses | None = None,
    config: Config | None = None,
    timeout: float | None = 30.0,
    backend: str | Backend | None = None,
) -> tuple[AssociationTransport, P]:
    """Open an association like :func:`open_association` and hand it to
    ``protocol_factory()``; returns ``(transport, protocol)`` as ``loop.create_connection``."""
    transport = await _connect(remote_addrs, port, local_addrs, config, timeout, backend)
    protocol = protocol_factory()
    transport.set_protocol(protocol)
    return transport, protocol


async def _connect(
    remote_addrs: Addresses,
    port: int | None,
    local_addrs: Addresses | None,
    config: Config | None,
    timeout: float | None,
    backend: str | Backend | None,
) -> AssociationTransport:
    loop = asyncio.get_running_loop()
    # Name resolution counts against the timeout: a hanging DNS server must not outlast it.
    async with asyncio.timeout(timeout):
        remote = await parse_and_resolve(remote_addrs, port)
        local = await parse_and_resolve(local_addrs, 0, local=True) if local_addrs else None
        carrier = get_backend(backend)
        return await carrier.connect(loop, remote, local, config or Config())


class Opening:
    """What :func:`open_association` returns: ``await`` it for the
    :class:`~sctpmh.Association`, or use it as ``async with open_association(...) as
    assoc:``, which closes the association gracefully when the block ends (and aborts it
    when the block raises). Nothing is sent until it is awaited or entered."""

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
    backend: str | Backend | None = None,
) -> Opening:
    """Open an association to every address in ``remote_addrs``.

    ``local_addrs`` (default: let the kernel choose) are all bound, with port 0 unless given.
    ``backend`` picks what carries it, as for :func:`create_server`.
    Works both as ``assoc = await open_association(...)`` and as
    ``async with open_association(...) as assoc``. Raises :class:`TimeoutError` after
    ``timeout`` seconds, :class:`~sctpmh.AddressError` for bad addresses and
    :class:`~sctpmh.AssociationAbortedError` when the peer refuses.
    """

    async def opening() -> Association:
        transport = await _connect(remote_addrs, port, local_addrs, config, timeout, backend)
        association = Association()
        transport.set_protocol(association)
        return association

    return Opening(opening)
