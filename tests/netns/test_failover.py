"""The primary path's link goes down in the middle of a transfer over the udp backend,
between two network namespaces of this host: every message arrives once and in order,
the paths view shows the cut path inactive while the other carries the traffic, and once
the link is up again the path is active and carries the traffic again."""

from __future__ import annotations

import time

import pytest

import sctpmh

from .conftest import Opener
from .traffic import PER_PACKET_AT_MOST, PathStates, Receiver, core_stats, send_numbered

pytestmark = pytest.mark.netns

MESSAGES = 20_000
AFTER_HEALING = 2_000


async def test_primary_link_down_midway_loses_nothing(two_hosts: Opener) -> None:
    receiver = Receiver()
    hosts = await two_hosts(receiver.handler, sctpmh.Config.fast_failover())
    topology, client = hosts.topology, hosts.client
    left = topology.addresses("left")
    port = hosts.server.port
    cut = hosts.primary_index()
    other = 1 - cut
    primary, alternate = (left[cut], port), (left[other], port)
    paths = PathStates(client)
    try:
        # Both peer addresses are confirmed (RFC 9260 section 5.4) before the cut.
        await paths.reach(alternate, sctpmh.PathState.ACTIVE, 10)

        def server_received(index: int) -> int:
            return topology.left.packets(topology.paths[index].left_interface)[0]

        await send_numbered(client, 0, MESSAGES // 2)
        topology.cut(cut, "down")
        cut_at = time.monotonic()
        on_other = server_received(other)
        await send_numbered(client, MESSAGES // 2, MESSAGES)
        await receiver.wait_for(MESSAGES, 60)
        delivered_after = time.monotonic() - cut_at
        receiver.check(MESSAGES)
        # The second half went over the other path: at least one packet per
        # PER_PACKET_AT_MOST messages (a few heartbeats are all it carried before).
        assert server_received(other) - on_other >= MESSAGES // 2 // PER_PACKET_AT_MOST

        await paths.reach(primary, sctpmh.PathState.INACTIVE, 30)
        down_after = time.monotonic() - cut_at
        view = {p.address: p.state for p in client.paths}
        assert view == {primary: sctpmh.PathState.INACTIVE, alternate: sctpmh.PathState.ACTIVE}

        topology.restore(cut, "down")
        healed_at = time.monotonic()
        # A heartbeat answered on the mended path makes it active again (8.3).
        await paths.reach(primary, sctpmh.PathState.ACTIVE, 30)
        active_after = time.monotonic() - healed_at
        view = {p.address: p.state for p in client.paths}
        assert view == {primary: sctpmh.PathState.ACTIVE, alternate: sctpmh.PathState.ACTIVE}
        on_primary = server_received(cut)
        await send_numbered(client, MESSAGES, MESSAGES + AFTER_HEALING)
        await receiver.wait_for(MESSAGES + AFTER_HEALING, 60)
        receiver.check(MESSAGES + AFTER_HEALING)
        # New data goes to the primary again once it is active (6.4).
        assert server_received(cut) - on_primary >= AFTER_HEALING // PER_PACKET_AT_MOST
        stats = core_stats(client)
        print(
            f"link-down failover: {MESSAGES} messages, all in {delivered_after:.2f} s after "
            f"the cut; path inactive after {down_after:.2f} s, active {active_after:.2f} s after "
            f"the link came up; path states {[(a[0], s.value) for a, s in paths.changes]}; "
            f"T3 timeouts {stats['t3_expirations']}, fast retransmits "
            f"{stats['fast_retransmits']}, DATA chunks sent {stats['data_chunks_sent']}"
        )
    finally:
        paths.close()
