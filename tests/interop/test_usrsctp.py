"""sctpmh's udp backend against usrsctp (Debian's libusrsctp-examples), on the host.

usrsctp's example programs bind the wildcard address and list every address of their host
in INIT / INIT ACK, so each test runs them in a namespace of its own whose only interface is
``lo`` (tests/interop/peers.py). Both stacks speak SCTP over UDP there: usrsctp on UDP port
9899 (its default), sctpmh on 9900. Every test's traffic is captured and checked with tshark
(lab/capture.py).

- sctpmh client -> usrsctp ``echo_server`` (SCTP port 7, echoes each message on its stream
  with its PPID and unordered flag; it reads into a 10240-byte buffer, so messages stay
  below that), then a graceful close from sctpmh.
- sctpmh client -> usrsctp ``daytime_server`` (SCTP port 13): one message with PPID 40, then
  usrsctp shuts the association down gracefully.
- usrsctp ``client REMOTE_ADDR PORT LOCAL_PORT LOCAL_UDP REMOTE_UDP`` -> sctpmh server: each
  stdin line is a message (stream 0, PPID 0), the echo is printed; end of input shuts the
  association down gracefully and the client exits.
- Multi-homed (two namespaces, two veth paths): sctpmh against ``echo_server`` on both of its
  addresses, and a failover to ``discard_server`` when sctpmh's primary veth goes down.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import sctpmh
from lab import capture, netlab
from sctpmh.userspace.udp import UdpBackend
from tests.interop.peers import all_paths_active, loopback_namespace, usrsctp_program

pytestmark = [pytest.mark.netns, pytest.mark.interop]

USRSCTP_UDP = 9899
SCTPMH_UDP = 9900
PORTS = (USRSCTP_UDP, SCTPMH_UDP)
HOST = "127.0.0.1"


@pytest.fixture
def namespace() -> Iterator[netlab.Namespace]:
    with loopback_namespace() as ns:
        yield ns


@contextlib.contextmanager
def usrsctp_server(
    namespace: netlab.Namespace, program: Path, *arguments: str
) -> Iterator[list[str]]:
    """Run a usrsctp server program in ``namespace`` (line-buffered output) and stop it
    after the block; the yielded list then holds its output."""
    process = subprocess.Popen(
        ["ip", "netns", "exec", namespace.name, "stdbuf", "-oL", str(program), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        yield output
    finally:
        process.terminate()
        try:
            out, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        output.append(out)


@contextlib.asynccontextmanager
async def sctpmh_client(
    namespace: netlab.Namespace, port: int
) -> AsyncIterator[sctpmh.Association]:
    with namespace.entered():
        # The server may still be starting: INIT is retransmitted until it answers.
        association = await sctpmh.open_association(
            [HOST],
            port,
            local_addrs=[HOST],
            backend=UdpBackend(port=SCTPMH_UDP, remote_port=USRSCTP_UDP),
            timeout=60,
        )
    try:
        yield association
    finally:
        association.abort()


async def test_sctpmh_client_against_usrsctp_echo_server(namespace: netlab.Namespace) -> None:
    program = usrsctp_program("echo_server")
    messages = [
        (b"x" * size, stream, 100 + stream, unordered)
        for stream, (size, unordered) in enumerate(
            [(1, False), (100, False), (1200, False), (3000, True), (9000, False), (50, True)]
        )
    ]
    with usrsctp_server(namespace, program, str(USRSCTP_UDP)) as server:
        with capture.captured(namespace, PORTS) as reports:
            async with sctpmh_client(namespace, 7) as association:
                assert association.peer_addresses == [(HOST, 7)]
                for data, stream, ppid, unordered in messages:
                    await association.send(data, stream=stream, ppid=ppid, unordered=unordered)
                    reply = await asyncio.wait_for(association.recv(), 60)
                    assert (reply.data, reply.stream, reply.ppid, reply.unordered) == (
                        data,
                        stream,
                        ppid,
                        unordered,
                    )
                await asyncio.wait_for(association.close(), 60)
    (report,) = reports
    counts = report.chunk_counts()
    assert counts["SHUTDOWN"] >= 1
    assert counts["SHUTDOWN_COMPLETE"] >= 1
    assert counts["ABORT"] == 0
    # usrsctp's own log of what it got: every message, on its stream, with its PPID.
    (log,) = server
    for data, stream, ppid, _ in messages:
        assert f"Msg of length {len(data)} received" in log
        assert f"on stream {stream} " in log
        assert f"PPID {ppid}," in log


async def test_usrsctp_daytime_server_shuts_down_gracefully(namespace: netlab.Namespace) -> None:
    program = usrsctp_program("daytime_server")
    with usrsctp_server(namespace, program, str(USRSCTP_UDP)):
        with capture.captured(namespace, PORTS) as reports:
            async with sctpmh_client(namespace, 13) as association:
                received = [m async for m in association]  # ends without raising
    (report,) = reports
    (message,) = received
    assert message.ppid == 40  # DAYTIME_PPID of usrsctp's daytime_server.c
    assert message.data.endswith(b"\n")
    assert len(message.data.split()) == 5  # ctime(3): "Fri Dec  4 23:59:59 2026\n"
    shutdowns = report.with_chunk("SHUTDOWN")
    assert shutdowns
    assert shutdowns[0].udp_ports == (USRSCTP_UDP, SCTPMH_UDP)  # usrsctp began it
    assert report.chunk_counts()["SHUTDOWN_COMPLETE"] >= 1


async def test_usrsctp_client_against_sctpmh_server(namespace: netlab.Namespace) -> None:
    program = usrsctp_program("client")
    # The client reads stdin with fgets into 80 bytes: longer lines would be split.
    lines = [f"line {i} {'y' * (i * 5)}" for i in range(12)]
    served: list[sctpmh.Message] = []
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def echo(association: sctpmh.Association) -> None:
        async for message in association:  # ends cleanly on the peer's SHUTDOWN
            served.append(message)
            await association.send(message.data, stream=message.stream, ppid=message.ppid)
        ended.set_result(None)

    with namespace.entered():
        server = await sctpmh.create_server(echo, [HOST], 7777, backend=UdpBackend(port=SCTPMH_UDP))
    async with server:
        with capture.captured(namespace, PORTS) as reports:
            client = await asyncio.create_subprocess_exec(
                "ip",
                "netns",
                "exec",
                namespace.name,
                str(program),
                HOST,
                "7777",
                "0",
                str(USRSCTP_UDP),
                str(SCTPMH_UDP),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            assert client.stdin is not None
            assert client.stdout is not None
            output = b""
            try:
                for line in lines:
                    # One line at a time, its echo awaited: the client shuts down as soon as
                    # its input ends, and data that crossed a SHUTDOWN would not be echoed.
                    client.stdin.write(line.encode() + b"\n")
                    await client.stdin.drain()
                    while (line.encode() + b"\n") not in output:
                        chunk = await asyncio.wait_for(client.stdout.read(4096), 60)
                        assert chunk, f"the client ended early: {output.decode()}"
                        output += chunk
                client.stdin.close()
                rest, _ = await asyncio.wait_for(client.communicate(), 60)
                output += rest
            finally:
                if client.returncode is None:
                    client.kill()
                    await client.wait()
            assert client.returncode == 0, output.decode()
            await asyncio.wait_for(ended, 60)
    (report,) = reports
    assert [m.data.decode() for m in served] == [line + "\n" for line in lines]
    assert {(m.stream, m.ppid) for m in served} == {(0, 0)}
    shutdowns = report.with_chunk("SHUTDOWN")
    assert shutdowns
    assert shutdowns[0].udp_ports == (USRSCTP_UDP, SCTPMH_UDP)  # the usrsctp client began it
    assert report.chunk_counts()["SHUTDOWN_COMPLETE"] >= 1


# --- multi-homed: two namespaces joined by two veth paths ------------------------------------

FAILOVER = sctpmh.Config.fast_failover(
    rto_initial=0.5, rto_min=0.2, rto_max=1.0, heartbeat_interval=0.5
)


@contextlib.asynccontextmanager
async def multihomed_client(
    topology: netlab.Topology, port: int
) -> AsyncIterator[sctpmh.Association]:
    """sctpmh on both left addresses, connected to usrsctp on both right addresses."""
    with topology.left.entered():
        association = await sctpmh.open_association(
            topology.addresses("right"),
            port,
            local_addrs=topology.addresses("left"),
            config=FAILOVER,
            backend=UdpBackend(port=SCTPMH_UDP, remote_port=USRSCTP_UDP),
            timeout=60,
        )
    try:
        yield association
    finally:
        association.abort()


async def test_multihomed_sctpmh_client_against_usrsctp(topology: netlab.Topology) -> None:
    program = usrsctp_program("echo_server")
    with usrsctp_server(topology.right, program, str(USRSCTP_UDP)):
        with capture.captured(topology.left, PORTS) as reports:
            async with multihomed_client(topology, 7) as association:
                # usrsctp listed both its IPv4 addresses (and no IPv6 one: sctpmh's INIT said
                # IPv4 only), and both were confirmed by HEARTBEAT.
                assert sorted(association.peer_addresses) == [
                    (host, 7) for host in topology.addresses("right")
                ]
                await all_paths_active(association)
                for stream in range(4):
                    await association.send(b"multi %d" % stream, stream=stream, ppid=stream)
                    reply = await asyncio.wait_for(association.recv(), 60)
                    assert (reply.data, reply.stream, reply.ppid) == (
                        b"multi %d" % stream,
                        stream,
                        stream,
                    )
                await asyncio.wait_for(association.close(), 60)
    (report,) = reports
    for path in topology.paths:
        assert (path.left_v4, path.right_v4) in report.paths()
        assert (path.right_v4, path.left_v4) in report.paths()
    assert report.chunk_counts()["SHUTDOWN_COMPLETE"] >= 1


async def test_failover_to_usrsctp_when_a_veth_goes_down(topology: netlab.Topology) -> None:
    # usrsctp's programs cannot tune their timers (65-70 s to move their own data off a dead
    # path), so sctpmh is the sender here: usrsctp's discard_server (SCTP port 9) acknowledges
    # on the path the data came by.
    program = usrsctp_program("discard_server")
    count = 60
    with usrsctp_server(topology.right, program, str(USRSCTP_UDP)) as server:
        with capture.captured(topology.left, PORTS) as reports:
            async with multihomed_client(topology, 9) as association:
                primary = next(p.address for p in association.paths if p.primary)
                cut = topology.addresses("right").index(primary[0])
                for i in range(count):
                    if i == count // 2:
                        topology.cut(cut, how="down")
                    await association.send(b"m%03d" % i, stream=i % 3, ppid=7)
                # A graceful close completes only once the peer holds everything (RFC 9260
                # section 9.2).
                await asyncio.wait_for(association.close(), 120)
    (log,) = server
    assert log.count("Msg of length 4 received") == count
    (report,) = reports
    alternate = topology.paths[1 - cut]
    assert report.with_chunk("DATA")[-1].destination == alternate.right_v4
    assert any(f.destination == alternate.left_v4 for f in report.with_chunk("SACK"))
