"""Backpressure, paths and primary, per-message destination, get_extra_info, features."""

from __future__ import annotations

import asyncio

import pytest

import sctpmh
from sctpmh import registry, seam

from .conftest import CLIENT, SERVER, Opener

pytestmark = pytest.mark.timeout(120)


class _Recorder(sctpmh.AssociationProtocol):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        self.transport = transport

    def pause_writing(self) -> None:
        self.calls.append("pause")

    def resume_writing(self) -> None:
        self.calls.append("resume")


async def test_send_waits_over_the_high_water_mark_and_resumes(open_pair: Opener) -> None:
    reading = asyncio.Event()
    got: list[int] = []

    async def slow_reader(association: sctpmh.Association) -> None:
        await reading.wait()
        async for message in association:
            got.append(len(message.data))

    config = sctpmh.Config(
        read_high_water=16 * 1024, receive_buffer_size=64 * 1024, send_buffer_size=64 * 1024
    )
    pair = await open_pair(handler=slow_reader, config=config)
    client = pair.client
    client.transport.set_write_buffer_limits(high=32 * 1024)
    sending = asyncio.ensure_future(_send_many(client, 2_000))
    # The sender gets stuck: the peer does not read, so the buffer passed its high-water mark
    # and stays above the low-water mark (8 KiB).
    for _ in range(1000):
        if client.transport.get_write_buffer_size() > 8 * 1024:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    assert client.transport.get_write_buffer_size() > 8 * 1024
    assert not sending.done()
    reading.set()
    await asyncio.wait_for(sending, 60)
    await client.drain()
    await client.close()
    await asyncio.sleep(0)
    for _ in range(600):
        if len(got) == 2_000:
            break
        await asyncio.sleep(0.05)
    assert got == [1024] * 2_000


async def _send_many(association: sctpmh.Association, count: int) -> None:
    for _ in range(count):
        await association.send(b"b" * 1024, stream=1)


async def test_pause_and_resume_writing_on_the_edges(backend: str) -> None:
    holding = asyncio.Event()

    async def hold_then_read(association: sctpmh.Association) -> None:
        await holding.wait()
        async for _ in association:
            pass

    config = sctpmh.Config(
        read_high_water=16 * 1024, receive_buffer_size=64 * 1024, send_buffer_size=64 * 1024
    )
    server = await sctpmh.create_server(hold_then_read, SERVER, 0, config=config, backend=backend)
    try:
        transport, protocol = await sctpmh.open_protocol_association(
            _Recorder, SERVER, server.port, local_addrs=CLIENT, config=config, backend=backend
        )
        transport.set_write_buffer_limits(high=16 * 1024, low=4 * 1024)
        for _ in range(5_000):
            transport.send(b"p" * 1024, stream=1)
            if protocol.calls:
                break
            await asyncio.sleep(0)
        assert protocol.calls == ["pause"]
        holding.set()
        for _ in range(600):
            if protocol.calls == ["pause", "resume"]:
                break
            await asyncio.sleep(0.05)
        assert protocol.calls == ["pause", "resume"]
        assert transport.get_write_buffer_size() <= 4 * 1024
        transport.close()
    finally:
        await server.abort()


async def test_paths_list_every_peer_address_with_one_primary(open_pair: Opener) -> None:
    pair = await open_pair()
    paths = pair.client.paths
    assert sorted(p.address for p in paths) == sorted((h, pair.server.port) for h in SERVER)
    assert sum(p.primary for p in paths) == 1
    for path in paths:
        assert path.rto > 0
        assert path.cwnd > 0
        assert path.mtu > 0
    assert sorted(pair.client.peer_addresses) == sorted((h, pair.server.port) for h in SERVER)
    assert sorted(h for h, _ in pair.client.local_addresses) == CLIENT


async def test_set_primary_and_to_or_not_supported(open_pair: Opener, backend: str) -> None:
    pair = await open_pair()
    features = registry.get_backend(backend).features
    other = next(p.address for p in pair.client.paths if not p.primary)
    if seam.SET_PRIMARY in features:
        await pair.client.set_primary(other)
        for _ in range(100):
            if next(p for p in pair.client.paths if p.address == other).primary:
                break
            await asyncio.sleep(0.05)
        assert [p.address for p in pair.client.paths if p.primary] == [other]
    else:
        with pytest.raises(sctpmh.NotSupportedError, match=f"the {backend} backend"):
            await pair.client.set_primary(other)
    if seam.SEND_TO in features:
        await pair.client.send(b"to", stream=1, to=other)
        assert (await asyncio.wait_for(pair.client.recv(), 30)).data == b"to"
    else:
        with pytest.raises(sctpmh.NotSupportedError, match="to="):
            await pair.client.send(b"to", stream=1, to=other)
    if seam.PR_SCTP in features:
        await pair.client.send(b"ttl", stream=1, ttl=5.0)
        assert (await asyncio.wait_for(pair.client.recv(), 30)).data == b"ttl"
    else:
        with pytest.raises(sctpmh.NotSupportedError, match="ttl="):
            await pair.client.send(b"ttl", stream=1, ttl=5.0)
    if seam.ASCONF not in features:
        with pytest.raises(sctpmh.NotSupportedError, match="add_local_address"):
            await pair.client.add_local_address(("127.0.0.9", 0))


async def test_get_extra_info(open_pair: Opener, backend: str) -> None:
    pair = await open_pair()
    transport = pair.client.transport
    assert transport.get_extra_info("backend") == backend
    assert transport.get_extra_info("association_id") == pair.client.association_id
    assert transport.get_extra_info("peername") in pair.client.peer_addresses
    assert transport.get_extra_info("sockname") in pair.client.local_addresses
    assert transport.get_extra_info("no such thing", "default") == "default"
    assert (transport.get_extra_info("socket") is None) == (backend != "kernel")


async def test_message_source_is_a_peer_address(open_pair: Opener) -> None:
    pair = await open_pair()
    await pair.client.send(b"where from", stream=1)
    message = await asyncio.wait_for(pair.client.recv(), 30)
    assert message.source in pair.client.peer_addresses
