"""100,000 fuzzed datagrams at a live udp endpoint with an established association on it:
nothing escapes (no loop exception, no log record above INFO), the association echoes
correctly during and after, and the endpoint's tables hold only that association.

The datagrams: random bytes; packets of every chunk type built with the core's codec, then
mutated, truncated or given chunk lengths past their end, with the CRC32c recomputed so that
they reach chunk parsing; from random loopback addresses and from the client's own address
and SCTP port under wrong tags; with the association's tag from addresses that are not the
peer's; and aimed at the client's endpoint too. Never the association's tag from the peer's
own address: that is the peer speaking, and its ABORT would rightly end the association."""

from __future__ import annotations

import asyncio
import logging
import random
import struct
from typing import Any

import pytest

import sctpmh
from sctpmh.core import causes
from sctpmh.core.chunks import (
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    ForwardTsnChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
)
from sctpmh.core.packet import build_packet, checksum

from .wire import RawPeer, init_chunk, live_endpoint

TOTAL = 100_000
BATCH = 50  # datagrams between pauses
PAUSE = 0.005  # seconds: lets the endpoint read what was sent (its socket buffer is finite)
CLIENT_HOST = "127.0.0.3"


def templates(rng: random.Random) -> list[Chunk]:
    """One chunk of every kind, with plausible fields."""
    tsn = rng.getrandbits(32)
    return [
        init_chunk(rng.getrandbits(32) | 1, tsn),
        InitAckChunk(rng.getrandbits(32) | 1, 65535, 10, 10, tsn),
        DataChunk(tsn, rng.randrange(12), rng.randrange(65536), rng.getrandbits(32), b"fuzz" * 8),
        SackChunk(tsn, 65535, ((1, 3), (5, 9)), (tsn,)),
        HeartbeatChunk(rng.randbytes(16)),
        HeartbeatAckChunk(rng.randbytes(16)),
        AbortChunk((causes.protocol_violation(b"fuzz"),), reflected_tag=rng.random() < 0.5),
        ShutdownChunk(tsn),
        ShutdownAckChunk(),
        ErrorChunk((causes.stale_cookie(5), causes.invalid_stream(4))),
        CookieEchoChunk(rng.randbytes(rng.randrange(200))),
        CookieAckChunk(),
        ShutdownCompleteChunk(reflected_tag=rng.random() < 0.5),
        ForwardTsnChunk(tsn, ((1, 2),)),
        UnknownChunk(rng.randrange(256), rng.randrange(256), rng.randbytes(rng.randrange(20))),
    ]


def with_checksum(packet: bytearray) -> bytes:
    if len(packet) >= 12:
        struct.pack_into("<I", packet, 8, checksum(bytes(packet)))
    return bytes(packet)


def fuzzed(rng: random.Random, ports: tuple[int, int], tag: int) -> bytes:
    """One hostile datagram from SCTP port ``ports[0]`` to ``ports[1]`` under ``tag``."""
    kind = rng.randrange(7)
    if kind == 0:
        return rng.randbytes(rng.randrange(1500))
    if kind == 6:  # random bytes behind our ports and tag: only the CRC32c turns them away
        return struct.pack("!HHI", *ports, tag) + rng.randbytes(rng.randrange(1500))
    chunks = rng.sample(templates(rng), rng.randrange(1, 4))
    packet = bytearray(build_packet(ports[0], ports[1], tag, chunks))
    if kind == 1:  # flip bytes after the common header
        for _ in range(rng.randrange(1, 8)):
            index = rng.randrange(12, len(packet))
            packet[index] = rng.randrange(256)
    elif kind == 2:  # cut short
        del packet[rng.randrange(12, len(packet)) :]
    elif kind == 3:  # a chunk length past the end (or below the header)
        struct.pack_into("!H", packet, 14, rng.choice((0, 1, 3, len(packet) + 4, 65535)))
    elif kind == 4:  # junk after the last chunk
        packet += rng.randbytes(rng.randrange(1, 7))
    # kind 5: a well-formed packet in the wrong place or state
    return with_checksum(packet)


async def test_fuzzed_datagrams_leave_an_established_association_unaffected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    escaped: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: escaped.append(context))
    async with live_endpoint() as live:
        client_backend = live.client_backend()
        async with sctpmh.open_association(
            ["127.0.0.1"], live.sctp_port, local_addrs=[CLIENT_HOST], backend=client_backend
        ) as client:
            (client_address,) = client.local_addresses
            (server_tag,) = live.endpoint._by_tag
            client_port = client_address[1]
            to_server = [live.peer(f"127.0.0.{n}", 0) for n in (3, 3, 20, 21, 22)]
            # The client's endpoint is reached on its own UDP socket, from the server's host.
            to_client = RawPeer("127.0.0.1", (CLIENT_HOST, client_backend.port), 0)
            rng = random.Random(9260)
            echoed = 0
            sent = 0

            async def echo_all_along(stop: asyncio.Event) -> None:
                nonlocal echoed
                while not stop.is_set():
                    data = b"echo %d " % echoed + bytes(rng.randrange(3000))
                    await client.send(data, stream=echoed % 4, ppid=echoed)
                    message = await asyncio.wait_for(client.recv(), 30)
                    assert (message.data, message.stream, message.ppid) == (
                        data,
                        echoed % 4,
                        echoed,
                    )
                    echoed += 1
                    await asyncio.sleep(0.01)

            stop = asyncio.Event()
            caplog.set_level(logging.INFO, logger="sctpmh")
            echoing = asyncio.create_task(echo_all_along(stop))
            try:
                while sent < TOTAL:
                    for _ in range(BATCH):
                        target = rng.randrange(10)
                        if target < 3:  # the client's address and port, never its tag
                            tag = rng.choice((0, rng.getrandbits(32)))
                            if tag == server_tag:
                                tag ^= 1
                            data = fuzzed(rng, (client_port, live.sctp_port), tag)
                            to_server[rng.randrange(2)].send_raw(data)
                        elif target < 5:  # the association's tag, from a stranger
                            data = fuzzed(rng, (client_port, live.sctp_port), server_tag)
                            to_server[2 + rng.randrange(3)].send_raw(data)
                        elif target < 8:  # anyone to the listener
                            ports = (rng.randrange(65536), live.sctp_port)
                            data = fuzzed(rng, ports, rng.choice((0, rng.getrandbits(32))))
                            to_server[2 + rng.randrange(3)].send_raw(data)
                        else:  # the client's endpoint, from the server's host
                            ports = (rng.choice((live.sctp_port, 1)), client_port)
                            data = fuzzed(rng, ports, rng.getrandbits(32) | 1)
                            to_client.send_raw(data)
                        sent += 1
                    await asyncio.sleep(PAUSE)
                    assert not echoing.done(), "the echo stopped during the fuzz"
                    for peer in (*to_server, to_client):
                        peer.drain()
                stop.set()
                await asyncio.wait_for(echoing, 60)
                during = echoed
                # After: the association still echoes, in order, on every stream.
                for index in range(50):
                    await client.send(b"after %d" % index, stream=index % 4)
                for index in range(50):
                    message = await asyncio.wait_for(client.recv(), 30)
                    assert message.data == b"after %d" % index
            finally:
                stop.set()
                echoing.cancel()
                for peer in (*to_server, to_client):
                    peer.close()
            tables = live.tables()
            loud = [r for r in caplog.records if r.levelno > logging.INFO]
            listener = live.endpoint._listener
            assert listener is not None
            (association,) = live.endpoint._driven
            seen = {
                "listener": listener.core.stats.as_dict(),
                "association": association.stats.as_dict(),
            }
        print(f"sent {sent} fuzzed datagrams, {during} echoes during, tables {tables}")
        for who, counts in seen.items():
            print(who, {k: v for k, v in counts.items() if v})
        # Every kind of hostile input reached the place it aims at, and was turned away there.
        for who, counter in (
            ("listener", "bad_checksum"),
            ("listener", "malformed"),
            ("listener", "ootb"),
            ("listener", "bad_cookies"),
            ("association", "vtag_mismatch"),
            ("association", "foreign_source"),
            ("association", "bad_checksum"),
            ("association", "malformed"),
        ):
            assert seen[who][counter] > 0, (who, counter)
        assert escaped == []
        assert loud == []
        assert during >= 10
        # Nothing left behind: one association, the client's learned port, a bounded table.
        assert tables["driven"] == 1
        assert tables["by_tag"] == 1
        assert tables["by_peer"] == 1
        assert tables["carrier_peer_ports"] == 1
        assert tables["carrier_heard"] <= 4096
