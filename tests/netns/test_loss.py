"""5% of the datagrams lost at random on every path, both ways (nftables in both namespaces'
input hooks), over 100,000 messages on the udp backend: nothing lost, nothing twice, order
kept on every stream. The messages go with flow control (``await send``), not ping-pong, so
that the run takes seconds; its duration and the retransmission counts are printed."""

from __future__ import annotations

import time

import pytest

import sctpmh

from .conftest import Opener
from .traffic import PathStates, Receiver, core_stats, send_numbered

pytestmark = pytest.mark.netns

MESSAGES = 100_000
LOSS_PERCENT = 5


async def test_five_percent_loss_on_every_path_loses_nothing(two_hosts: Opener) -> None:
    receiver = Receiver()
    hosts = await two_hosts(receiver.handler, sctpmh.Config.fast_failover())
    topology, client = hosts.topology, hosts.client
    paths = PathStates(client)
    try:
        topology.set_loss(LOSS_PERCENT)
        started = time.monotonic()
        await send_numbered(client, 0, MESSAGES)
        await receiver.wait_for(MESSAGES, 120)
        took = time.monotonic() - started
        receiver.check(MESSAGES)
        dropped = topology.dropped()
        # The rules dropped about 5% of the datagrams that reached the interfaces: the run
        # above really was lossy.
        reached = sum(
            ns.packets(getattr(path, f"{side}_interface"))[0]
            for ns, side in ((topology.left, "left"), (topology.right, "right"))
            for path in topology.paths
        )
        assert 0.02 * reached < dropped < 0.10 * reached
        client_stats = core_stats(client)
        server_stats = core_stats(await hosts.served)
        print(
            f"{LOSS_PERCENT}% loss: {MESSAGES} messages in {took:.2f} s; nftables dropped "
            f"{dropped} of {reached} datagrams; client: DATA chunks sent "
            f"{client_stats['data_chunks_sent']} ({client_stats['data_chunks_sent'] - MESSAGES}"
            f" retransmitted), T3 timeouts {client_stats['t3_expirations']}, fast "
            f"retransmits {client_stats['fast_retransmits']}; server: duplicate TSNs "
            f"{server_stats['duplicate_tsns']}, SACKs sent {server_stats['sacks_sent']}; "
            f"path state changes {len(paths.changes)}"
        )
    finally:
        paths.close()
        topology.set_loss(0)
