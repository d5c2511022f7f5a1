"""The peer's UDP port is learned only from packets the association accepted (RFC 6951
section 5.1 with RFC 9260 section 8.5): a forged or broken datagram from the peer's address
and SCTP port, but another UDP port, does not move the association's traffic there, and
INITs from unknown peers leave nothing behind in the carrier."""

from __future__ import annotations

import asyncio
import random

import sctpmh
from sctpmh.core.chunks import DataChunk, HeartbeatChunk, InitAckChunk
from sctpmh.core.packet import build_packet

from .wire import SILENCE, RawPeer, init_chunk, live_endpoint

CLIENT_HOST = "127.0.0.3"


async def echoes(association: sctpmh.Association, data: bytes) -> None:
    await association.send(data, stream=1)
    message = await asyncio.wait_for(association.recv(), 10)
    assert message.data == data


async def test_forged_datagrams_from_the_peer_address_do_not_steal_its_port() -> None:
    async with live_endpoint() as live:
        async with sctpmh.open_association(
            ["127.0.0.1"],
            live.sctp_port,
            local_addrs=[CLIENT_HOST],
            backend=live.client_backend(),
        ) as client:
            await echoes(client, b"before")
            await asyncio.sleep(SILENCE)  # the client's delayed SACK has gone by
            (client_address,) = client.local_addresses
            # Same host, same SCTP port as the client, another UDP port: what anyone on the
            # path (or a blind spoofer over UDP) can send.
            forger = RawPeer(CLIENT_HOST, ("127.0.0.1", live.udp_port), 0)
            forger.server_sctp_port = live.sctp_port
            forger.sctp_port = client_address[1]
            try:
                rng = random.Random(14)
                for _ in range(50):
                    wrong_tag = rng.getrandbits(32) | 1
                    forger.send(wrong_tag, [HeartbeatChunk(b"hb")])
                    forger.send(wrong_tag, [DataChunk(1, 1, 0, 0, b"x")])
                    packet = bytearray(build_packet(client_address[1], live.sctp_port, 0, []))
                    forger.send_raw(bytes(packet))
                forger.send(0, [init_chunk(99)])  # an INIT from a known peer's address
                await asyncio.sleep(SILENCE)
                # The server speaks first, before the client's next packet could set anything
                # right: it must still reach the client.
                (served,) = live.accepted
                await served.send(b"pushed", stream=2)
                assert (await asyncio.wait_for(client.recv(), 10)).data == b"pushed"
                await echoes(client, b"after")
                # The forger heard at most the answer to its INIT.
                assert forger.drain() <= 1
            finally:
                forger.close()


async def test_a_new_association_from_the_same_address_on_a_new_udp_port_connects() -> None:
    # The first association teaches the server its peer's UDP port; once it has ended, a
    # peer on the same address and SCTP port but another UDP port (a restarted program)
    # must get its INIT ACK and everything after at the port it really uses.
    async with live_endpoint() as live:
        local = [("127.0.0.6", 40000)]
        for round_ in range(2):
            async with sctpmh.open_association(
                ["127.0.0.1"], live.sctp_port, local_addrs=local, backend=live.client_backend()
            ) as client:
                assert client.local_addresses == [("127.0.0.6", 40000)]
                await echoes(client, b"round %d" % round_)
            for _ in range(100):  # the server forgets the association once it has ended
                if not live.tables()["driven"]:
                    break
                await asyncio.sleep(0.05)
            assert live.tables()["carrier_peer_ports"] == 0


async def test_an_init_from_a_known_peer_on_a_new_udp_port_is_answered_there() -> None:
    # A peer restart (RFC 9260 section 5.2.2): the INIT ACK goes where the INIT came from;
    # the association's own traffic stays on the port it was learned on.
    async with live_endpoint() as live:
        async with sctpmh.open_association(
            ["127.0.0.1"], live.sctp_port, local_addrs=[CLIENT_HOST], backend=live.client_backend()
        ) as client:
            await echoes(client, b"up")
            await asyncio.sleep(SILENCE)
            (client_address,) = client.local_addresses
            restarted = RawPeer(CLIENT_HOST, ("127.0.0.1", live.udp_port), client_address[1])
            restarted.server_sctp_port = live.sctp_port
            try:
                restarted.send(0, [init_chunk(4242)])
                answer = await restarted.reply()
                assert answer.verification_tag == 4242
                assert isinstance(answer.chunks[0], InitAckChunk)
                await echoes(client, b"still here")
                assert restarted.drain() == 0
            finally:
                restarted.close()
