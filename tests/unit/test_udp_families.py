"""The udp backend and address families: a packet for a destination of a family that no
local socket has is dropped, and the endpoint's sockets go on working.

Found against usrsctp, which listed IPv6 addresses to an IPv4-only sctpmh client: a UDP
socket of one family handed an address of the other raises TypeError, and asyncio closes the
datagram transport for good over that ("Fatal write error on datagram transport"), which
took every association on the address down with it.
"""

from __future__ import annotations

import asyncio

import sctpmh
from sctpmh.userspace.udp import UdpBackend

CONFIG = sctpmh.Config(rto_initial=0.2, rto_min=0.1)


async def echo(association: sctpmh.Association) -> None:
    async for message in association:
        await association.send(message.data, stream=message.stream, ppid=message.ppid)


async def test_a_packet_for_another_family_is_dropped_and_the_socket_lives_on() -> None:
    async with asyncio.timeout(90):  # a broken socket would leave the close hanging
        await _exchange()


async def _exchange() -> None:
    server = await sctpmh.create_server(
        echo, ["127.0.0.1"], 0, config=CONFIG, backend=UdpBackend(port=19897)
    )
    async with server:
        # The client is told the server is at ::1 too; its only socket is IPv4.
        async with sctpmh.open_association(
            ["127.0.0.1", "::1"],
            server.port,
            local_addrs=["127.0.0.9"],
            config=CONFIG,
            backend=UdpBackend(port=29897, remote_port=19897),
        ) as association:
            # Sent towards ::1 first: lost there, then retransmitted to 127.0.0.1 (RFC 9260
            # section 6.4.1), over the same, still open, socket.
            await association.send(b"towards ::1", ppid=3, to=("::1", server.port))
            reply = await asyncio.wait_for(association.recv(), 30)
            assert (reply.data, reply.ppid) == (b"towards ::1", 3)
            await association.send(b"after")
            assert (await asyncio.wait_for(association.recv(), 30)).data == b"after"
