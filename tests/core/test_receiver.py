"""TSN tracking (RFC 9260 sections 6.2, 6.7) and reassembly / ordered delivery (6.5, 6.6, 6.9)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sctpmh.core.chunks import DataChunk
from sctpmh.core.receiver import (
    MAX_DUPLICATES,
    MAX_GAP_BLOCKS,
    MessageTooLarge,
    Reassembler,
    ReceivedMessage,
    TsnTracker,
)

TOP = 2**32 - 1

# --- TsnTracker ------------------------------------------------------------------------------


def test_in_order_advances_cumulative_tsn() -> None:
    t = TsnTracker(100)
    assert t.cumulative_tsn == 99
    assert t.receive(100)
    assert t.receive(101)
    assert t.cumulative_tsn == 101
    assert t.gap_blocks() == ()
    assert not t.has_gaps


def test_gaps_reported_as_offsets_and_filled() -> None:
    t = TsnTracker(100)
    t.receive(100)
    for tsn in (102, 103, 105):
        assert t.receive(tsn)
    assert t.cumulative_tsn == 100
    assert t.gap_blocks() == ((2, 3), (5, 5))
    assert t.highest_tsn == 105
    assert t.receive(101)
    assert t.cumulative_tsn == 103
    assert t.gap_blocks() == ((2, 2),)
    assert t.receive(104)
    assert t.cumulative_tsn == 105
    assert t.gap_blocks() == ()


def test_duplicates_reported_once() -> None:
    t = TsnTracker(1)
    t.receive(1)
    t.receive(3)
    assert not t.receive(1)  # behind the cumulative ack
    assert not t.receive(3)  # held above a gap
    assert not t.receive(3)
    assert t.take_duplicates() == (1, 3, 3)
    assert t.take_duplicates() == ()


def test_duplicates_are_capped() -> None:
    t = TsnTracker(1)
    t.receive(1)
    for _ in range(MAX_DUPLICATES + 50):
        t.receive(1)
    assert len(t.take_duplicates()) == MAX_DUPLICATES


def test_is_new() -> None:
    t = TsnTracker(10)
    t.receive(10)
    t.receive(12)
    assert not t.is_new(10)
    assert not t.is_new(9)
    assert t.is_new(11)
    assert not t.is_new(12)
    assert t.is_new(13)


def test_wraps_around_2_32() -> None:
    t = TsnTracker(TOP - 1)
    assert t.cumulative_tsn == TOP - 2
    for tsn in (TOP - 1, TOP, 0, 1):
        assert t.receive(tsn)
    assert t.cumulative_tsn == 1
    # TOP is now behind the cumulative ack in serial arithmetic: a duplicate.
    assert not t.receive(TOP)
    assert t.take_duplicates() == (TOP,)


def test_gap_across_the_wrap() -> None:
    t = TsnTracker(TOP)  # cum = TOP - 1
    assert t.receive(1)
    assert t.gap_blocks() == ((3, 3),)
    assert t.highest_tsn == 1
    assert t.receive(TOP)
    assert t.cumulative_tsn == TOP
    assert t.gap_blocks() == ((2, 2),)
    assert t.receive(0)
    assert t.cumulative_tsn == 1


def test_initial_tsn_zero() -> None:
    t = TsnTracker(0)
    assert t.cumulative_tsn == TOP
    assert t.receive(0)
    assert t.cumulative_tsn == 0


def test_gap_blocks_capped_in_number() -> None:
    t = TsnTracker(1)
    for i in range(MAX_GAP_BLOCKS + 20):
        t.receive(2 + 2 * i)  # every other TSN: one block each
    blocks = t.gap_blocks()
    assert len(blocks) == MAX_GAP_BLOCKS
    # cum = 0, so TSN 2 + 2i sits at offset 2 + 2i.
    assert blocks[0] == (2, 2)
    assert blocks[-1] == (2 * MAX_GAP_BLOCKS, 2 * MAX_GAP_BLOCKS)


def test_gap_blocks_stay_within_16_bit_offsets() -> None:
    t = TsnTracker(1)
    t.receive(10)
    for tsn in range(65_530, 65_545):
        t.receive(tsn)
    t.receive(70_000)
    # cum = 0: offsets are the TSNs; the run 65530..65544 is cut at 65535, 70000 is left out.
    assert t.gap_blocks() == ((10, 10), (65_530, 65_535))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, TOP),
    st.integers(1, 300),
    st.randoms(use_true_random=False),
)
def test_any_permutation_with_duplicates_yields_same_cum_ack(
    initial: int, count: int, rnd: random.Random
) -> None:
    tsns = [(initial + i) & TOP for i in range(count)]
    arrivals = tsns + rnd.choices(tsns, k=count // 3)
    rnd.shuffle(arrivals)
    t = TsnTracker(initial)
    new = [tsn for tsn in arrivals if t.receive(tsn)]
    assert sorted(new) == sorted(tsns)  # each TSN is new exactly once
    assert t.cumulative_tsn == (initial + count - 1) & TOP
    assert t.gap_blocks() == ()
    assert len(t.take_duplicates()) == min(len(arrivals) - count, MAX_DUPLICATES)


# --- Reassembler ------------------------------------------------------------------------------


def data(
    tsn: int,
    payload: bytes,
    *,
    stream: int = 0,
    ssn: int = 0,
    b: bool = True,
    e: bool = True,
    u: bool = False,
    ppid: int = 7,
) -> DataChunk:
    return DataChunk(tsn, stream, ssn, ppid, payload, u, b, e)


def test_single_chunk_message() -> None:
    r = Reassembler(4, 1000)
    r.add(data(5, b"hello", stream=2))
    assert r.buffered_bytes == 5
    assert r.pop_messages() == [ReceivedMessage(2, 0, 7, False, 5, b"hello")]
    assert r.buffered_bytes == 0
    assert r.pop_messages() == []


def test_fragments_in_any_order() -> None:
    r = Reassembler(1, 1000)
    r.add(data(12, b"ccc", b=False, e=True))
    r.add(data(10, b"aaa", b=True, e=False))
    assert r.pop_messages() == []
    assert r.buffered_bytes == 6
    assert r.fragment_count == 2
    r.add(data(11, b"bbb", b=False, e=False))
    assert r.pop_messages() == [ReceivedMessage(0, 0, 7, False, 10, b"aaabbbccc")]
    assert r.buffered_bytes == 0
    assert r.fragment_count == 0


def test_fragments_across_tsn_wrap() -> None:
    r = Reassembler(1, 1000)
    r.add(data(0, b"2", b=False, e=True))
    r.add(data(TOP, b"1", b=False, e=False))
    r.add(data(TOP - 1, b"0", b=True, e=False))
    assert [m.data for m in r.pop_messages()] == [b"012"]


def test_ordered_messages_wait_for_their_ssn() -> None:
    r = Reassembler(2, 1000)
    r.add(data(2, b"second", ssn=1))
    r.add(data(3, b"third", ssn=2))
    r.add(data(4, b"other stream", stream=1, ssn=0))
    assert [m.data for m in r.pop_messages()] == [b"other stream"]
    assert r.buffered_bytes == len(b"second") + len(b"third")
    r.add(data(1, b"first", ssn=0))
    assert [m.data for m in r.pop_messages()] == [b"first", b"second", b"third"]
    assert r.buffered_bytes == 0


def test_unordered_delivered_at_once() -> None:
    r = Reassembler(1, 1000)
    r.add(data(2, b"ordered 1", ssn=1))
    r.add(data(3, b"unordered", u=True))
    assert [m.data for m in r.pop_messages()] == [b"unordered"]
    r.add(data(1, b"ordered 0", ssn=0))
    assert [m.data for m in r.pop_messages()] == [b"ordered 0", b"ordered 1"]


def test_adjacent_unordered_fragmented_messages_do_not_merge() -> None:
    r = Reassembler(1, 1000)
    r.add(data(11, b"A2", u=True, b=False, e=True))
    r.add(data(12, b"B1", u=True, b=True, e=False))
    r.add(data(13, b"B2", u=True, b=False, e=True))
    assert [m.data for m in r.pop_messages()] == [b"B1B2"]
    r.add(data(10, b"A1", u=True, b=True, e=False))
    messages = r.pop_messages()
    assert [(m.data, m.tsn, m.unordered) for m in messages] == [(b"A1A2", 10, True)]


def test_ssn_wraps_around_2_16() -> None:
    r = Reassembler(1, 1000)
    for ssn in range(65535):
        r.add(data(ssn, b"x", ssn=ssn))
    assert len(r.pop_messages()) == 65535
    # SSN 0 (after the wrap) arrives before SSN 65535: it waits.
    r.add(data(65536, b"after", ssn=0))
    assert r.pop_messages() == []
    r.add(data(65535, b"before", ssn=65535))
    assert [m.data for m in r.pop_messages()] == [b"before", b"after"]


def test_stale_ssn_is_dropped() -> None:
    r = Reassembler(1, 1000)
    r.add(data(1, b"a", ssn=0))
    r.pop_messages()
    r.add(data(2, b"again", ssn=0))  # a misbehaving peer reuses SSN 0
    assert r.pop_messages() == []
    assert r.buffered_bytes == 0


def test_message_too_large_unfragmented() -> None:
    r = Reassembler(1, 10)
    r.add(data(1, b"x" * 10))
    with pytest.raises(MessageTooLarge) as info:
        r.add(data(2, b"x" * 11, ssn=1))
    assert (info.value.size, info.value.limit) == (11, 10)


def test_message_too_large_while_fragments_accumulate() -> None:
    r = Reassembler(1, 10)
    r.add(data(1, b"x" * 6, b=True, e=False))
    # Before the last fragment arrives: 6 + 6 already exceeds the limit.
    with pytest.raises(MessageTooLarge):
        r.add(data(2, b"y" * 6, b=False, e=False))


def _chunks_for(
    messages: list[tuple[int, bool, bytes]], initial_tsn: int, max_payload: int
) -> list[DataChunk]:
    chunks: list[DataChunk] = []
    ssns: dict[int, int] = {}
    tsn = initial_tsn
    for stream, unordered, payload in messages:
        ssn = 0
        if not unordered:
            ssn = ssns.get(stream, 0)
            ssns[stream] = (ssn + 1) & 0xFFFF
        pieces = [payload[i : i + max_payload] for i in range(0, len(payload), max_payload)]
        for i, piece in enumerate(pieces):
            chunks.append(
                DataChunk(tsn, stream, ssn, 0, piece, unordered, i == 0, i == len(pieces) - 1)
            )
            tsn = (tsn + 1) & TOP
    return chunks


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.booleans(), st.binary(min_size=1, max_size=40)),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, TOP),
    st.integers(1, 16),
    st.randoms(use_true_random=False),
)
def test_any_arrival_order_delivers_every_message_once_in_stream_order(
    messages: list[tuple[int, bool, bytes]],
    initial_tsn: int,
    max_payload: int,
    rnd: random.Random,
) -> None:
    # Tag each payload so equal payloads remain distinguishable.
    messages = [(s, u, i.to_bytes(2, "big") + p) for i, (s, u, p) in enumerate(messages)]
    chunks = _chunks_for(messages, initial_tsn, max_payload)
    arrivals = chunks + rnd.choices(chunks, k=len(chunks) // 2)
    rnd.shuffle(arrivals)
    tracker = TsnTracker(initial_tsn)
    reassembler = Reassembler(4, 10_000)
    delivered: list[ReceivedMessage] = []
    for chunk in arrivals:
        if tracker.receive(chunk.tsn):
            reassembler.add(chunk)
            delivered.extend(reassembler.pop_messages())
    assert sorted(m.data for m in delivered) == sorted(p for _, _, p in messages)
    for stream in range(4):
        sent_ordered = [p for s, u, p in messages if s == stream and not u]
        got_ordered = [m.data for m in delivered if m.stream == stream and not m.unordered]
        assert got_ordered == sent_ordered
    assert reassembler.buffered_bytes == 0
    assert reassembler.fragment_count == 0
