"""Choosing paths: set_primary and per-message destinations, checked on the wire by the
packet counters of each path's interface."""

from __future__ import annotations

import asyncio

import pytest

import sctpmh
from lab import netlab

pytestmark = pytest.mark.kernel

BURST = 200


def tx_packets(namespace: netlab.Namespace, interface: str) -> int:
    return namespace.packets(interface)[1]


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


async def test_local_addresses_come_and_go_at_runtime(topology: netlab.Topology) -> None:
    """ASCONF (RFC 5061): the client adds and removes an address on a live association,
    the server sees the path appear and disappear, and can be asked to make it primary."""
    for key in ("net.sctp.addip_enable", "net.sctp.auth_enable"):
        topology.sysctl_both(key, 1)
    left, right = topology.addresses("left"), topology.addresses("right")
    server_side: asyncio.Future[sctpmh.Association] = asyncio.get_running_loop().create_future()
    server_events: asyncio.Queue[sctpmh.Event] = asyncio.Queue()

    async def watch(association: sctpmh.Association) -> None:
        server_side.set_result(association)
        async for event in association.events():
            server_events.put_nowait(event)

    async def next_event(kind: type[sctpmh.Event]) -> sctpmh.Event:
        while True:
            event = await asyncio.wait_for(server_events.get(), 20)
            if isinstance(event, kind):
                return event

    with topology.left.entered():
        server = await sctpmh.create_server(watch, left, 0)
    async with server:
        with topology.right.entered():
            association = await sctpmh.open_association(left, server.port, local_addrs=right[:1])
        async with association:
            peer = await asyncio.wait_for(server_side, 10)
            port = association.local_addresses[0][1]
            assert peer.peer_addresses == [(right[0], port)]

            await association.add_local_address((right[1], 0))
            added = await next_event(sctpmh.PathAdded)
            assert added == sctpmh.PathAdded((right[1], port))
            assert sorted(peer.peer_addresses) == [(right[0], port), (right[1], port)]

            await association.request_peer_primary((right[1], port))
            made = await next_event(sctpmh.PrimaryChanged)
            assert made == sctpmh.PrimaryChanged((right[1], port))
            assert [p.address for p in peer.paths if p.primary] == [(right[1], port)]

            await association.set_primary((left[0], server.port))
            await association.remove_local_address((right[1], 0))
            removed = await next_event(sctpmh.PathRemoved)
            assert removed == sctpmh.PathRemoved((right[1], port))
            assert peer.peer_addresses == [(right[0], port)]

            with pytest.raises(sctpmh.AddressError, match="one port"):
                await association.add_local_address((right[1], port + 1))
