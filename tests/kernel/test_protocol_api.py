"""The callback-style API: a small request/response protocol written on AssociationProtocol."""

from __future__ import annotations

import asyncio

import pytest

import sctpmh

pytestmark = pytest.mark.kernel

REQUEST, RESPONSE = 1001, 1002  # PPIDs per message type


class UpperServer(sctpmh.AssociationProtocol):
    """Answers each request on the stream it came on, upper-cased, with the response PPID."""

    def __init__(self, ended: asyncio.Queue[Exception | None] | None = None) -> None:
        self.ended = ended

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ended is not None:
            self.ended.put_nowait(exc)

    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        self.transport = transport

    def message_received(self, message: sctpmh.Message) -> None:
        if message.ppid != REQUEST:
            self.transport.abort()
            return
        self.transport.send(message.data.upper(), stream=message.stream, ppid=RESPONSE)


class Client(sctpmh.AssociationProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[sctpmh.Message] = asyncio.Queue()
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.made = False

    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        self.made = True

    def message_received(self, message: sctpmh.Message) -> None:
        self.replies.put_nowait(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set_result(exc)


async def test_request_response_protocol_over_callbacks() -> None:
    ended: asyncio.Queue[Exception | None] = asyncio.Queue()
    server = await sctpmh.create_protocol_server(
        lambda: UpperServer(ended), ["127.0.0.1", "127.0.0.2"], 0
    )
    async with server:
        transport, client = await sctpmh.open_protocol_association(
            Client, ["127.0.0.1", "127.0.0.2"], server.port, local_addrs=["127.0.0.3"]
        )
        assert client.made
        assert transport.get_extra_info("association_id") == transport.association_id
        assert sorted(transport.get_extra_info("peer_addresses")) == [
            ("127.0.0.1", server.port),
            ("127.0.0.2", server.port),
        ]
        assert transport.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
        for stream in range(1, 6):
            transport.send(b"request %d" % stream, stream=stream, ppid=REQUEST)
        replies = [await asyncio.wait_for(client.replies.get(), 10) for _ in range(5)]
        assert sorted((m.stream, m.data, m.ppid) for m in replies) == [
            (s, b"REQUEST %d" % s, RESPONSE) for s in range(1, 6)
        ]
        assert len(server.transports) == 1
        transport.close()
        assert await asyncio.wait_for(client.lost, 10) is None
        # The server side ends gracefully too, and the server forgets the association.
        assert await asyncio.wait_for(ended.get(), 10) is None
        assert server.transports == []


async def test_protocol_server_aborts_what_breaks_its_rules() -> None:
    server = await sctpmh.create_protocol_server(UpperServer, ["127.0.0.1"], 0)
    async with server:
        transport, client = await sctpmh.open_protocol_association(
            Client, ["127.0.0.1"], server.port
        )
        transport.send(b"not a request", stream=0, ppid=999)
        lost = await asyncio.wait_for(client.lost, 10)
        assert isinstance(lost, sctpmh.AssociationAbortedError)


class Recorder(sctpmh.AssociationProtocol):
    """Records what it gets; tells when the count reaches a mark."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.events: list[sctpmh.Event] = []
        self.mark = 0
        self.reached: asyncio.Event = asyncio.Event()

    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        self.transport = transport

    def message_received(self, message: sctpmh.Message) -> None:
        self.messages.append(message.data)
        if len(self.messages) >= self.mark:
            self.reached.set()

    def event_received(self, event: sctpmh.Event) -> None:
        self.events.append(event)


async def test_paused_reading_holds_messages_until_resumed() -> None:
    server = await sctpmh.create_protocol_server(UpperServer, ["127.0.0.1"], 0)
    async with server:
        transport, client = await sctpmh.open_protocol_association(
            Recorder, ["127.0.0.1"], server.port
        )
        client.mark = 1
        transport.send(b"first", stream=0, ppid=REQUEST)
        await asyncio.wait_for(client.reached.wait(), 10)
        transport.pause_reading()
        assert not transport.is_reading()
        for i in range(50):
            transport.send(b"held %d" % i, stream=0, ppid=REQUEST)
        # A round trip on the server side proves the 50 replies were sent before this point:
        # the server answers in order on one stream, so the marker reply comes after them.
        marker_client = await sctpmh.open_association(["127.0.0.1"], server.port)
        await marker_client.send(b"marker", stream=0, ppid=REQUEST)
        assert (await asyncio.wait_for(marker_client.recv(), 10)).data == b"MARKER"
        await marker_client.aclose()
        assert client.messages == [b"FIRST"], "nothing is delivered while reading is paused"
        client.mark = 51
        client.reached.clear()
        transport.resume_reading()
        await asyncio.wait_for(client.reached.wait(), 10)
        assert client.messages == [b"FIRST"] + [b"HELD %d" % i for i in range(50)]
        transport.close()


@pytest.mark.parametrize("sender_dry_events", [True, False])
async def test_peer_shutdown_and_sender_dry_events_reach_the_protocol(
    sender_dry_events: bool,
) -> None:
    ended: asyncio.Queue[Exception | None] = asyncio.Queue()
    server = await sctpmh.create_protocol_server(lambda: UpperServer(ended), ["127.0.0.1"], 0)
    async with server:
        transport, client = await sctpmh.open_protocol_association(
            Recorder,
            ["127.0.0.1"],
            server.port,
            config=sctpmh.Config(sender_dry_events=sender_dry_events),
        )
        client.mark = 1
        transport.send(b"x", stream=0, ppid=REQUEST)
        await asyncio.wait_for(client.reached.wait(), 10)
        # The server's side closes; the client is told the peer is shutting down.
        (server_transport,) = server.transports
        server_transport.close()
        assert await asyncio.wait_for(ended.get(), 10) is None
    assert any(isinstance(e, sctpmh.PeerShutdown) for e in client.events)
    # Reported only when asked for (Config.sender_dry_events).
    assert any(isinstance(e, sctpmh.SenderDry) for e in client.events) is sender_dry_events


async def test_serve_forever_returns_when_the_server_is_closed() -> None:
    async def echo(association: sctpmh.Association) -> None:
        async for message in association:
            await association.send(message.data, stream=message.stream)

    server = await sctpmh.create_server(echo, ["127.0.0.1"], 0)
    serving = asyncio.create_task(server.serve_forever())
    async with sctpmh.open_association(["127.0.0.1"], server.port) as association:
        await association.send(b"ping", stream=1)
        assert (await asyncio.wait_for(association.recv(), 10)).data == b"ping"
        assert server.is_serving()
        assert len(server.associations) == 1
        server.close()
        await asyncio.wait_for(serving, 10)
        # close() shut the live association down gracefully: the client's iteration ends.
        assert [m async for m in association] == []
    await asyncio.wait_for(server.wait_closed(), 10)
    assert not server.is_serving()
    assert server.addresses == []
