"""Fixtures of the udp backend's multi-homing tests on this host: two network namespaces
joined by two veth paths (``lab/netlab.py``), a udp-backend server on both addresses of the
left one and a client association from both addresses of the right one.

They need root (namespaces, veth pairs) and ``nft`` (losses in an input hook). Without them
a test is skipped with the reason, or fails where ``CI=true``: CI must not go green without
running them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

import sctpmh
from lab import netlab
from sctpmh.userspace.udp import UdpBackend


def _missing() -> str | None:
    """What this host lacks for the namespace tests, or None."""
    if os.geteuid() != 0:
        return "network namespaces and veth pairs need root"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            return f"`{tool}` is missing (apt-get install {package}; scripts/hostdeps does)"
    return None


@pytest.fixture
def topology() -> Iterator[netlab.Topology]:
    """Two namespaces joined by two paths, deleted after the test (also when it fails)."""
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"namespace test cannot run: {missing}, and CI=true")
        pytest.skip(missing)
    with netlab.two_path_topology() as topo:
        yield topo


@dataclass
class TwoHosts:
    """A server in the left namespace and a client association from the right one, over
    both paths."""

    topology: netlab.Topology
    server: sctpmh.Server
    client: sctpmh.Association
    served: asyncio.Future[sctpmh.Association]
    """The server's side of the association, once its handler runs."""

    def primary_index(self) -> int:
        """The path the client sends on first."""
        (primary,) = [p.address for p in self.client.paths if p.primary]
        return self.topology.addresses("left").index(primary[0])


Opener = Callable[[sctpmh.server.Handler, sctpmh.Config], Awaitable[TwoHosts]]


@pytest.fixture
async def two_hosts(topology: netlab.Topology) -> AsyncIterator[Opener]:
    """``await two_hosts(handler, config)``: the server runs ``handler``; everything is
    aborted at the end of the test."""
    opened: list[TwoHosts] = []

    async def opener(handler: sctpmh.server.Handler, config: sctpmh.Config) -> TwoHosts:
        left, right = topology.addresses("left"), topology.addresses("right")
        # Its own backend object: the sockets of these tests are theirs alone.
        backend = UdpBackend()
        served: asyncio.Future[sctpmh.Association] = asyncio.get_running_loop().create_future()

        async def tracked(association: sctpmh.Association) -> None:
            if not served.done():
                served.set_result(association)
            await handler(association)

        # The udp backend opens its UDP sockets in listen / connect: made while the loop's
        # thread is inside a namespace, they live there.
        with topology.left.entered():
            server = await sctpmh.create_server(tracked, left, 0, config=config, backend=backend)
        try:
            with topology.right.entered():
                client = await sctpmh.open_association(
                    left, server.port, local_addrs=right, config=config, backend=backend
                )
        except BaseException:
            server.abort()
            raise
        pair = TwoHosts(topology, server, client, served)
        opened.append(pair)
        return pair

    yield opener
    for pair in opened:
        pair.client.abort()
        pair.server.abort()
        await asyncio.wait_for(pair.server.wait_closed(), 10)
