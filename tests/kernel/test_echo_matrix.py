"""Echo over every address family mix, and streams, ordering and PPIDs under interleaving."""

from __future__ import annotations

import asyncio
import collections

import pytest

import sctpmh
from lab import netlab

pytestmark = pytest.mark.kernel


async def echo(association: sctpmh.Association) -> None:
    async for message in association:
        await association.send(
            message.data, stream=message.stream, ppid=message.ppid, unordered=message.unordered
        )


@pytest.mark.parametrize(
    ("server_family", "client_family"),
    [("v4", "v4"), ("v6", "v6"), ("mixed", "mixed")],
)
async def test_echo_across_two_by_two_addresses(
    topology: netlab.Topology, server_family: str, client_family: str
) -> None:
    def addresses(side: str, family: str) -> list[str]:
        if family == "mixed":  # path 1 over IPv4, path 2 over IPv6
            return [topology.addresses(side, "v4")[0], topology.addresses(side, "v6")[1]]
        return topology.addresses(side, family)

    left, right = addresses("left", server_family), addresses("right", client_family)
    with topology.left.entered():
        server = await sctpmh.create_server(echo, left, 0)
    async with server:
        assert sorted(h for h, _ in server.addresses) == sorted(left)
        with topology.right.entered():
            association = await sctpmh.open_association(left, server.port, local_addrs=right)
        async with association:
            assert sorted(h for h, _ in association.peer_addresses) == sorted(left)
            assert sorted(h for h, _ in association.local_addresses) == sorted(right)
            for i, address in enumerate(association.peer_addresses):
                # Each destination in turn carries a message and its echo.
                await association.send(b"via %d" % i, stream=i + 1, ppid=i, to=address)
                reply = await asyncio.wait_for(association.recv(), 10)
                assert (reply.data, reply.stream, reply.ppid) == (b"via %d" % i, i + 1, i)


async def test_sixteen_interleaved_streams_keep_their_own_order() -> None:
    streams, per_stream = 16, 200
    config = sctpmh.Config(outbound_streams=streams, inbound_streams=streams)
    got: dict[int, list[int]] = collections.defaultdict(list)
    done = asyncio.Event()

    async def collect(association: sctpmh.Association) -> None:
        count = 0
        async for message in association:
            got[message.stream].append(int(message.data))
            assert message.ppid == message.stream * 0x11111111 % 2**32
            count += 1
            if count == streams * per_stream:
                done.set()

    async with await sctpmh.create_server(collect, ["127.0.0.1"], 0, config=config) as server:
        async with sctpmh.open_association(
            ["127.0.0.1"], server.port, config=config
        ) as association:
            assert association.outbound_streams == streams
            for seq in range(per_stream):
                for stream in range(streams):
                    await association.send(
                        b"%d" % seq, stream=stream, ppid=stream * 0x11111111 % 2**32
                    )
            await asyncio.wait_for(done.wait(), 60)
    assert sorted(got) == list(range(streams))
    for stream in range(streams):
        assert got[stream] == list(range(per_stream)), f"stream {stream} out of order"


async def test_unordered_messages_are_marked_and_all_arrive() -> None:
    received: asyncio.Queue[sctpmh.Message] = asyncio.Queue()

    async def collect(association: sctpmh.Association) -> None:
        async for message in association:
            received.put_nowait(message)

    async with await sctpmh.create_server(collect, ["127.0.0.1"], 0) as server:
        async with sctpmh.open_association(["127.0.0.1"], server.port) as association:
            for i in range(100):
                await association.send(b"%d" % i, stream=2, unordered=i % 2 == 1)
            messages = [await asyncio.wait_for(received.get(), 10) for _ in range(100)]
    assert sorted(int(m.data) for m in messages) == list(range(100))
    for message in messages:
        assert message.unordered is (int(message.data) % 2 == 1)
        # An unordered message has no stream sequence number (RFC 9260 section 3.3.1).
        assert (message.ssn is None) is message.unordered
    ordered = [int(m.data) for m in messages if not m.unordered]
    assert ordered == sorted(ordered)


@pytest.mark.parametrize("ppid", [0, 0x80, 0xFFFFFFFF])
async def test_ppids_round_trip_from_the_server_side_too(ppid: int) -> None:
    async def push(association: sctpmh.Association) -> None:
        await association.send(b"from server", stream=7, ppid=ppid)
        await association.wait_closed()

    async with await sctpmh.create_server(push, ["127.0.0.1"], 0) as server:
        async with sctpmh.open_association(["127.0.0.1"], server.port) as association:
            message = await asyncio.wait_for(association.recv(), 10)
    assert (message.data, message.stream, message.ppid) == (b"from server", 7, ppid)
