"""Choosing paths: set_primary and per-message destinations, checked on the wire by the
packet counters of each path's interface."""

from __future__ import annotations

import asyncio

import pytest

import sctpmh
from tests import netlab

pytestmark = pytest.mark.kernel

BURST = 200


def tx_packets(namespace: netlab.Namespace, interface: str) -> int:
    return int(namespace.run("cat", f"/sys/class/net/{interface}/statistics/tx_packets"))


async def open_pair(
    topology: netlab.Topology, handler: sctpmh.server.Handler
) -> tuple[sctpmh.Server, sctpmh.Association]:
    left, right = topology.addresses("left"), topology.addresses("right")
    with topology.left.entered():
        server = await sctpmh.create_server(handler, left, 0)
    with topology.right.entered():
        association = await sctpmh.open_association(left, server.port, local_addrs=right)
    return server, association


def sink_into(received: asyncio.Queue[sctpmh.Message]) -> sctpmh.server.Handler:
    """A server handler that puts every message it gets into ``received``."""

    async def sink(association: sctpmh.Association) -> None:
        async for message in association:
            received.put_nowait(message)

    return sink


async def send_burst(
    topology: netlab.Topology,
    association: sctpmh.Association,
    received: asyncio.Queue[sctpmh.Message],
    to: tuple[str, int] | None = None,
) -> list[int]:
    """Send BURST messages; return how many packets each path's client interface sent."""
    before = [tx_packets(topology.right, p.right_interface) for p in topology.paths]
    for i in range(BURST):
        await association.send(b"%d" % i, stream=1, to=to)
    for _ in range(BURST):
        await asyncio.wait_for(received.get(), 10)
    after = [tx_packets(topology.right, p.right_interface) for p in topology.paths]
    return [b - a for a, b in zip(before, after, strict=True)]


async def test_set_primary_moves_traffic_to_the_other_path(topology: netlab.Topology) -> None:
    received: asyncio.Queue[sctpmh.Message] = asyncio.Queue()
    server, association = await open_pair(topology, sink_into(received))
    async with server, association:
        port = server.port
        first, second = ((a, port) for a in topology.addresses("left"))
        await association.set_primary(first)
        assert [p.address for p in association.paths if p.primary] == [first]
        on_first = await send_burst(topology, association, received)
        assert on_first[0] >= BURST // 2 > on_first[1]

        await association.set_primary(second)
        assert [p.address for p in association.paths if p.primary] == [second]
        on_second = await send_burst(topology, association, received)
        assert on_second[1] >= BURST // 2 > on_second[0]


async def test_send_to_picks_the_destination_per_message(topology: netlab.Topology) -> None:
    received: asyncio.Queue[sctpmh.Message] = asyncio.Queue()
    server, association = await open_pair(topology, sink_into(received))
    async with server, association:
        second = (topology.addresses("left")[1], server.port)
        await association.set_primary((topology.addresses("left")[0], server.port))
        counts = await send_burst(topology, association, received, to=second)
        assert counts[1] >= BURST // 2 > counts[0]


async def test_unknown_addresses_are_refused_by_name(topology: netlab.Topology) -> None:
    async def idle(association: sctpmh.Association) -> None:
        await association.wait_closed()

    server, association = await open_pair(topology, idle)
    async with server, association:
        stranger = ("127.0.0.9", server.port)
        with pytest.raises(sctpmh.AddressError, match=r"127\.0\.0\.9"):
            await association.set_primary(stranger)
        with pytest.raises(sctpmh.AddressError, match=r"127\.0\.0\.9"):
            await association.send(b"x", to=stranger)
        with pytest.raises(sctpmh.AddressError):
            await association.send(b"x", to=("not an address", 1))
