"""Fuzzing the packet input of an established association.

An association ESTABLISHED with a scripted tester is fed arbitrary and mutated packets: valid
chunks with random fields, packets from a captured session with bytes flipped, lengths broken,
chunks spliced and truncated. The checksum is usually recomputed and the verification tag
usually right, so the inputs get past the first checks (RFC 9260 sections 6.8, 8.5) and reach
the state machine, the way usrsctp's fuzzers switch the CRC check off. Time moves on and timers
fire in between.

Invariants: no exception escapes ``receive_datagram`` / ``handle_timer`` /
``datagrams_to_send`` / ``next_event`` (RFC 9260 wants bad input dropped, or answered with
ABORT / ERROR), and the association's memory stays bounded whatever it is fed.

The number of inputs comes from ``SCTPMH_FUZZ_INPUTS`` (default 2,000, a few seconds). The long
run is::

    SCTPMH_FUZZ_INPUTS=100000 .venv/bin/python -m pytest tests/core/test_fuzz.py

The generator is seeded (``SCTPMH_FUZZ_SEED``, default 1), so a failure replays exactly.
"""

from __future__ import annotations

import collections
import os
import random
import struct
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from sctpmh.core.association import Association, State
from sctpmh.core.causes import ErrorCause
from sctpmh.core.chunks import (
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
    encode_chunk,
)
from sctpmh.core.packet import Packet, checksum, decode_packet, encode_packet
from sctpmh.core.params import Param
from tests.core.simnet import IUT_ADDRESS, TESTER_ADDRESS, Session, open_session
from tests.core.strategies import chunks as any_chunk

INPUTS = int(os.environ.get("SCTPMH_FUZZ_INPUTS", "2000"))
SEED = int(os.environ.get("SCTPMH_FUZZ_SEED", "1"))
RECEIVE_WINDOW = 64 * 1024

# Bounds on what one association may hold, whatever it is fed: generous, but far below what a
# leak over 100,000 inputs would reach.
MAX_HELD_BYTES = 4 * RECEIVE_WINDOW + 256 * 1024
MAX_HELD_ITEMS = 50_000
MAX_OUTPUT_PER_INPUT = 64

# ABORT, SHUTDOWN, SHUTDOWN ACK, SHUTDOWN COMPLETE (RFC 9260 section 3.3).
_ENDING_CHUNK_TYPES = frozenset({6, 7, 8, 14})


class Fuzzer:
    """Generates inputs for one established session; seeded, so runs repeat exactly."""

    def __init__(self, rng: random.Random, session: Session) -> None:
        self.rng = rng
        self.session = session
        self.corpus: list[bytes] = []
        self.gentle = False
        self._gentle_corpus: list[bytes] | None = None
        """Leave out the chunks that legitimately end an association (ABORT, SHUTDOWN and
        friends), so that one association lives through many inputs and its memory use over
        time can be watched."""

    # --- values near the interesting edges --------------------------------------------------

    def u32(self) -> int:
        rng = self.rng
        base = rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, self.session.next_tsn])
        return (base + rng.randint(-8, 8)) % 2**32 if rng.random() < 0.7 else rng.getrandbits(32)

    def tsn(self) -> int:
        # Mostly near the window the receiver expects, so DATA is accepted and reassembled.
        if self.rng.random() < 0.8:
            return (self.session.next_tsn + self.rng.randint(-20, 200)) % 2**32
        return self.u32()

    def u16(self) -> int:
        return self.rng.choice([0, 1, 2, 9, 10, 0xFFFF, self.rng.getrandbits(16)])

    def blob(self, limit: int = 64) -> bytes:
        return self.rng.randbytes(self.rng.choice([0, 1, 3, 4, 5, self.rng.randint(0, limit)]))

    # --- structured chunks ------------------------------------------------------------------

    def chunk(self) -> Chunk:
        rng = self.rng
        kind = rng.randrange(16)
        if self.gentle and kind in (9, 10, 11):
            kind = 6  # a SACK instead
        if kind < 6:
            return DataChunk(
                tsn=self.tsn(),
                stream=rng.choice([0, 1, 9, 10, self.u16()]),
                ssn=rng.choice([0, 1, 2, 3, self.u16()]),
                ppid=self.u32(),
                data=self.blob(3000) or b"x",
                unordered=rng.random() < 0.3,
                beginning=rng.random() < 0.7,
                ending=rng.random() < 0.7,
                immediate=rng.random() < 0.1,
            )
        if kind == 6:
            gaps = tuple((self.u16(), self.u16()) for _ in range(rng.randint(0, 6)))
            dups = tuple(self.u32() for _ in range(rng.randint(0, 4)))
            cum = (self.session.iut_initial_tsn + rng.randint(-5, 5)) % 2**32
            return SackChunk(cum if rng.random() < 0.7 else self.u32(), self.u32(), gaps, dups)
        if kind == 7:
            params = tuple(Param(self.u16(), self.blob()) for _ in range(rng.randint(0, 3)))
            fields = (self.u32(), self.u32(), self.u16(), self.u16(), self.u32(), params)
            return (InitChunk if rng.random() < 0.5 else InitAckChunk)(*fields)
        if kind == 8:
            return (HeartbeatChunk if rng.random() < 0.5 else HeartbeatAckChunk)(self.blob())
        if kind == 9:
            causes = tuple(ErrorCause(self.u16(), self.blob()) for _ in range(rng.randint(0, 3)))
            if rng.random() < 0.5:
                return ErrorChunk(causes)
            return AbortChunk(causes, reflected_tag=rng.random() < 0.5)
        if kind == 10:
            return ShutdownChunk(self.u32())
        if kind == 11:
            bare: list[Chunk] = [
                ShutdownAckChunk(),
                CookieAckChunk(),
                ShutdownCompleteChunk(rng.random() < 0.5),
            ]
            return rng.choice(bare)
        if kind == 12:
            cookie = self.session.cookie if rng.random() < 0.5 else self.blob(200)
            return CookieEchoChunk(cookie)
        return UnknownChunk(rng.randrange(15, 256), rng.getrandbits(8), self.blob())

    def structured(self) -> bytes:
        rng = self.rng
        chunks = tuple(self.chunk() for _ in range(rng.choice([1, 1, 1, 2, 3, 8])))
        return encode_packet(Packet(TESTER_ADDRESS[1], IUT_ADDRESS[1], self.vtag(), chunks))

    def vtag(self) -> int:
        roll = self.rng.random()
        if roll < 0.85:
            return self.session.iut_tag
        if roll < 0.92:
            return self.session.peer_tag
        return self.rng.choice([0, self.u32()])

    # --- byte-level mutations of captured or structured packets -----------------------------

    def mutated(self) -> bytes:
        rng = self.rng
        corpus = self.gentle_corpus() if self.gentle else self.corpus
        base = bytearray(rng.choice(corpus) if corpus else self.structured())
        for _ in range(rng.randint(1, 4)):
            self.mutate(base)
        data = bytes(base)
        if len(data) >= 12 and rng.random() < 0.9:
            # Recompute the CRC32c (RFC 9260 Appendix B) so the input reaches the chunk parser.
            data = data[:8] + checksum(data).to_bytes(4, "little") + data[12:]
        return data

    def gentle_corpus(self) -> list[bytes]:
        """The corpus without packets that hold a chunk ending the association."""
        if self._gentle_corpus is None:
            self._gentle_corpus = [
                data
                for data in self.corpus
                if not any(
                    encode_chunk(chunk)[0] in _ENDING_CHUNK_TYPES
                    for chunk in decode_packet(data).chunks
                )
            ]
        return self._gentle_corpus

    def mutate(self, data: bytearray) -> None:
        rng = self.rng
        op = rng.randrange(7)
        if op == 0 and data:  # flip bits
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1 and len(data) > 12:  # truncate
            del data[rng.randint(12, len(data) - 1) :]
        elif op == 2:  # append junk
            data.extend(rng.randbytes(rng.randint(1, 40)))
        elif op == 3 and len(data) >= 16:  # break the first chunk's length field
            struct.pack_into(
                "!H", data, 14, rng.choice([0, 1, 3, 4, 5, 0xFFFF, rng.getrandbits(16)])
            )
        elif op == 4 and len(data) >= 13:  # change a chunk type
            data[12] = rng.getrandbits(8)
            if self.gentle and data[12] in _ENDING_CHUNK_TYPES:
                data[12] = 0xFF
        elif op == 5 and self.corpus:  # splice chunks of another packet
            other = rng.choice(self.gentle_corpus() if self.gentle else self.corpus)
            data.extend(other[12:])
        elif op == 6 and len(data) >= 12:  # set the verification tag right
            struct.pack_into("!I", data, 4, self.session.iut_tag)

    def next_input(self) -> bytes:
        roll = self.rng.random()
        if roll < 0.45:
            data = self.structured()
            if len(self.corpus) < 500 and not self.gentle:
                self.corpus.append(data)
            return data
        if roll < 0.97:
            return self.mutated()
        return self.blob(100)  # pure garbage


def footprint(root: object) -> tuple[int, int]:
    """(container items, bytes) reachable from ``root`` through sctpmh.core objects."""
    seen: set[int] = set()
    stack = [root]
    items = size = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, bytes | bytearray | memoryview):
            size += len(obj)
        elif isinstance(obj, str | int | float | bool | type(None) | random.Random):
            continue
        elif isinstance(obj, dict):
            items += len(obj)
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset | collections.deque):
            items += len(obj)
            stack.extend(obj)
        elif type(obj).__module__.startswith("sctpmh.core"):
            for cls in type(obj).__mro__:
                for name in getattr(cls, "__slots__", ()):
                    if hasattr(obj, name):
                        stack.append(getattr(obj, name))
            stack.extend(getattr(obj, "__dict__", {}).values())
    return items, size


def fresh_session(seed: int) -> Session:
    return open_session(seed=seed, receive_window=RECEIVE_WINDOW)


def capture_corpus(fuzzer: Fuzzer) -> None:
    """Seed the corpus with real traffic: a short exchange the IUT took part in, turned around
    so it looks like it came from the tester."""
    session = fuzzer.session
    for i in range(5):
        session.send(session.data(bytes([i]) * (100 + 700 * i), stream=i % 3))
    session.iut.send(b"x" * 3000, now=session.net.now)
    session.net.run_for(2.0)
    for _, _, data in session.peer.received:
        packet = decode_packet(data)
        flipped = Packet(
            packet.destination_port, packet.source_port, session.iut_tag, packet.chunks
        )
        fuzzer.corpus.append(encode_packet(flipped))


def test_fuzz_packet_input() -> None:
    rng = random.Random(SEED)
    session = fresh_session(SEED)
    fuzzer = Fuzzer(rng, session)
    capture_corpus(fuzzer)
    now = session.net.now
    restarts = 0
    lifetime = longest = 0  # inputs taken by the current / the longest-lived association

    def feed(step: Callable[[Association, float], object], iut: Association, at: float) -> None:
        step(iut, at)
        out = iut.datagrams_to_send(at)
        assert len(out) <= MAX_OUTPUT_PER_INPUT
        answers: list[Chunk] = []
        for data, _, _ in out:
            packet = decode_packet(data)  # what the core sends must always be a valid packet
            # Play a live peer for HEARTBEATs (RFC 9260 section 8.3), or the association
            # would rightly fail after Association.Max.Retrans unanswered ones.
            answers.extend(
                HeartbeatAckChunk(chunk.info)
                for chunk in packet.chunks
                if isinstance(chunk, HeartbeatChunk)
            )
        if answers:
            reply = Packet(TESTER_ADDRESS[1], IUT_ADDRESS[1], session.iut_tag, tuple(answers))
            iut.receive_datagram(encode_packet(reply), TESTER_ADDRESS, at)
            iut.datagrams_to_send(at)
        events = 0
        while iut.next_event() is not None:
            events += 1
            assert events <= 10_000

    for index in range(INPUTS):
        # The first half throws everything at the association; the second half leaves out
        # the chunks that end it, so one association lives long enough to show a leak.
        fuzzer.gentle = index >= INPUTS // 2
        iut = session.iut
        if iut.state is State.CLOSED:
            # An accepted ABORT or a completed SHUTDOWN ended it: carry on with a new one.
            restarts += 1
            session = fresh_session(rng.getrandbits(16))
            fuzzer.session = session
            now = session.net.now
            lifetime = 0
            continue
        data = fuzzer.next_input()
        feed(lambda a, t, d=data: a.receive_datagram(d, TESTER_ADDRESS, t), iut, now)  # type: ignore[misc]
        now += rng.choice([0.0, 0.0, 0.001, 0.05, 0.3])
        deadline = iut.get_timer()
        if deadline is not None and deadline <= now:
            feed(lambda a, t: a.handle_timer(t), iut, now)
        lifetime += 1
        longest = max(longest, lifetime)
        if index % 500 == 0:
            items, size = footprint(iut)
            assert items <= MAX_HELD_ITEMS, f"input {index}: {items} items held"
            assert size <= MAX_HELD_BYTES, f"input {index}: {size} bytes held"
            assert iut.pending_bytes() <= MAX_HELD_BYTES

    items, size = footprint(session.iut)
    assert items <= MAX_HELD_ITEMS
    assert size <= MAX_HELD_BYTES
    # Most inputs must have reached a live association, or the fuzzer tests nothing; and one
    # association must have lived through a good share of them for the bounds to mean much.
    assert restarts < INPUTS // 4 + 5
    assert longest >= INPUTS // 10


@settings(max_examples=max(20, min(INPUTS // 20, 500)), deadline=None)
@given(
    packets=st.lists(st.lists(any_chunk, min_size=1, max_size=4), min_size=1, max_size=5),
    tag_right=st.booleans(),
)
def test_fuzz_valid_chunks_from_codec_strategies(
    packets: list[list[Chunk]], tag_right: bool
) -> None:
    # Well-formed chunks with arbitrary field values (the codec's strategies): an established
    # association must take any sequence of them without raising.
    session = fresh_session(7)
    iut = session.iut
    tag = session.iut_tag if tag_right else session.iut_tag ^ 0x1
    now = session.net.now
    for chunks in packets:
        data = encode_packet(Packet(TESTER_ADDRESS[1], IUT_ADDRESS[1], tag, tuple(chunks)))
        iut.receive_datagram(data, TESTER_ADDRESS, now)
        for out, _, _ in iut.datagrams_to_send(now):
            decode_packet(out)
        while iut.next_event() is not None:
            pass
        now += 0.5
        deadline = iut.get_timer()
        if deadline is not None and deadline <= now:
            iut.handle_timer(now)
    if not tag_right:
        # Nothing with a wrong tag may have touched the association (RFC 9260 section 8.5),
        # except the chunks that are exempt from the tag check (section 8.5.1).
        exempt = (InitChunk, AbortChunk, ShutdownCompleteChunk, CookieEchoChunk, ShutdownAckChunk)
        if not any(isinstance(c, exempt) for chunks in packets for c in chunks):
            assert iut.state is State.ESTABLISHED
