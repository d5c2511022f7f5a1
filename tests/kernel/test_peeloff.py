"""Peel-off on a server: one association whose application stops reading does not hold back
the others on the shared one-to-many socket (RFC 6458 section 9.2).

- A handler stops reading while its client sends far more than ``read_high_water``; another
  association on the same server goes on with hundreds of echo round trips meanwhile, and
  once the first handler reads again it gets every message exactly once, in order (small
  messages, and messages large enough for the kernel's partial delivery).
- A peeled-off association keeps its event subscriptions and options, reports path changes
  (a path cut on the two-path namespace topology), closes gracefully or aborts, and the
  server closes with it; no file descriptor outlives the server.
- An abort by the peer while held reaches the server's side from the peeled-off socket, with
  the kernel's send-failed notifications for what it could not deliver.
- Where Linux refuses to peel off (from a thread outside the socket's network namespace), the
  shared socket stops being read as before, and nothing is lost.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Callable
from typing import cast

import pytest

import sctpmh
from lab import netlab
from sctpmh.kernel import sockapi

pytestmark = pytest.mark.kernel

HOST = "127.0.0.1"
#: Generous bound for one step that should happen promptly; never a measurement.
WAIT = 120.0
#: Bound for the echo round trips while the other association is held: before peel-off they
#: never completed at all.
ECHO_WAIT = 30.0
ROUND_TRIPS = 200
READ_HIGH_WATER = 32 * 1024
#: What a held association's client tries to send: more than every buffer between it and its
#: handler can take (Python queues of read_high_water, kernel send and receive buffers).
HELD_BYTES = 3 * 1024 * 1024


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def payload(seq: int, size: int) -> bytes:
    return seq.to_bytes(4, "big") * (size // 4)


async def send_many(association: sctpmh.Association, count: int, size: int) -> None:
    for seq in range(count):
        await association.send(payload(seq, size))


async def until_held_back(
    association: sctpmh.Association,
    sending: asyncio.Task[None],
    server_side_done: Callable[[], bool] = lambda: True,
) -> None:
    """Wait until the client's sends stop making progress because the server stopped reading
    its association: the client's write buffer stays non-empty and unchanged for a second,
    and ``server_side_done()`` says the server's side got there too.

    The client's side alone is not enough: the kernel's zero-window probing can leave the
    write buffer unchanged for a second (the probe waits one RTO, RFC 9260 section 6.1 A)
    while the server is still reading its way to the pause.
    """
    transport = association.transport
    last, unchanged = -1, 0
    async with asyncio.timeout(WAIT):
        while unchanged < 10 or not server_side_done():
            assert not sending.done(), "the client sent everything: nothing held it back"
            await asyncio.sleep(0.1)
            size = transport.get_write_buffer_size()
            unchanged = unchanged + 1 if size == last and size > 0 else 0
            last = size


def socket_of(transport: sctpmh.AssociationTransport) -> socket.socket:
    return cast(socket.socket, transport.get_extra_info("socket"))


@pytest.mark.parametrize("size", [4 * 1024, 384 * 1024], ids=["4KiB", "384KiB"])
async def test_a_paused_association_does_not_stall_the_others(size: int) -> None:
    count = HELD_BYTES // size
    config = sctpmh.Config(read_high_water=READ_HIGH_WATER)
    loop = asyncio.get_running_loop()
    held_side: asyncio.Future[sctpmh.Association] = loop.create_future()
    echo_side: asyncio.Future[sctpmh.Association] = loop.create_future()
    release = asyncio.Event()
    received: list[bytes] = []
    all_in = asyncio.Event()

    async def handle(association: sctpmh.Association) -> None:
        role = (await association.recv()).data
        if role == b"echo":
            echo_side.set_result(association)
            async for message in association:
                await association.send(message.data)
            return
        held_side.set_result(association)
        await release.wait()
        async for message in association:  # until the client closes, after its last send
            received.append(message.data)
        all_in.set()

    fds_at_start = open_fds()
    async with await sctpmh.create_server(handle, [HOST], 0, config=config) as server:
        async with (
            sctpmh.open_association([HOST], server.port) as held,
            sctpmh.open_association([HOST], server.port) as echo,
        ):
            fds_connected = open_fds()
            await held.send(b"hold")
            sending = asyncio.create_task(send_many(held, count, size))
            try:
                server_held = await asyncio.wait_for(held_side, WAIT)
                # Held back, and the server's side peeled off onto a socket of its own.
                await until_held_back(held, sending, lambda: open_fds() == fds_connected + 1)

                # The other association on the same server is served all along.
                await echo.send(b"echo")
                async with asyncio.timeout(ECHO_WAIT):
                    for i in range(ROUND_TRIPS):
                        request = b"round trip %d" % i
                        await echo.send(request)
                        assert (await echo.recv()).data == request
                assert not sending.done()  # and the held one was still held back

                # The held association reads from a socket of its own: one more fd.
                server_echo = await echo_side
                assert socket_of(server_held.transport) is not socket_of(server_echo.transport)
                assert open_fds() == fds_connected + 1  # still just the one
                assert not server_held.transport.is_reading()

                release.set()
                await asyncio.wait_for(sending, WAIT)
            finally:
                release.set()
                sending.cancel()
            await asyncio.wait_for(held.aclose(), WAIT)
            await asyncio.wait_for(all_in.wait(), WAIT)
            # Every message exactly once, in order (RFC 9260 section 6.6).
            assert len(received) == count
            assert all(data == payload(seq, size) for seq, data in enumerate(received))
            # The peeled-off socket went with its association.
            assert open_fds() == fds_connected - 1
    await asyncio.wait_for(server.wait_closed(), WAIT)
    assert server.transports == []
    assert open_fds() == fds_at_start


async def test_a_peeled_off_association_keeps_events_options_and_endings(
    topology: netlab.Topology,
) -> None:
    left, right = topology.addresses("left"), topology.addresses("right")
    config = sctpmh.Config.fast_failover(read_high_water=READ_HIGH_WATER)
    loop = asyncio.get_running_loop()
    roles = (b"close", b"abort")
    sides: dict[bytes, asyncio.Future[sctpmh.Association]] = {
        role: loop.create_future() for role in roles
    }
    release = {role: asyncio.Event() for role in roles}
    count = HELD_BYTES // (4 * 1024)
    all_in = asyncio.Event()
    paths_done = asyncio.Event()

    async def handle(association: sctpmh.Association) -> None:
        role = (await association.recv()).data
        sides[role].set_result(association)
        await release[role].wait()
        if role == b"abort":
            association.abort()
            return
        for seq in range(count):
            assert (await association.recv()).data == payload(seq, 4 * 1024)
        all_in.set()
        await paths_done.wait()
        # Returning closes the association gracefully.

    # Everything runs in the server's namespace: Linux peels off only there.
    with topology.left.entered():
        fds_at_start = open_fds()
        server = await sctpmh.create_server(handle, left, 0, config=config)
        clients: dict[bytes, sctpmh.Association] = {}
        with topology.right.entered():
            for role in roles:
                clients[role] = await sctpmh.open_association(
                    left, server.port, local_addrs=right, config=config
                )
        senders: dict[bytes, asyncio.Task[None]] = {}

        try:
            for role in roles:
                await clients[role].send(role)
                senders[role] = asyncio.create_task(send_many(clients[role], count, 4 * 1024))
            server_side = {role: await asyncio.wait_for(sides[role], WAIT) for role in roles}

            # Each held association on a socket of its own...
            def each_peeled_off() -> bool:
                return len({socket_of(t).fileno() for t in server.transports}) == len(roles)

            for role in roles:
                await until_held_back(clients[role], senders[role], each_peeled_off)

            # ...subscribed to the same events and with the same options as the server's
            # socket gave it.
            for role in roles:
                transport = server_side[role].transport
                peeled = socket_of(transport)
                assert peeled.type == socket.SOCK_SEQPACKET
                assert sockapi.subscribed_events(peeled, transport.association_id) == frozenset(
                    sockapi.SUBSCRIBED_EVENTS
                )
                assert sockapi.receives_rcvinfo(peeled)
                params = sockapi.get_association_parameters(peeled, transport.association_id)
                assert (params.rto_initial, params.rto_min, params.rto_max) == (
                    config.rto_initial,
                    config.rto_min,
                    config.rto_max,
                )
                assert params.heartbeat_interval == config.heartbeat_interval
                assert params.path_max_retransmissions == config.path_max_retransmissions
                assert (
                    params.association_max_retransmissions == config.association_max_retransmissions
                )
                assert params.potentially_failed_threshold == 0

            # An abort while held reaches the peer at once.
            release[b"abort"].set()
            await asyncio.wait_for(clients[b"abort"].wait_closed(), WAIT)
            with pytest.raises(sctpmh.AssociationAbortedError):
                await clients[b"abort"].recv()
            with pytest.raises(sctpmh.AssociationClosedError):
                await senders[b"abort"]
            await asyncio.wait_for(server_side[b"abort"].wait_closed(), WAIT)

            # The other one reads again, and reports path changes from its own socket.
            closing = server_side[b"close"]
            changes: asyncio.Queue[sctpmh.Event] = asyncio.Queue()

            async def watch() -> None:
                async for event in closing.events():
                    changes.put_nowait(event)

            watcher = asyncio.create_task(watch())
            release[b"close"].set()
            await asyncio.wait_for(senders[b"close"], WAIT)
            await asyncio.wait_for(all_in.wait(), WAIT)
            primary = next(p.address for p in closing.paths if p.primary)
            cut_index = right.index(primary[0])

            async def reaches(state: sctpmh.PathState) -> None:
                while True:
                    event = await changes.get()
                    if (
                        isinstance(event, sctpmh.PathStateChanged)
                        and event.address == primary
                        and event.state is state
                    ):
                        return

            topology.cut(cut_index, "loss")
            try:
                await asyncio.wait_for(reaches(sctpmh.PathState.INACTIVE), WAIT)
            finally:
                topology.restore(cut_index, "loss")
            await asyncio.wait_for(reaches(sctpmh.PathState.ACTIVE), WAIT)

            # A graceful close by the server's side: the peer sees a clean end.
            paths_done.set()
            await asyncio.wait_for(clients[b"close"].wait_closed(), WAIT)
            with pytest.raises(sctpmh.AssociationClosedError) as ended:
                await clients[b"close"].recv()
            assert not isinstance(ended.value, sctpmh.AssociationAbortedError)
            ending = await asyncio.wait_for(changes.get(), WAIT)
            while not isinstance(ending, sctpmh.AssociationClosed):
                ending = await asyncio.wait_for(changes.get(), WAIT)
            assert not ending.aborted
            watcher.cancel()

            server.close()
            await asyncio.wait_for(server.wait_closed(), WAIT)
            assert server.transports == []
        finally:
            for sender in senders.values():
                sender.cancel()
            for client in clients.values():
                client.abort()
            server.abort()
        assert open_fds() == fds_at_start


async def test_a_peeled_off_association_reports_the_peers_abort_and_failed_sends() -> None:
    config = sctpmh.Config(read_high_water=READ_HIGH_WATER)
    loop = asyncio.get_running_loop()
    held_side: asyncio.Future[sctpmh.Association] = loop.create_future()
    pushing: asyncio.Future[asyncio.Task[None]] = loop.create_future()
    release = asyncio.Event()
    events: list[sctpmh.Event] = []
    outcome: asyncio.Future[BaseException | None] = loop.create_future()

    async def push(association: sctpmh.Association) -> None:
        # To a peer that never reads: most of this stays unsent when the peer aborts.
        for seq in range(256):
            await association.send(payload(seq, 16 * 1024))

    async def collect(association: sctpmh.Association) -> None:
        async for event in association.events():
            events.append(event)
            if isinstance(event, sctpmh.AssociationClosed):
                return

    async def handle(association: sctpmh.Association) -> None:
        await association.recv()
        collecting = asyncio.create_task(collect(association))
        pushing.set_result(asyncio.create_task(push(association)))
        held_side.set_result(association)
        await release.wait()
        try:
            while True:
                await association.recv()
        except sctpmh.AssociationClosedError as exc:
            outcome.set_result(exc)
        await collecting

    async with await sctpmh.create_server(handle, [HOST], 0, config=config) as server:
        held = await sctpmh.open_association([HOST], server.port)
        fds_connected = open_fds()
        await held.send(b"hold")
        sending = asyncio.create_task(send_many(held, HELD_BYTES // (4 * 1024), 4 * 1024))
        try:
            server_held = await asyncio.wait_for(held_side, WAIT)
            server_push = await pushing
            await until_held_back(held, sending, lambda: open_fds() == fds_connected + 1)
            await until_held_back(server_held, server_push)
            fds_held = open_fds()

            # The peer aborts while the server's side of the association is held: its
            # notifications wait on the peeled-off socket behind the unread messages.
            held.abort()
            release.set()
            error = await asyncio.wait_for(outcome, WAIT)
            assert isinstance(error, sctpmh.AssociationAbortedError)
            with pytest.raises(sctpmh.AssociationClosedError):
                await asyncio.wait_for(server_push, WAIT)
        finally:
            release.set()
            sending.cancel()
        # The association change ended it as aborted, and what the kernel could not deliver
        # came back from it (not only sctpmh's own queue, whose failures say ECONNABORTED).
        closed = [e for e in events if isinstance(e, sctpmh.AssociationClosed)]
        assert len(closed) == 1
        assert closed[0].aborted
        failed = [e for e in events if isinstance(e, sctpmh.SendFailed)]
        assert any(e.error != errno.ECONNABORTED for e in failed), failed
        assert open_fds() == fds_held - 2  # the peer's socket and the peeled-off one
    assert server.transports == []


async def test_outside_the_sockets_namespace_the_shared_socket_pauses_instead(
    topology: netlab.Topology, caplog: pytest.LogCaptureFixture
) -> None:
    left, right = topology.addresses("left"), topology.addresses("right")
    config = sctpmh.Config(read_high_water=READ_HIGH_WATER)
    loop = asyncio.get_running_loop()
    held_side: asyncio.Future[sctpmh.Association] = loop.create_future()
    release = asyncio.Event()
    received: list[bytes] = []
    count = HELD_BYTES // (4 * 1024)

    async def handle(association: sctpmh.Association) -> None:
        await association.recv()
        held_side.set_result(association)
        await release.wait()
        async for message in association:
            received.append(message.data)

    with topology.left.entered():
        server = await sctpmh.create_server(handle, left, 0, config=config)
    # From here on the thread is back in its own namespace, where Linux refuses to peel off
    # an association of the server's socket (net/sctp/socket.c, sctp_do_peeloff).
    async with server:
        with topology.right.entered():
            held = await sctpmh.open_association(
                left, server.port, local_addrs=right, config=config
            )
        await held.send(b"hold")
        sending = asyncio.create_task(send_many(held, count, 4 * 1024))
        try:
            server_held = await asyncio.wait_for(held_side, WAIT)
            fds_connected = open_fds()
            await until_held_back(held, sending, lambda: "could not be peeled off" in caplog.text)
            assert open_fds() == fds_connected  # no socket of its own
            assert not server_held.transport.is_reading()
            release.set()
            await asyncio.wait_for(sending, WAIT)
        finally:
            release.set()
            sending.cancel()
        await asyncio.wait_for(held.aclose(), WAIT)
        await asyncio.wait_for(server_held.wait_closed(), WAIT)
        assert len(received) == count
        assert all(data == payload(seq, 4 * 1024) for seq, data in enumerate(received))
