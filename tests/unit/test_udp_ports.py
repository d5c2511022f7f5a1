"""The udp backend's UDP ports: configurable on both sides, and learned from the peer."""

from __future__ import annotations

import asyncio
import socket

import pytest

import sctpmh
from sctpmh.core.chunks import HeartbeatChunk
from sctpmh.core.packet import build_packet
from sctpmh.userspace.udp import UdpBackend


async def echo(association: sctpmh.Association) -> None:
    async for message in association:
        await association.send(message.data, stream=message.stream)


async def test_other_udp_ports_on_both_sides() -> None:
    server_side = UdpBackend(port=19899)
    # The client sends to the server's port and listens on its own; the server answers to
    # the port the client's packets come from (RFC 6951 section 5.1), never to 9899.
    client_side = UdpBackend(port=29899, remote_port=19899)
    server = await sctpmh.create_server(echo, ["127.0.0.1"], 0, backend=server_side)
    async with server:
        async with sctpmh.open_association(
            ["127.0.0.1"], server.port, local_addrs=["127.0.0.5"], backend=client_side
        ) as association:
            await association.send(b"ports", stream=1)
            assert (await asyncio.wait_for(association.recv(), 10)).data == b"ports"


async def test_no_peer_on_the_udp_port_times_out() -> None:
    lonely = UdpBackend(port=39899, remote_port=39898)
    with pytest.raises(TimeoutError):
        await sctpmh.open_association(
            ["127.0.0.1"], 4444, local_addrs=["127.0.0.6"], backend=lonely, timeout=0.5
        )


def test_bad_udp_ports_are_named() -> None:
    with pytest.raises(ValueError, match="remote_port must be a UDP port"):
        UdpBackend(remote_port=0)
    with pytest.raises(ValueError, match="port must be a UDP port"):
        UdpBackend(port=70000)


async def test_a_bad_backend_object_is_refused() -> None:
    with pytest.raises(ValueError, match="backend must be a name or a backend object"):
        await sctpmh.open_association(["127.0.0.1"], 4444, backend=42)  # type: ignore[arg-type]


async def test_a_refused_bind_leaves_no_udp_socket_open() -> None:
    backend = UdpBackend(port=49899)
    first = await sctpmh.create_server(echo, ["127.0.0.1"], 0, backend=backend)
    try:
        with pytest.raises(sctpmh.AddressError, match="already in use"):
            await sctpmh.create_server(
                echo, ["127.0.0.7", "127.0.0.1"], first.port, backend=backend
            )
        # The socket opened for 127.0.0.7 in the refused attempt was closed again (an
        # asyncio transport closes its socket in the next loop iteration).
        await asyncio.sleep(0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.7", 49899))
    finally:
        await first.abort()


async def test_a_client_whose_udp_port_another_process_holds_takes_another_port() -> None:
    # Another program (here a bare socket) holds UDP 127.0.0.8:19877, as a server process
    # on the same host does; a client on that address sends from a port the system picks,
    # and the server answers to it. A server cannot move: its peers send to its port.
    backend = UdpBackend(port=19877, remote_port=19877)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.8", 19877))
        with pytest.raises(sctpmh.AddressError, match=r"cannot bind UDP 127\.0\.0\.8:19877"):
            await sctpmh.create_server(echo, ["127.0.0.8"], 0, backend=backend)
        server = await sctpmh.create_server(echo, ["127.0.0.9"], 0, backend=backend)
        async with server:
            async with sctpmh.open_association(
                ["127.0.0.9"], server.port, local_addrs=["127.0.0.8"], backend=backend
            ) as association:
                await association.send(b"moved", stream=1)
                assert (await asyncio.wait_for(association.recv(), 10)).data == b"moved"
        holder.setblocking(False)
        with pytest.raises(BlockingIOError):
            holder.recv(100)  # nothing was sent to the holder's port


async def test_a_packet_with_a_wrong_tag_does_not_move_the_peers_udp_port() -> None:
    # Someone who knows the client's address but not its association's verification tag
    # sends from another UDP port while the server has something to send: the server still
    # sends it where the client is.
    async def push_later(association: sctpmh.Association) -> None:
        async for message in association:
            await asyncio.sleep(0.3)  # meanwhile the forged packets arrive
            await association.send(b"pushed " + message.data, stream=1)

    server_side = UdpBackend(port=19878, remote_port=19879)
    client_side = UdpBackend(port=19879, remote_port=19878)
    server = await sctpmh.create_server(push_later, ["127.0.0.1"], 0, backend=server_side)
    async with server:
        async with sctpmh.open_association(
            ["127.0.0.1"], server.port, local_addrs=["127.0.0.10"], backend=client_side
        ) as association:
            client_port = association.local_addresses[0][1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as forger:
                forger.bind(("127.0.0.10", 0))
                forger.setblocking(False)
                await association.send(b"go", stream=1)
                await asyncio.sleep(0.1)
                for tag in (1, 0xDEADBEEF, 0xFFFFFFFF):
                    forged = build_packet(
                        client_port, server.port, tag, [HeartbeatChunk(info=b"forged")]
                    )
                    forger.sendto(forged, ("127.0.0.1", 19878))
                reply = await asyncio.wait_for(association.recv(), 5)
                assert reply.data == b"pushed go"
                with pytest.raises(BlockingIOError):
                    forger.recv(2048)  # not one packet went to the forger's port
