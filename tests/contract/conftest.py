"""The contract suite's fixtures: every test runs once per backend and per event loop.

``backend`` is "memory" (the userspace stack over the in-process network), "udp" (the same
stack over real UDP sockets on loopback, RFC 6951), both on the host, or "kernel" (Linux
kernel SCTP; marked ``kernel``, so scripts/test runs it in the lab VM, where a missing SCTP
fails instead of skipping). ``open_pair`` opens a server with an echo-or-custom handler and a
client association, both multi-homed: the server on 127.0.0.1 and 127.0.0.2, the client on
127.0.0.3 and 127.0.0.4. ``cuttable`` gives a pair whose paths a test can cut: hosts of the
memory network, the server's UDP sockets, or the two veth paths of a namespace topology.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import pytest

import sctpmh
from lab import netlab
from sctpmh.userspace import memory, udp

SERVER = ["127.0.0.1", "127.0.0.2"]
CLIENT = ["127.0.0.3", "127.0.0.4"]

BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("udp", id="udp"),
    pytest.param("kernel", id="kernel", marks=pytest.mark.kernel),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test."""
    return str(request.param)


async def echo(association: sctpmh.Association) -> None:
    """The server handler most tests use: every message back on its stream, with its PPID."""
    async for message in association:
        await association.send(
            message.data, stream=message.stream, ppid=message.ppid, unordered=message.unordered
        )


@dataclass
class Pair:
    """A server and one client association on ``backend``."""

    backend: str
    server: sctpmh.Server
    client: sctpmh.Association
    served: list[sctpmh.Association] = field(default_factory=list)

    async def connect(self, config: sctpmh.Config | None = None) -> sctpmh.Association:
        """One more client association to the same server."""
        return await sctpmh.open_association(
            SERVER, self.server.port, local_addrs=CLIENT, config=config, backend=self.backend
        )


Opener = Callable[..., Awaitable[Pair]]


@pytest.fixture
async def open_pair(backend: str) -> AsyncIterator[Opener]:
    """``await open_pair(handler=..., config=...)`` gives a :class:`Pair`; everything it
    opened is aborted at the end of the test."""
    opened: list[Pair] = []

    async def opener(
        handler: sctpmh.server.Handler | None = None,
        config: sctpmh.Config | None = None,
    ) -> Pair:
        served: list[sctpmh.Association] = []
        user_handler = handler or echo

        async def tracked(association: sctpmh.Association) -> None:
            served.append(association)
            await user_handler(association)

        server = await sctpmh.create_server(tracked, SERVER, 0, config=config, backend=backend)
        client = await sctpmh.open_association(
            SERVER, server.port, local_addrs=CLIENT, config=config, backend=backend
        )
        pair = Pair(backend, server, client, served)
        opened.append(pair)
        return pair

    yield opener
    for pair in opened:
        pair.client.abort()
        pair.server.abort()
        await asyncio.wait_for(pair.server.wait_closed(), 10)


@dataclass
class Cuttable:
    """A pair whose every path a test can cut and restore."""

    server: sctpmh.Server
    client: sctpmh.Association
    cut_all: Callable[[], None]
    restore_all: Callable[[], None]


@pytest.fixture
async def cuttable(backend: str) -> AsyncIterator[Callable[..., Awaitable[Cuttable]]]:
    """``await cuttable(handler, config)``: a pair on paths that can be cut."""
    with contextlib.ExitStack() as stack:
        opened: list[Cuttable] = []

        async def opener(handler: sctpmh.server.Handler, config: sctpmh.Config) -> Cuttable:
            if backend == "memory":
                pair = await _memory_cuttable(handler, config)
            elif backend == "udp":
                pair = await _udp_cuttable(handler, config)
            else:
                pair = await _kernel_cuttable(stack, handler, config)
            opened.append(pair)
            return pair

        yield opener
        for pair in opened:
            pair.restore_all()
            pair.client.abort()
            pair.server.abort()
            await asyncio.wait_for(pair.server.wait_closed(), 10)


async def _memory_cuttable(handler: sctpmh.server.Handler, config: sctpmh.Config) -> Cuttable:
    network = memory.BACKEND.network
    server = await sctpmh.create_server(handler, SERVER, 0, config=config, backend="memory")
    client = await sctpmh.open_association(
        SERVER, server.port, local_addrs=CLIENT, config=config, backend="memory"
    )

    def cut_all() -> None:
        for host in SERVER:
            network.cut(host)

    def restore_all() -> None:
        for host in SERVER:
            network.heal(host)

    return Cuttable(server, client, cut_all, restore_all)


async def _udp_cuttable(handler: sctpmh.server.Handler, config: sctpmh.Config) -> Cuttable:
    server = await sctpmh.create_server(handler, SERVER, 0, config=config, backend="udp")
    client = await sctpmh.open_association(
        SERVER, server.port, local_addrs=CLIENT, config=config, backend="udp"
    )

    def set_cut(cut: bool) -> None:
        for host in SERVER:
            udp.BACKEND.cut(host, cut=cut)

    return Cuttable(server, client, lambda: set_cut(True), lambda: set_cut(False))


async def _kernel_cuttable(
    stack: contextlib.ExitStack, handler: sctpmh.server.Handler, config: sctpmh.Config
) -> Cuttable:
    if os.geteuid() != 0:
        pytest.fail("the namespace topology needs root (the lab VM runs tests as root)")
    topology = stack.enter_context(netlab.two_path_topology())
    left, right = topology.addresses("left"), topology.addresses("right")
    with topology.left.entered():
        server = await sctpmh.create_server(handler, left, 0, config=config, backend="kernel")
    with topology.right.entered():
        client = await sctpmh.open_association(
            left, server.port, local_addrs=right, config=config, backend="kernel"
        )
    paths = range(len(topology.paths))

    def cut_all() -> None:
        for index in paths:
            topology.cut(index, "loss")

    def restore_all() -> None:
        for index in paths:
            with contextlib.suppress(RuntimeError):
                topology.restore(index, "loss")

    return Cuttable(server, client, cut_all, restore_all)


@contextlib.contextmanager
def exception_handler_calls(loop: asyncio.AbstractEventLoop) -> Iterator[list[dict[str, object]]]:
    """What reaches the loop's exception handler inside the block."""
    seen: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        yield seen
    finally:
        loop.set_exception_handler(previous)
