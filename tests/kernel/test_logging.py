"""Log records from a real association: each names the association and, for a path, its address."""

from __future__ import annotations

import asyncio
import logging

import pytest

import sctpmh
from lab import netlab
from sctpmh.logs import format_address

pytestmark = pytest.mark.kernel

WAIT = 30


async def echo(association: sctpmh.Association) -> None:
    async for message in association:
        await association.send(message.data, stream=message.stream)


async def test_path_failure_is_logged_with_association_and_path(
    topology: netlab.Topology, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sctpmh")
    left, right = topology.addresses("left"), topology.addresses("right")
    config = sctpmh.Config.fast_failover()
    with topology.left.entered():
        server = await sctpmh.create_server(echo, left, 0, config=config)
    async with server:
        with topology.right.entered():
            association = await sctpmh.open_association(
                left, server.port, local_addrs=right, config=config
            )
        async with association:
            await association.send(b"ping")
            assert (await asyncio.wait_for(association.recv(), WAIT)).data == b"ping"
            primary = next(p.address for p in association.paths if p.primary)
            events = association.events()
            topology.cut(left.index(primary[0]), "loss")
            async with asyncio.timeout(WAIT):
                async for event in events:
                    if (
                        isinstance(event, sctpmh.PathStateChanged)
                        and event.address == primary
                        and event.state is sctpmh.PathState.INACTIVE
                    ):
                        break
            topology.restore(left.index(primary[0]), "loss")
        client_id = association.association_id

    ours = [r for r in caplog.records if getattr(r, "association_id", None) == client_id]
    texts = [r.getMessage() for r in ours]
    local = ", ".join(f"{a}:{association.local_addresses[0][1]}" for a in right)
    assert texts[0].startswith(f"association {client_id}: up, local {local}, peer "), texts
    assert all(r.name == "sctpmh.kernel" for r in ours)

    down = [r for r in ours if r.getMessage().endswith(": inactive")]
    assert len(down) == 1, texts
    assert down[0].levelno == logging.WARNING
    assert down[0].path == format_address(primary)  # type: ignore[attr-defined]
    assert (
        down[0].getMessage() == f"association {client_id} path {format_address(primary)}: inactive"
    )
    assert texts[-1] == f"association {client_id}: closed"

    # The server side logs its own association under its own id.
    ups = {r.association_id for r in caplog.records if ": up, local " in r.getMessage()}  # type: ignore[attr-defined]
    assert len(ups) == 2, [r.getMessage() for r in caplog.records]
    assert client_id in ups
