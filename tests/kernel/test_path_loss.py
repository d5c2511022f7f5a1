"""When every path dies: the association fails and hands back what it could not deliver;
and PR-SCTP lifetimes (ttl) abandon messages that cannot be delivered in time, while the
association lives on."""

from __future__ import annotations

import asyncio

import pytest

import sctpmh
from lab import netlab

pytestmark = pytest.mark.kernel


async def open_across(
    topology: netlab.Topology, handler: sctpmh.server.Handler, config: sctpmh.Config
) -> tuple[sctpmh.Server, sctpmh.Association]:
    left, right = topology.addresses("left"), topology.addresses("right")
    with topology.left.entered():
        server = await sctpmh.create_server(handler, left, 0, config=config)
    with topology.right.entered():
        association = await sctpmh.open_association(
            left, server.port, local_addrs=right, config=config
        )
    return server, association


def kernel_view(topology: netlab.Topology, association: sctpmh.Association) -> str:
    """What sctpmh and the client's kernel say of ``association``, for a failure message."""
    lines = [f"paths: {association.paths}"]
    with topology.right.entered():
        for table in ("assocs", "remaddr"):
            with open(f"/proc/thread-self/net/sctp/{table}") as file:
                lines.append(f"/proc/net/sctp/{table}:\n{file.read()}")
    return "\n".join(lines)


async def test_every_path_cut_fails_the_association_and_hands_back_the_data(
    topology: netlab.Topology,
) -> None:
    server_got: list[bytes] = []

    first_in = asyncio.Event()

    async def collect(association: sctpmh.Association) -> None:
        async for message in association:
            server_got.append(message.data)
            first_in.set()

    server, association = await open_across(topology, collect, sctpmh.Config.fast_failover())
    async with server:
        await association.send(b"before the cut", stream=1)
        await asyncio.wait_for(first_in.wait(), 30)  # delivered before the cut
        for index in range(len(topology.paths)):
            topology.cut(index, "loss")
        # Binary payloads: they must come back as the exact bytes, never decoded as text.
        unsent = [b"\xff\x00lost %d\x80" % i for i in range(20)]
        for data in unsent:
            association.transport.send(data, stream=2, ppid=7)

        handed_back: list[sctpmh.SendFailed] = []
        closed: list[sctpmh.AssociationClosed] = []

        async def watch() -> None:
            async for event in association.events():
                if isinstance(event, sctpmh.SendFailed):
                    handed_back.append(event)
                elif isinstance(event, sctpmh.AssociationClosed):
                    closed.append(event)

        try:
            await asyncio.wait_for(watch(), 60)
        except TimeoutError:
            pytest.fail(f"the association did not fail: {kernel_view(topology, association)}")
        # The association failed (RFC 9260 section 8.1) ...
        assert len(closed) == 1
        assert closed[0].aborted
        with pytest.raises(sctpmh.AssociationAbortedError):
            await association.recv()
        with pytest.raises(sctpmh.AssociationClosedError):
            await association.send(b"too late", stream=1)
        # ... and every message it could not deliver came back, with its stream and PPID.
        # (The message delivered before the cut comes back too when the cut beat its SACK.)
        returned = [e.data for e in handed_back if e.data != b"before the cut"]
        assert sorted(returned) == sorted(unsent)
        assert {(e.stream, e.ppid) for e in handed_back} == {(2, 7)}
        for index in range(len(topology.paths)):
            topology.restore(index, "loss")
    assert b"before the cut" in server_got
    # What never went on the wire cannot have arrived. A message that did go out may have
    # reached the peer even so: the two directions are cut by two processes, and one may lose
    # only its SACK (RFC 6458 SCTP_DATA_SENT: "the peer may have received it").
    never_sent = {e.data for e in handed_back if not e.sent}
    assert not never_sent & set(server_got)


async def test_ttl_abandons_undeliverable_messages_and_the_association_lives_on(
    topology: netlab.Topology,
) -> None:
    # Paths fail fast; the association itself outlives the outage (RFC 9260 section 8.2:
    # with every path inactive it carries on until Association.Max.Retrans).
    config = sctpmh.Config.fast_failover(
        path_max_retransmissions=3,
        association_max_retransmissions=200,
        potentially_failed_threshold=None,
        sender_dry_events=True,
    )
    received: asyncio.Queue[sctpmh.Message] = asyncio.Queue()

    async def collect(association: sctpmh.Association) -> None:
        async for message in association:
            received.put_nowait(message)

    server, association = await open_across(topology, collect, config)
    async with server, association:
        events: asyncio.Queue[sctpmh.Event] = asyncio.Queue()

        async def watch() -> None:
            async for event in association.events():
                events.put_nowait(event)

        watcher = asyncio.create_task(watch())
        for index in range(len(topology.paths)):
            topology.cut(index, "loss")
        doomed = [b"short-lived %d" % i for i in range(10)]
        for data in doomed:
            await association.send(data, stream=3, ttl=0.2)

        # Both paths are declared inactive, which takes well over the 0.2 s lifetime.
        down: set[tuple[str, int]] = set()
        while len(down) < len(topology.paths):
            event = await asyncio.wait_for(events.get(), 30)
            if (
                isinstance(event, sctpmh.PathStateChanged)
                and event.state is sctpmh.PathState.INACTIVE
            ):
                down.add(event.address)
        assert not association.closed

        for index in range(len(topology.paths)):
            topology.restore(index, "loss")
        await association.send(b"after the outage", stream=3)
        first = await asyncio.wait_for(received.get(), 30)
        assert first.data == b"after the outage", "abandoned messages must not arrive"
        # Linux 6.1 frees messages abandoned by their lifetime without a send-failed
        # notification (measured here: none arrives), so unlike a failed association's
        # data they are not handed back; SenderDry says nothing is outstanding any more.
        while not isinstance(await asyncio.wait_for(events.get(), 30), sctpmh.SenderDry):
            pass
        assert not association.closed
        watcher.cancel()
