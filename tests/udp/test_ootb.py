"""Out-of-the-blue packets (RFC 9260 section 8.4) and verification tags (8.5, 8.5.1) over the
real socket: what a live udp endpoint sends back, read from a plain UDP socket."""

from __future__ import annotations

import asyncio

import pytest

import sctpmh
from sctpmh.core import causes
from sctpmh.core.chunks import (
    AbortChunk,
    Chunk,
    CookieAckChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
)

from .wire import SILENCE, init_chunk, live_endpoint

TAG = 0x0BAD_F00D  # the tag an out-of-the-blue packet carries

SILENT: list[tuple[str, list[Chunk]]] = [
    ("rule 2: ABORT", [AbortChunk()]),
    ("rule 2: ABORT with the T bit", [AbortChunk(reflected_tag=True)]),
    ("rule 2: ABORT after other chunks", [HeartbeatChunk(b"x"), AbortChunk()]),
    ("rule 6: SHUTDOWN COMPLETE", [ShutdownCompleteChunk()]),
    ("rule 7: COOKIE ACK", [CookieAckChunk()]),
    ("rule 7: Stale Cookie ERROR", [ErrorChunk((causes.stale_cookie(1000),))]),
]

ABORTED: list[tuple[str, list[Chunk]]] = [
    ("DATA", [DataChunk(1, 0, 0, 0, b"data")]),
    ("SACK", [SackChunk(1, 65535)]),
    ("HEARTBEAT", [HeartbeatChunk(b"beat")]),
    ("SHUTDOWN", [ShutdownChunk(1)]),
    ("ERROR, not Stale Cookie", [ErrorChunk((causes.invalid_stream(3),))]),
    ("INIT ACK", [InitAckChunk(1, 65535, 1, 1, 1)]),
    ("an unknown chunk", [UnknownChunk(0x3F, 0, b"")]),
]


@pytest.mark.parametrize(("rule", "chunks"), SILENT, ids=[r for r, _ in SILENT])
async def test_silently_discarded(rule: str, chunks: list[Chunk]) -> None:
    async with live_endpoint() as live:
        peer = live.peer()
        try:
            peer.send(TAG, chunks)
            assert await peer.receive(SILENCE) is None, rule
            assert live.tables()["driven"] == 0
        finally:
            peer.close()


@pytest.mark.parametrize(("kind", "chunks"), ABORTED, ids=[k for k, _ in ABORTED])
async def test_rule_8_answers_with_an_abort_reflecting_the_tag(
    kind: str, chunks: list[Chunk]
) -> None:
    async with live_endpoint() as live:
        peer = live.peer()
        try:
            peer.send(TAG, chunks)
            answer = await peer.reply()
            # Rule 8: an ABORT with the T bit, the packet's own tag reflected.
            assert answer.verification_tag == TAG, kind
            assert answer.source_port == live.sctp_port
            assert answer.destination_port == peer.sctp_port
            (abort,) = answer.chunks
            assert isinstance(abort, AbortChunk)
            assert abort.reflected_tag
            assert live.tables()["driven"] == 0
        finally:
            peer.close()


async def test_rule_5_shutdown_ack_draws_shutdown_complete_with_the_t_bit() -> None:
    async with live_endpoint() as live:
        peer = live.peer()
        try:
            peer.send(TAG, [ShutdownAckChunk()])
            answer = await peer.reply()
            assert answer.verification_tag == TAG
            (complete,) = answer.chunks
            assert isinstance(complete, ShutdownCompleteChunk)
            assert complete.reflected_tag
        finally:
            peer.close()


async def test_rule_3_init_is_answered_and_a_bad_init_aborted_with_its_tag() -> None:
    async with live_endpoint() as live:
        peer = live.peer()
        try:
            peer.send(0, [init_chunk(0x1111)])
            answer = await peer.reply()
            assert answer.verification_tag == 0x1111
            assert isinstance(answer.chunks[0], InitAckChunk)
            # An INIT that cannot be processed (no outbound streams, section 3.3.2): ABORT
            # with the INIT's Initiate Tag and the T bit clear.
            peer.send(0, [InitChunk(0x2222, 65535, 0, 10, 1)])
            answer = await peer.reply()
            assert answer.verification_tag == 0x2222
            (abort,) = answer.chunks
            assert isinstance(abort, AbortChunk)
            assert not abort.reflected_tag
            assert live.tables()["driven"] == 0
        finally:
            peer.close()


async def test_section_8_5_1_a_tag_zero_and_bundled_init_are_discarded() -> None:
    async with live_endpoint() as live:
        peer = live.peer()
        try:
            peer.send(0, [HeartbeatChunk(b"x")])  # tag 0 without INIT
            peer.send(TAG, [init_chunk(5)])  # INIT with a non-zero tag
            peer.send(0, [init_chunk(6), HeartbeatChunk(b"x")])  # INIT not alone
            assert await peer.receive(SILENCE) is None
        finally:
            peer.close()


async def test_section_8_5_a_wrong_tag_does_not_touch_an_association() -> None:
    # Packets from the peer's own address and SCTP port under any tag but the association's
    # are dropped without an answer (8.5); an ABORT under its tag ends it (8.5.1 B's rule
    # for T=0: the tag must be ours).
    async with live_endpoint() as live:
        async with sctpmh.open_association(
            ["127.0.0.1"], live.sctp_port, local_addrs=["127.0.0.3"], backend=live.client_backend()
        ) as client:
            await client.send(b"up", stream=1)
            assert (await asyncio.wait_for(client.recv(), 10)).data == b"up"
            (client_address,) = client.local_addresses
            peer = live.peer("127.0.0.3", client_address[1])
            try:
                (server_tag,) = live.endpoint._by_tag
                for wrong in (server_tag ^ 1, server_tag ^ 0x8000_0000, 1):
                    peer.send(wrong, [AbortChunk()])
                    peer.send(wrong, [ShutdownChunk(0)])
                    peer.send(wrong, [DataChunk(7, 1, 0, 0, b"forged")])
                assert await peer.receive(SILENCE) is None
                await client.send(b"still up", stream=1)
                assert (await asyncio.wait_for(client.recv(), 10)).data == b"still up"
                assert live.tables()["driven"] == 1
                peer.send(server_tag, [AbortChunk()])
                for _ in range(200):
                    if not live.tables()["driven"]:
                        break
                    await asyncio.sleep(0.05)
                assert live.tables()["driven"] == 0  # the server's side has ended
                assert await peer.receive(SILENCE) is None  # an ABORT is never answered
            finally:
                peer.close()


async def test_chunks_behind_an_init_ack_from_a_stranger_do_not_reach_an_association() -> None:
    # An INIT ACK may come from any address of the peer (section 5.1.2), so the source check
    # lets it by; what is bundled after it (an INIT ACK must travel alone, section 6.10)
    # must not ride along into an established association from a non-peer address.
    async with live_endpoint() as live:
        async with sctpmh.open_association(
            ["127.0.0.1"], live.sctp_port, local_addrs=["127.0.0.3"], backend=live.client_backend()
        ) as client:
            await client.send(b"up", stream=1)
            assert (await asyncio.wait_for(client.recv(), 10)).data == b"up"
            (client_address,) = client.local_addresses
            stranger = live.peer("127.0.0.30", client_address[1])
            try:
                (server_tag,) = live.endpoint._by_tag
                ack = InitAckChunk(1, 65535, 1, 1, 1)
                stranger.send(server_tag, [ack, AbortChunk()])
                stranger.send(server_tag, [ack, ShutdownChunk(0)])
                assert await stranger.receive(SILENCE) is None
                assert live.tables()["driven"] == 1
                await client.send(b"still up", stream=1)
                assert (await asyncio.wait_for(client.recv(), 10)).data == b"still up"
            finally:
                stranger.close()
