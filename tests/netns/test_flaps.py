"""100 link flaps under continuous load on the udp backend: each path in turn is cut (its
link down, or every datagram dropped by nftables) and mended while numbered messages keep
flowing; nothing is lost or delivered twice, order is kept, and the association survives.

A flap lasts 0.05 s (shorter than one retransmission timeout), 0.3 s (a few timeouts: the
path becomes potentially failed) or 1 s (long enough to be declared inactive with the
fast-failover preset). Before the other path is cut, the mended one is active again in both
ends' views, so that one path always works."""

from __future__ import annotations

import asyncio
import collections
import time

import pytest

import sctpmh

from .conftest import Opener
from .traffic import PathStates, Receiver, core_stats, numbered

pytestmark = pytest.mark.netns

FLAPS = 100
HOLDS = (0.05, 0.3, 1.0)
CUTS = ("down", "drop")
FLAPS_WITHIN = 240.0


async def test_hundred_flaps_under_load_lose_nothing(two_hosts: Opener) -> None:
    receiver = Receiver()
    config = sctpmh.Config.fast_failover()
    hosts = await two_hosts(receiver.handler, config)
    topology, client = hosts.topology, hosts.client
    server_side = await asyncio.wait_for(hosts.served, 10)
    left, right = topology.addresses("left"), topology.addresses("right")
    port = hosts.server.port
    client_view, server_view = PathStates(client), PathStates(server_side)
    sent = 0
    stop = asyncio.Event()

    async def load() -> None:
        nonlocal sent
        while not stop.is_set():
            stream, payload = numbered(sent)
            await client.send(payload, stream=stream)
            sent += 1

    sender = asyncio.create_task(load())
    try:
        await client_view.reach((left[1], port), sctpmh.PathState.ACTIVE, 10)
        await server_view.reach((right[1], port), sctpmh.PathState.ACTIVE, 10)
        started = time.monotonic()
        worst: dict[str, float] = collections.defaultdict(float)
        # All of them bounded as one, besides each wait's own bound (64 s measured).
        async with asyncio.timeout(FLAPS_WITHIN):
            for flap in range(FLAPS):
                index, how = flap % 2, CUTS[flap // 2 % 2]
                hold = HOLDS[flap // 4 % len(HOLDS)]
                await asyncio.to_thread(topology.cut, index, how)
                await asyncio.sleep(hold)
                await asyncio.to_thread(topology.restore, index, how)
                mended = time.monotonic()
                await client_view.reach((left[index], port), sctpmh.PathState.ACTIVE, 20)
                await server_view.reach((right[index], port), sctpmh.PathState.ACTIVE, 20)
                worst[f"{how} {hold}"] = max(
                    worst[f"{how} {hold}"], round(time.monotonic() - mended, 3)
                )
                assert not sender.done(), "the sender stopped"
        took = time.monotonic() - started
        stop.set()
        await asyncio.wait_for(sender, 30)
        await receiver.wait_for(sent, 60)
        receiver.check(sent)
        stats = core_stats(client)
        print(
            f"{FLAPS} flaps in {took:.1f} s under load: {sent} messages, each once and in "
            f"order; longest wait for a mended path to be active again, by cut and hold: "
            f"{dict(worst)}; client T3 timeouts {stats['t3_expirations']}, fast retransmits "
            f"{stats['fast_retransmits']}, DATA chunks sent {stats['data_chunks_sent']}; "
            f"{len(client_view.changes)} path state changes seen by the client"
        )
    finally:
        stop.set()
        sender.cancel()
        client_view.close()
        server_view.close()
