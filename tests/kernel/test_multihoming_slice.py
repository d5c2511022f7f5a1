"""The first vertical slice on the real kernel: one association over two addresses a side."""

from __future__ import annotations

import asyncio

import pytest

import sctpmh
from lab import netlab

pytestmark = pytest.mark.kernel

SERVER_ADDRS = ["127.0.0.1", "127.0.0.2"]
CLIENT_ADDRS = ["127.0.0.3", "127.0.0.4"]


async def echo(association: sctpmh.Association) -> None:
    async for message in association:
        await association.send(message.data, stream=message.stream, ppid=message.ppid)


async def test_loopback_two_by_two_echo_keeps_stream_and_ppid() -> None:
    seen_by_server: list[list[tuple[str, int]]] = []

    async def handler(association: sctpmh.Association) -> None:
        seen_by_server.append(association.peer_addresses)
        await echo(association)

    async with await sctpmh.create_server(handler, SERVER_ADDRS, 0) as server:
        port = server.port
        assert sorted(server.addresses) == [(a, port) for a in SERVER_ADDRS]
        async with sctpmh.open_association(
            "127.0.0.1; 127.0.0.2", port, local_addrs=CLIENT_ADDRS
        ) as association:
            client_port = association.local_addresses[0][1]
            assert sorted(association.peer_addresses) == [(a, port) for a in SERVER_ADDRS]
            assert sorted(association.local_addresses) == [(a, client_port) for a in CLIENT_ADDRS]
            await association.send(b"over two paths", stream=5, ppid=0x80)
            reply = await asyncio.wait_for(association.recv(), 10)
            assert (reply.data, reply.stream, reply.ppid) == (b"over two paths", 5, 0x80)
            assert sorted(p.address for p in association.paths) == [(a, port) for a in SERVER_ADDRS]
            assert sum(p.primary for p in association.paths) == 1
        assert seen_by_server == [[(a, client_port) for a in CLIENT_ADDRS]]


@pytest.mark.parametrize("ppid", [0, 1, 0x80, 0x12345678, 0xFFFFFFFF])
async def test_ppid_is_a_host_order_integer_both_ways(ppid: int) -> None:
    received: list[sctpmh.Message] = []

    async def handler(association: sctpmh.Association) -> None:
        message = await association.recv()
        received.append(message)
        await association.send(b"ack", stream=1, ppid=message.ppid ^ 0xFFFFFFFF)

    async with await sctpmh.create_server(handler, ["127.0.0.1"], 0) as server:
        async with sctpmh.open_association(["127.0.0.1"], server.port) as association:
            await association.send(b"ppid", stream=2, ppid=ppid)
            reply = await asyncio.wait_for(association.recv(), 10)
    assert received[0].ppid == ppid
    assert reply.ppid == ppid ^ 0xFFFFFFFF


async def test_two_path_namespace_topology_carries_one_association(
    topology: netlab.Topology,
) -> None:
    """Server in one namespace, client in the other, one association over both veth paths."""
    left, right = topology.addresses("left"), topology.addresses("right")
    with topology.left.entered():
        server = await sctpmh.create_server(echo, left, 0)
    async with server:
        with topology.right.entered():
            opening = sctpmh.open_association(left, server.port, local_addrs=right)
            association = await opening
        async with association:
            assert sorted(h for h, _ in association.peer_addresses) == sorted(left)
            assert sorted(h for h, _ in association.local_addresses) == sorted(right)
            for stream in range(4):
                await association.send(b"x%d" % stream, stream=stream, ppid=stream)
            replies = [await asyncio.wait_for(association.recv(), 10) for _ in range(4)]
            assert sorted((m.stream, m.data) for m in replies) == [
                (s, b"x%d" % s) for s in range(4)
            ]


@pytest.mark.parametrize("how", ["loss", "down"])
async def test_cut_path_goes_down_and_comes_back(topology: netlab.Topology, how: str) -> None:
    """The topology's cut / restore really break and mend a path: the kernel reports the
    cut address unreachable, then reachable again."""
    left, right = topology.addresses("left"), topology.addresses("right")
    config = sctpmh.Config.fast_failover()
    with topology.left.entered():
        server = await sctpmh.create_server(echo, left, 0, config=config)
    async with server:
        with topology.right.entered():
            association = await sctpmh.open_association(
                left, server.port, local_addrs=right, config=config
            )
        async with association:
            events = association.events()
            cut = (left[1], server.port)
            topology.cut(1, how)

            async def state_of(address: tuple[str, int], wanted: sctpmh.PathState) -> None:
                async for event in events:
                    if (
                        isinstance(event, sctpmh.PathStateChanged)
                        and event.address == address
                        and event.state is wanted
                    ):
                        return

            await asyncio.wait_for(state_of(cut, sctpmh.PathState.INACTIVE), 20)
            down = {p.address: p.state for p in association.paths}
            assert down[cut] is sctpmh.PathState.INACTIVE
            topology.restore(1, how)
            await asyncio.wait_for(state_of(cut, sctpmh.PathState.ACTIVE), 20)
            await association.send(b"still here", stream=0)
            assert (await asyncio.wait_for(association.recv(), 10)).data == b"still here"
