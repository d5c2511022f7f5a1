"""Bulk transfer over a lossy, reordering network: every message arrives exactly once, in order
per stream (RFC 9260 sections 6.3, 6.5, 6.9, 7.2).

100,000 messages of mixed sizes (some fragmented: larger than the 1280-byte MTU) on 8 streams
cross a network that drops 5 % of the packets and reorders 10 % in both directions, so DATA
and SACKs are both lost. The sending application keeps at most 256 KiB queued, as one with
backpressure would. The run is deterministic (seeded) and takes tens of thousands of packets.
"""

from __future__ import annotations

import random
import struct

from sctpmh.events import Message
from tests.core.simnet import CLIENT_ADDRESS, SERVER_ADDRESS, Notice, is_established, pair

MESSAGES = 100_000
STREAMS = 8
HIGH_WATER = 256 * 1024
_HEADER = struct.Struct("!HI")  # stream, per-stream sequence number


def message_size(rng: random.Random) -> int:
    """Mostly small messages, some mid-sized, 2 % larger than the MTU (fragmented)."""
    roll = rng.random()
    if roll < 0.85:
        return rng.randint(_HEADER.size, 300)
    if roll < 0.98:
        return rng.randint(300, 1200)
    return rng.randint(1300, 6000)


def payload(stream: int, seq: int, size: int) -> bytes:
    """A payload that names its stream and sequence number and is otherwise predictable."""
    head = _HEADER.pack(stream, seq)
    fill = bytes([seq & 0xFF]) * (size - len(head))
    return head + fill


def test_100k_messages_over_loss_and_reordering() -> None:
    net, client, server = pair(seed=2024, record=False, establish=False)
    for src, dst in ((CLIENT_ADDRESS, SERVER_ADDRESS), (SERVER_ADDRESS, CLIENT_ADDRESS)):
        net.link(src[0], dst[0]).configure(loss=0.05, reorder=0.1, reorder_delay=0.03)
    net.run(lambda: is_established(client) and is_established(server), max_time=60)

    rng = random.Random(99)
    sizes: list[list[int]] = [[] for _ in range(STREAMS)]
    expected = [0] * STREAMS
    received = 0
    problems: list[str] = []

    def check(name: str, event: Notice) -> None:
        nonlocal received
        if name != "server" or not isinstance(event, Message):
            return
        stream, seq = _HEADER.unpack_from(event.data)
        if stream != event.stream or seq != expected[stream]:
            problems.append(f"stream {event.stream}: got #{seq}, expected #{expected[stream]}")
        elif event.data != payload(stream, seq, sizes[stream][seq]):
            problems.append(f"stream {stream}: message #{seq} corrupted")
        expected[stream] = seq + 1
        received += 1

    net.on_event = check
    sent = 0
    while sent < MESSAGES:
        # Queue up to the high-water mark, then let the network drain it to a quarter.
        while sent < MESSAGES and client.pending_bytes() < HIGH_WATER:
            stream = rng.randrange(STREAMS)
            size = message_size(rng)
            seq = len(sizes[stream])
            sizes[stream].append(size)
            client.send(payload(stream, seq, size), stream=stream, ppid=seq, now=net.now)
            sent += 1
        net.run(
            lambda: client.pending_bytes() <= HIGH_WATER // 4 or bool(problems),
            max_time=600,
            max_steps=2_000_000,
        )
        assert not problems, problems[:5]
    net.run(lambda: received == MESSAGES or bool(problems), max_time=600, max_steps=2_000_000)
    net.run_for(5.0)  # late duplicates would show up here

    assert not problems, problems[:5]
    assert received == MESSAGES
    assert expected == [len(s) for s in sizes]
    assert client.pending_bytes() == 0
    lost = sum(link.lost for link in net.links())
    reordered = sum(link.reordered for link in net.links())
    assert lost > 1000  # the network really was lossy
    assert reordered > 1000
    assert client.stats.t3_expirations + client.stats.fast_retransmits > 0
