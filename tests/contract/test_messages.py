"""Messages: streams, PPIDs, unordered delivery, order per stream, large messages."""

from __future__ import annotations

import asyncio

import pytest

import sctpmh

from .conftest import Opener

pytestmark = pytest.mark.timeout(120)


async def test_echo_on_many_streams_keeps_order_per_stream(open_pair: Opener) -> None:
    pair = await open_pair()
    client = pair.client
    streams = min(16, client.outbound_streams)
    for round_ in range(10):
        for stream in range(streams):
            await client.send(f"{stream}:{round_}".encode(), stream=stream, ppid=stream)
    got: dict[int, list[int]] = {}
    for _ in range(10 * streams):
        message = await asyncio.wait_for(client.recv(), 30)
        stream_text, round_text = message.data.decode().split(":")
        assert int(stream_text) == message.stream == message.ppid
        got.setdefault(message.stream, []).append(int(round_text))
    assert got == {stream: list(range(10)) for stream in range(streams)}


@pytest.mark.parametrize("ppid", [0, 0x80, 0x12345678, 0xFFFFFFFF])
async def test_ppid_range_round_trips_in_host_order(open_pair: Opener, ppid: int) -> None:
    pair = await open_pair()
    await pair.client.send(b"ppid", stream=1, ppid=ppid)
    message = await asyncio.wait_for(pair.client.recv(), 30)
    assert (message.data, message.stream, message.ppid) == (b"ppid", 1, ppid)


async def test_unordered_messages_arrive_flagged(open_pair: Opener) -> None:
    pair = await open_pair()
    await pair.client.send(b"u", stream=2, unordered=True)
    await pair.client.send(b"o", stream=2)
    received = [await asyncio.wait_for(pair.client.recv(), 30) for _ in range(2)]
    flags = {m.data: m.unordered for m in received}
    assert flags == {b"u": True, b"o": False}


async def test_per_stream_queues_take_their_stream_only(open_pair: Opener) -> None:
    pair = await open_pair()
    five = pair.client.stream(5)
    await pair.client.send(b"to zero", stream=0)
    await five.send(b"to five", ppid=7)
    message = await asyncio.wait_for(five.recv(), 30)
    assert (message.data, message.stream, message.ppid) == (b"to five", 5, 7)
    other = await asyncio.wait_for(pair.client.recv(), 30)
    assert (other.data, other.stream) == (b"to zero", 0)


async def test_messages_up_to_the_configured_maximum(open_pair: Opener) -> None:
    limit = 256 * 1024
    config = sctpmh.Config(max_message_size=limit)
    pair = await open_pair(config=config)
    payload = bytes(range(256)) * (limit // 256)
    await pair.client.send(payload, stream=1)
    message = await asyncio.wait_for(pair.client.recv(), 60)
    assert message.data == payload
    with pytest.raises(sctpmh.MessageTooLargeError) as raised:
        await pair.client.send(payload + b"!", stream=1)
    assert (raised.value.size, raised.value.limit) == (limit + 1, limit)


async def test_a_burst_of_messages_arrives_whole_and_in_order(open_pair: Opener) -> None:
    pair = await open_pair()
    count = 500
    for index in range(count):
        await pair.client.send(index.to_bytes(4, "big") * 100, stream=3)
    for index in range(count):
        message = await asyncio.wait_for(pair.client.recv(), 30)
        assert message.data == index.to_bytes(4, "big") * 100
