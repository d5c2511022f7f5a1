"""An INIT flood over the real socket keeps no state (RFC 9260 section 5.1.3): 100,000
INITs from 64 UDP sockets on 32 loopback addresses, each INIT with its own SCTP source port
and tag, all answered with an INIT ACK and a cookie; the endpoint's tables stay empty, its
memory flat, and a real client connects during and after the flood.

Memory is measured with tracemalloc (every Python allocation of the process, the test's own
included) after a warm-up: growth from the first checkpoint to the last must stay under
``GROWTH_TOLERANCE``. A single remembered byte per INIT would be 90 KB more and a dict entry
per INIT several MB, so the tolerance sits well below any per-INIT state."""

from __future__ import annotations

import asyncio
import gc
import random
import tracemalloc

import sctpmh
from sctpmh.core.chunks import InitAckChunk
from sctpmh.core.packet import build_packet, decode_packet
from sctpmh.core.states import State

from .wire import REPLY_WAIT, Live, RawPeer, cookie_of, init_chunk, live_endpoint

TOTAL = 100_000
WINDOW = 128  # INITs on the way at once: keeps the server's socket buffer from overflowing
BATCH = 40  # INITs sent between waits; divides every checkpoint below
HOSTS = [f"127.0.0.{n}" for n in range(10, 42)]
WARM_UP = 5_000
CHECKPOINT = 10_000
GROWTH_TOLERANCE = 256 * 1024  # bytes, first checkpoint to last
ANSWERED_SHARE = 0.99  # loopback loses nothing with WINDOW; a margin for a loaded machine


async def echo_once(live: Live, data: bytes) -> None:
    async with sctpmh.open_association(
        ["127.0.0.1"], live.sctp_port, local_addrs=["127.0.0.5"], backend=live.client_backend()
    ) as client:
        await client.send(data, stream=1)
        assert (await asyncio.wait_for(client.recv(), 30)).data == data


class Flood:
    """Sends the INITs and checks every answer."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.peers: list[RawPeer] = [live.peer(h, 0) for h in HOSTS for _ in range(2)]
        self.sent = 0
        self.answered = 0
        self.bad = 0
        self.progress = asyncio.Event()
        self.outstanding: set[int] = set()

    async def read(self, peer: RawPeer) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(peer.sock, 65536)
            packet = decode_packet(data)
            ok = (
                len(packet.chunks) == 1
                and isinstance(packet.chunks[0], InitAckChunk)
                and packet.verification_tag in self.outstanding
                and len(cookie_of(packet.chunks[0])) > 32
            )
            self.outstanding.discard(packet.verification_tag)
            self.answered += ok
            self.bad += not ok
            self.progress.set()

    def send_one(self, rng: random.Random) -> None:
        peer = self.peers[self.sent % len(self.peers)]
        tag = rng.getrandbits(32) | 1
        while tag in self.outstanding:
            tag = rng.getrandbits(32) | 1
        self.outstanding.add(tag)
        sctp_port = rng.randrange(1, 65536)
        peer.sock.sendto(
            build_packet(sctp_port, self.live.sctp_port, 0, [init_chunk(tag)]), peer.server
        )
        self.sent += 1

    async def wait_for_room(self) -> None:
        while self.sent - self.answered - self.bad >= WINDOW:
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), REPLY_WAIT)
            except TimeoutError:
                # Lost on the way: give up on those and go on (counted as unanswered).
                self.outstanding.clear()
                self.bad += self.sent - self.answered - self.bad
                return


def memory_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def test_an_init_flood_keeps_no_state_and_lets_a_client_in() -> None:
    async with live_endpoint() as live:
        flood = Flood(live)
        readers = [asyncio.create_task(flood.read(p)) for p in flood.peers]
        rng = random.Random(614)
        during: asyncio.Task[None] | None = None
        checkpoints: list[tuple[int, int, dict[str, int]]] = []
        try:
            while flood.sent < TOTAL:
                await flood.wait_for_room()
                for _ in range(min(BATCH, TOTAL - flood.sent)):
                    flood.send_one(rng)
                if flood.sent == WARM_UP:
                    tracemalloc.start()
                if flood.sent % CHECKPOINT == 0 and flood.sent > WARM_UP:
                    checkpoints.append((flood.sent, memory_now(), live.tables()))
                if flood.sent == TOTAL // 2:
                    during = asyncio.create_task(echo_once(live, b"during the flood"))
            while flood.answered + flood.bad < flood.sent:
                await flood.wait_for_room()
                if flood.sent - flood.answered - flood.bad < WINDOW:
                    flood.progress.clear()
                    try:
                        await asyncio.wait_for(flood.progress.wait(), REPLY_WAIT)
                    except TimeoutError:
                        break
            checkpoints.append((flood.sent, memory_now(), live.tables()))
        finally:
            tracemalloc.stop()
            for task in readers:
                task.cancel()
            for peer in flood.peers:
                peer.close()
        assert during is not None
        await asyncio.wait_for(during, 60)
        await echo_once(live, b"after the flood")

        print(f"answered {flood.answered} of {flood.sent}, bad {flood.bad}")
        for sent, memory, tables in checkpoints:
            print(f"after {sent} INITs: traced {memory} bytes, tables {tables}")
        assert flood.answered >= ANSWERED_SHARE * TOTAL
        # No per-INIT state: the listener (replaced only when the real clients came in) is
        # closed with no tag of its own, and no association is left in the tables.
        now_listening = live.endpoint._listener
        assert now_listening is not None
        assert now_listening.core.state is State.CLOSED
        assert now_listening.core.local_tag == 0
        for sent, _, tables in checkpoints:
            assert tables["by_tag"] <= 1, (sent, tables)  # the client's association, if up
            assert tables["driven"] <= 1, (sent, tables)
            assert tables["carrier_peer_ports"] <= 1, (sent, tables)
            assert tables["carrier_heard"] <= 4096, (sent, tables)
        growth = checkpoints[-1][1] - checkpoints[0][1]
        assert growth < GROWTH_TOLERANCE, f"memory grew {growth} bytes over the flood"
