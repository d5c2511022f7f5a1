"""A peer that restarts on the same addresses and port (RFC 9260 section 5.2.4, action A).

On the memory backend only for now: making a kernel peer vanish without a word needs its
namespace torn down under it, which the reliability work (fault suite) brings.
"""

from __future__ import annotations

import asyncio

import pytest

import sctpmh
from sctpmh.userspace import memory

from .conftest import CLIENT, SERVER

pytestmark = pytest.mark.timeout(60)


async def test_a_restarted_peer_is_reported_and_served_on() -> None:
    network = memory.BACKEND.network
    seen: list[sctpmh.Event] = []
    served: list[sctpmh.Association] = []

    async def echo_and_watch(association: sctpmh.Association) -> None:
        served.append(association)

        async def watch() -> None:
            async for event in association.events():
                seen.append(event)

        watcher = asyncio.ensure_future(watch())
        async for message in association:
            await association.send(message.data, stream=message.stream)
        await watcher

    server = await sctpmh.create_server(echo_and_watch, SERVER, 0, backend="memory")
    try:
        first = await sctpmh.open_association(
            SERVER, server.port, local_addrs=CLIENT, backend="memory"
        )
        port = first.local_addresses[0][1]
        await first.send(b"before", stream=1)
        assert (await asyncio.wait_for(first.recv(), 10)).data == b"before"
        # The client dies without a word: its ABORT is lost on the way.
        for host in CLIENT:
            network.cut(host)
        await first.abort()
        for host in CLIENT:
            network.heal(host)
        again = await sctpmh.open_association(
            SERVER, server.port, local_addrs=[(h, port) for h in CLIENT], backend="memory"
        )
        await again.send(b"after", stream=1)
        assert (await asyncio.wait_for(again.recv(), 10)).data == b"after"
        assert len(served) == 1, "the restart made a second association instead"
        assert any(isinstance(e, sctpmh.AssociationRestarted) for e in seen), seen
        await again.close()
    finally:
        await server.abort()
