"""The end of an association, as docs/lifecycle.md's table gives it, on every backend."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Awaitable, Callable

import pytest

import sctpmh

from .conftest import CLIENT, SERVER, Cuttable, Opener, exception_handler_calls

pytestmark = pytest.mark.timeout(120)

USER_INITIATED_ABORT = 12


async def events_until_closed(association: sctpmh.Association) -> list[sctpmh.Event]:
    """Every event of ``association`` up to and including AssociationClosed."""
    return [event async for event in association.events()]


def closed_event(events: list[sctpmh.Event]) -> sctpmh.AssociationClosed:
    assert isinstance(events[-1], sctpmh.AssociationClosed), events
    return events[-1]


async def test_graceful_close_by_this_side_flushes_everything(open_pair: Opener) -> None:
    got: list[bytes] = []
    ended = asyncio.get_running_loop().create_future()

    async def collect(association: sctpmh.Association) -> None:
        async for message in association:
            got.append(message.data)
        ended.set_result(await events_until_closed(association))

    pair = await open_pair(handler=collect)
    sent = [b"%d" % index * 50 for index in range(200)]
    for data in sent:
        await pair.client.send(data, stream=1)
    await pair.client.close()  # awaitable: done once the association has ended
    assert pair.client.closed
    client_events = await events_until_closed(pair.client)
    assert closed_event(client_events) == sctpmh.AssociationClosed(cause=None, aborted=False)
    server_events = await asyncio.wait_for(ended, 30)
    assert got == sent
    assert any(isinstance(e, sctpmh.PeerShutdown) for e in server_events)
    assert closed_event(server_events).aborted is False
    with pytest.raises(sctpmh.AssociationClosedError) as raised:
        await pair.client.recv()
    assert not isinstance(raised.value, sctpmh.AssociationAbortedError)


async def test_graceful_close_by_the_peer_ends_iteration_cleanly(open_pair: Opener) -> None:
    async def answer_once(association: sctpmh.Association) -> None:
        message = await association.recv()
        await association.send(message.data, stream=message.stream)
        # returning closes the association gracefully

    pair = await open_pair(handler=answer_once)
    await pair.client.send(b"one", stream=2)
    received = [message.data async for message in pair.client]  # ends without raising
    assert received == [b"one"]
    events = await events_until_closed(pair.client)
    assert any(isinstance(e, sctpmh.PeerShutdown) for e in events)
    assert closed_event(events) == sctpmh.AssociationClosed(cause=None, aborted=False)
    with pytest.raises(sctpmh.AssociationClosedError):
        await pair.client.send(b"late")


async def test_local_abort_is_aborted_here_and_remote_there(open_pair: Opener) -> None:
    server_error = asyncio.get_running_loop().create_future()

    async def wait_for_end(association: sctpmh.Association) -> None:
        try:
            await association.recv()
        except sctpmh.AssociationClosedError as exc:
            server_error.set_result(exc)

    pair = await open_pair(handler=wait_for_end)
    await pair.client.abort()
    events = await events_until_closed(pair.client)
    assert closed_event(events) == sctpmh.AssociationClosed(
        cause=USER_INITIATED_ABORT, aborted=True
    )
    with pytest.raises(sctpmh.AssociationAbortedError) as here:
        await pair.client.recv()
    assert (here.value.remote, here.value.cause) == (False, USER_INITIATED_ABORT)
    there = await asyncio.wait_for(server_error, 30)
    assert isinstance(there, sctpmh.AssociationAbortedError)
    assert (there.remote, there.cause) == (True, USER_INITIATED_ABORT)


async def test_abort_hands_back_what_was_not_sent(open_pair: Opener) -> None:
    async def never_read(association: sctpmh.Association) -> None:
        await asyncio.Event().wait()

    config = sctpmh.Config(read_high_water=16 * 1024, receive_buffer_size=64 * 1024)
    pair = await open_pair(handler=never_read, config=config)
    transport = pair.client.transport
    sent: set[bytes] = set()
    for index in range(50_000):
        data = index.to_bytes(4, "big") * 256
        transport.send(data, stream=1)
        sent.add(data)
        if transport.get_write_buffer_size() > 0:
            break
        if index % 64 == 0:
            await asyncio.sleep(0.001)
    assert transport.get_write_buffer_size() > 0, "the peer's window never closed"
    await pair.client.abort()
    events = await events_until_closed(pair.client)
    failed = [e for e in events if isinstance(e, sctpmh.SendFailed)]
    assert failed, "queued messages were dropped silently"
    assert {e.data for e in failed} <= sent
    # sctpmh's errno for what an ended association hands back.
    assert errno.ECONNABORTED in {e.error for e in failed}
    assert transport.get_write_buffer_size() == 0


async def test_a_failing_handler_aborts_only_its_association(open_pair: Opener) -> None:
    calls = 0

    async def fail_first(association: sctpmh.Association) -> None:
        nonlocal calls
        calls += 1
        message = await association.recv()
        if calls == 1:
            raise RuntimeError("handler bug")
        await association.send(message.data, stream=message.stream)
        await association.recv()

    pair = await open_pair(handler=fail_first)
    await pair.client.send(b"boom", stream=1)
    with pytest.raises(sctpmh.AssociationAbortedError) as raised:
        await asyncio.wait_for(pair.client.recv(), 30)
    assert (raised.value.remote, raised.value.cause) == (True, USER_INITIATED_ABORT)
    second = await pair.connect()
    try:
        await second.send(b"fine", stream=1)
        assert (await asyncio.wait_for(second.recv(), 30)).data == b"fine"
    finally:
        second.abort()
    assert pair.server.is_serving()


class _Echo(sctpmh.AssociationProtocol):
    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        self.transport = transport

    def message_received(self, message: sctpmh.Message) -> None:
        self.transport.send(message.data, stream=message.stream, ppid=message.ppid)


class _Broken(sctpmh.AssociationProtocol):
    def connection_made(self, transport: sctpmh.AssociationTransport) -> None:
        raise RuntimeError("connection_made bug")


async def test_a_raising_connection_made_ends_only_that_association(backend: str) -> None:
    made = 0

    def factory() -> sctpmh.AssociationProtocol:
        nonlocal made
        made += 1
        return _Broken() if made == 1 else _Echo()

    loop = asyncio.get_running_loop()
    server = await sctpmh.create_protocol_server(factory, SERVER, 0, backend=backend)
    try:
        with exception_handler_calls(loop) as reported:
            first = await sctpmh.open_association(
                SERVER, server.port, local_addrs=CLIENT, backend=backend
            )
            with pytest.raises(sctpmh.AssociationAbortedError):
                await asyncio.wait_for(first.recv(), 30)
        assert any("connection_made" in str(c.get("message")) for c in reported), reported
        second = await sctpmh.open_association(
            SERVER, server.port, local_addrs=CLIENT, backend=backend
        )
        await second.send(b"served", stream=1)
        assert (await asyncio.wait_for(second.recv(), 30)).data == b"served"
        await second.close()
    finally:
        await server.abort()


async def test_every_path_failed_reports_the_loss(
    cuttable: Callable[..., Awaitable[Cuttable]],
) -> None:
    async def hold(association: sctpmh.Association) -> None:
        async for _ in association:
            pass

    pair = await cuttable(hold, sctpmh.Config.fast_failover())
    await pair.client.send(b"before", stream=1)
    await asyncio.sleep(0.3)
    pair.cut_all()
    for index in range(5):
        await pair.client.send(b"after %d" % index, stream=1)
    events = await asyncio.wait_for(events_until_closed(pair.client), 60)
    lost = [e for e in events if isinstance(e, sctpmh.AssociationLost)]
    assert len(lost) == 1, events
    assert closed_event(events).aborted is True
    handed_back = {e.data for e in events if isinstance(e, sctpmh.SendFailed)}
    assert {b"after %d" % index for index in range(5)} <= handed_back
    with pytest.raises(sctpmh.AssociationLostError) as raised:
        await pair.client.recv()
    assert raised.value.remote is False


async def test_close_is_awaitable_and_need_not_be_awaited(open_pair: Opener) -> None:
    pair = await open_pair()
    second = await pair.connect()
    future = second.close()  # not awaited here: harmless
    await pair.client.close()
    await asyncio.wait_for(future, 30)
    assert second.closed
    assert pair.client.closed
    await asyncio.wait_for(pair.server.close(), 30)
    assert not pair.server.is_serving()
