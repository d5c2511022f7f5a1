"""sctpmh's udp backend against Linux kernel SCTP over UDP (RFC 6951), in the lab VM.

Two namespaces joined by two veth paths: the kernel's side ("left") has
``net.sctp.udp_port`` = 9899 (the kernel's own UDP port, bound on the wildcard address of
that namespace only) and ``net.sctp.encap_port`` = 9900 (where it sends to as initiator);
sctpmh's udp backend runs in the other namespace on UDP port 9900 and sends to 9899. The
kernel side is driven through sctpmh's kernel backend (plain Linux SCTP sockets). Both
roles, single- and multi-homed (2x2), several streams and PPIDs, 64 KiB messages, failover
when a veth goes down, graceful shutdown and abort from each side. Every test captures the
traffic in the udp side's namespace and checks it with tshark (lab/capture.py): every packet
is SCTP over UDP, well formed, with a good CRC32c.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest

import sctpmh
from lab import capture, netlab
from sctpmh.userspace.udp import UdpBackend
from tests.interop.peers import all_paths_active, missing, require_capture_tools

pytestmark = [pytest.mark.kernel, pytest.mark.interop]

KERNEL_UDP = 9899
SCTPMH_UDP = 9900
PORTS = (KERNEL_UDP, SCTPMH_UDP)
SCTP_PORT = 5007
# Quick failure detection that the lab VM's slow emulation still keeps clear of.
CONFIG = sctpmh.Config.fast_failover(
    rto_initial=0.5,
    rto_min=0.2,
    rto_max=1.0,
    heartbeat_interval=0.5,
    association_max_retransmissions=10,
    max_init_retransmissions=8,
)
# Several streams, each with its own PPID, and sizes from one byte to 64 KiB (fragmented
# and reassembled on both sides, RFC 9260 section 6.9).
MESSAGES = [
    (bytes([65 + i]) * size, i % 5, 1000 + i % 5)
    for i, size in enumerate((1, 100, 1400, 4000, 65536, 17, 65536, 3000, 1, 65536))
]

Handler = Callable[[sctpmh.Association], Coroutine[Any, Any, None]]


@dataclass
class Side:
    namespace: netlab.Namespace
    addresses: list[str]
    backend: str | UdpBackend


@dataclass
class Pair:
    server: sctpmh.Server
    client: sctpmh.Association
    udp_side: Side
    kernel_side: Side


@pytest.fixture
def kernel_udp(topology: netlab.Topology) -> netlab.Topology:
    """The topology with kernel SCTP over UDP on the left (set before any socket exists:
    Linux copies the sysctls into each socket as it is created)."""
    if shutil.which("ethtool") is None:
        missing("ethtool is not installed")
    require_capture_tools()
    for path in topology.paths:
        # Linux leaves an encapsulated packet's CRC32c to the device when it offers SCTP
        # checksum offload, as veth does; veth then hands the packet to the other
        # namespace with the CRC never computed (a kernel receiver trusts the skb's checksum
        # state, a UDP socket's reader gets a bad CRC and must drop it, RFC 9260 6.8).
        # Real NICs compute it; here the kernel is told to (docs/interop.md).
        topology.left.run(
            "ethtool",
            "-K",
            path.left_interface,
            "tx-checksum-sctp",
            "off",
            "tx-sctp-segmentation",
            "off",
        )
    topology.left.sysctl("net.sctp.udp_port", KERNEL_UDP)
    topology.left.sysctl("net.sctp.encap_port", SCTPMH_UDP)
    return topology


async def echo(association: sctpmh.Association) -> None:
    """Echo each message on its stream with its PPID; b"close" / b"abort" end the
    association from this side."""
    async for message in association:
        if message.data == b"close":
            await association.close()
            return
        if message.data == b"abort":
            await association.abort()
            return
        await association.send(message.data, stream=message.stream, ppid=message.ppid)


@contextlib.asynccontextmanager
async def pair(
    topology: netlab.Topology,
    role: str,
    paths: int,
    handler: Handler = echo,
    family: str = "v4",
) -> AsyncIterator[Pair]:
    """``role`` "udp-client": sctpmh's udp backend connects to a kernel server; "udp-server":
    a kernel client connects to sctpmh's udp backend."""
    kernel = Side(topology.left, topology.addresses("left", family)[:paths], "kernel")
    udp = Side(
        topology.right,
        topology.addresses("right", family)[:paths],
        UdpBackend(port=SCTPMH_UDP, remote_port=KERNEL_UDP),
    )
    server_side, client_side = (kernel, udp) if role == "udp-client" else (udp, kernel)
    with server_side.namespace.entered():
        server = await sctpmh.create_server(
            handler, server_side.addresses, SCTP_PORT, config=CONFIG, backend=server_side.backend
        )
    try:
        with client_side.namespace.entered():
            client = await sctpmh.open_association(
                server_side.addresses,
                SCTP_PORT,
                local_addrs=client_side.addresses,
                config=CONFIG,
                backend=client_side.backend,
                timeout=60,
            )
        try:
            yield Pair(server, client, udp, kernel)
        finally:
            client.abort()
    finally:
        server.abort()
        await asyncio.wait_for(server.wait_closed(), 60)


async def exchange(client: sctpmh.Association) -> None:
    """Send MESSAGES and check that each comes back on its stream with its PPID, in order
    per stream."""
    for data, stream, ppid in MESSAGES:
        await client.send(data, stream=stream, ppid=ppid)
    got = [await asyncio.wait_for(client.recv(), 120) for _ in MESSAGES]
    for stream in {s for _, s, _ in MESSAGES}:
        sent = [(d, p) for d, s, p in MESSAGES if s == stream]
        assert [(m.data, m.ppid) for m in got if m.stream == stream] == sent


def check_paths_used(report: capture.Report, topology: netlab.Topology, paths: int) -> None:
    used = report.paths()
    for path in topology.paths[:paths]:
        assert {(path.left_v4, path.right_v4), (path.right_v4, path.left_v4)} <= used, path


@pytest.mark.parametrize("paths", [1, 2], ids=["single", "multi"])
@pytest.mark.parametrize("role", ["udp-client", "udp-server"])
async def test_echo_and_graceful_close(kernel_udp: netlab.Topology, role: str, paths: int) -> None:
    topology = kernel_udp
    with capture.captured(topology.right, PORTS) as reports:
        async with pair(topology, role, paths) as p:
            assert len(p.client.peer_addresses) == paths
            await exchange(p.client)
            if paths > 1:
                await all_paths_active(p.client)
            await asyncio.wait_for(p.client.close(), 60)
            with pytest.raises(sctpmh.AssociationClosedError):
                await p.client.send(b"late")
    (report,) = reports
    counts = report.chunk_counts()
    assert counts["INIT"] >= 1
    assert counts["COOKIE_ECHO"] >= 1
    assert counts["SHUTDOWN"] >= 1
    assert counts["SHUTDOWN_COMPLETE"] >= 1
    assert counts["ABORT"] == 0
    if paths > 1:
        check_paths_used(report, topology, paths)
        assert counts["HEARTBEAT_ACK"] >= 2


@pytest.mark.parametrize("ending", ["server-close", "client-abort", "server-abort"])
@pytest.mark.parametrize("role", ["udp-client", "udp-server"])
async def test_endings_from_each_side(kernel_udp: netlab.Topology, role: str, ending: str) -> None:
    topology = kernel_udp
    ended: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def serve(association: sctpmh.Association) -> None:
        try:
            await echo(association)
            # Graceful ends: iteration ended, or the handler closed it.
            await association.wait_closed()
            ended.set_result(None)
        except sctpmh.AssociationClosedError as exc:
            ended.set_result(exc)

    with capture.captured(topology.right, PORTS) as reports:
        async with pair(topology, role, 1, serve) as p:
            await p.client.send(b"one", stream=1, ppid=11)
            assert (await asyncio.wait_for(p.client.recv(), 60)).data == b"one"
            if ending == "client-abort":
                await p.client.abort()
                there = await asyncio.wait_for(ended, 60)
                assert isinstance(there, sctpmh.AssociationAbortedError)
                assert there.remote
            else:
                await p.client.send(ending.split("-")[1].encode())
                if ending == "server-close":
                    rest = [m async for m in p.client]  # ends without raising
                    assert rest == []
                    assert await asyncio.wait_for(ended, 60) is None
                else:
                    with pytest.raises(sctpmh.AssociationAbortedError) as here:
                        await asyncio.wait_for(p.client.recv(), 60)
                    assert here.value.remote
    (report,) = reports
    counts = report.chunk_counts()
    if ending.endswith("abort"):
        assert counts["ABORT"] >= 1
    else:
        assert counts["SHUTDOWN_COMPLETE"] >= 1
        assert counts["ABORT"] == 0


@pytest.mark.parametrize("role", ["udp-client", "udp-server"])
async def test_failover_when_a_veth_goes_down(kernel_udp: netlab.Topology, role: str) -> None:
    topology = kernel_udp
    count = 60
    with capture.captured(topology.right, PORTS) as reports:
        async with pair(topology, role, 2) as p:
            await all_paths_active(p.client)
            primary = next(path.address for path in p.client.paths if path.primary)
            server_addresses = topology.addresses("left" if role == "udp-client" else "right")
            cut = server_addresses.index(primary[0])
            for i in range(count):
                if i == count // 2:
                    topology.cut(cut, how="down")
                await p.client.send(b"%d" % i, stream=i % 3, ppid=7)
                reply = await asyncio.wait_for(p.client.recv(), 120)
                assert (reply.data, reply.stream, reply.ppid) == (b"%d" % i, i % 3, 7)
            await asyncio.wait_for(p.client.close(), 60)
    (report,) = reports
    alternate = topology.paths[1 - cut]
    after_cut = [
        f for f in report.with_chunk("DATA") if alternate.right_v4 in (f.source, f.destination)
    ]
    assert after_cut, "no DATA went over the remaining path"


@pytest.mark.parametrize("role", ["udp-client", "udp-server"])
async def test_echo_over_ipv6(kernel_udp: netlab.Topology, role: str) -> None:
    topology = kernel_udp
    with capture.captured(topology.right, PORTS) as reports:
        async with pair(topology, role, 2, family="v6") as p:
            await exchange(p.client)
            await all_paths_active(p.client)
            await asyncio.wait_for(p.client.close(), 60)
    (report,) = reports
    for path in topology.paths:
        assert (path.right_v6, path.left_v6) in report.paths()
        assert (path.left_v6, path.right_v6) in report.paths()
    assert report.chunk_counts()["SHUTDOWN_COMPLETE"] >= 1
