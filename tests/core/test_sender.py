"""The sending half: fragmentation, TSN/SSN assignment, windows (RFC 9260 section 6.1), SACK
processing (6.2.1), fast retransmit (7.2.4), T3-rtx marking (6.3.3) and Karn's rule (6.3.1)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sctpmh.config import Config
from sctpmh.core.chunks import DataChunk, SackChunk
from sctpmh.core.destination import Destination
from sctpmh.core.receiver import Reassembler, ReceivedMessage, TsnTracker
from sctpmh.core.sender import Sender

TOP = 2**32 - 1
BIG = 10**9
CONFIG = Config(rto_initial=1.0, rto_min=0.1, rto_max=60.0)
WIRE_1000 = 16 + 1000  # one DATA chunk with 1000 payload bytes


def destination(cwnd: int | None = None) -> Destination:
    d = Destination(("192.0.2.1", 5000), CONFIG)
    if cwnd is not None:
        d.cwnd = cwnd
    return d


def sack(cum: int, *gaps: tuple[int, int], a_rwnd: int = 100_000) -> SackChunk:
    return SackChunk(cum & TOP, a_rwnd, gaps)


def sender_with(count: int, *, initial: int = 1, size: int = 1000) -> Sender:
    s = Sender(initial, 4, 100_000)
    for i in range(count):
        s.enqueue(bytes([i % 256]) * size, 0, 0, False, 1200)
    return s


def tsns(chunks: list[DataChunk]) -> list[int]:
    return [c.tsn for c in chunks]


# --- queueing ---------------------------------------------------------------------------------


def test_fragmentation_b_e_bits_consecutive_tsns_same_ssn() -> None:
    s = Sender(100, 4, 10_000)
    payload = bytes(range(250)) * 10  # 2500 bytes
    s.enqueue(payload, 1, 9, False, 1000)
    assert s.queued_bytes == 2500
    chunks = s.chunks_to_send(0.0, destination(BIG), BIG, BIG)
    assert tsns(chunks) == [100, 101, 102]
    assert [(c.beginning, c.ending) for c in chunks] == [
        (True, False),
        (False, False),
        (False, True),
    ]
    assert [len(c.data) for c in chunks] == [1000, 1000, 500]
    assert {(c.stream, c.ssn, c.ppid, c.unordered) for c in chunks} == {(1, 0, 9, False)}
    assert b"".join(c.data for c in chunks) == payload
    assert s.queued_bytes == 0
    assert s.outstanding_bytes == 2500


def test_ssn_per_stream_and_unordered_take_none() -> None:
    s = Sender(1, 4, 10_000)
    for stream, unordered in [(0, False), (0, False), (1, False), (0, True), (0, False)]:
        s.enqueue(b"x", stream, 0, unordered, 100)
    chunks = s.chunks_to_send(0.0, destination(BIG), BIG, BIG)
    assert [(c.stream, c.ssn, c.unordered) for c in chunks] == [
        (0, 0, False),
        (0, 1, False),
        (1, 0, False),
        (0, 0, True),
        (0, 2, False),
    ]


def test_tsn_wraps_around() -> None:
    s = Sender(TOP, 1, 100)
    for _ in range(3):
        s.enqueue(b"x", 0, 0, False, 100)
    d = destination(BIG)
    assert tsns(s.chunks_to_send(0.0, d, BIG, BIG)) == [TOP, 0, 1]
    result = s.on_sack(sack(0), 0.1)
    assert result.newly_acked_bytes == 2
    assert s.cumulative_tsn_ack == 0
    s.on_sack(sack(1), 0.2)
    assert s.all_acked


@pytest.mark.parametrize(
    ("data", "stream", "max_payload"), [(b"", 0, 10), (b"x", 4, 10), (b"x" * 101, 0, 10)]
)
def test_enqueue_rejects_misuse(data: bytes, stream: int, max_payload: int) -> None:
    s = Sender(1, 4, 100)
    with pytest.raises(ValueError, match="not in"):
        s.enqueue(data, stream, 0, False, max_payload)


# --- windows (RFC 9260 section 6.1) ----------------------------------------------------------


def test_cwnd_limits_new_data() -> None:
    s = sender_with(10)
    d = destination()  # cwnd 4404
    # Rule B: send while flight < cwnd; the fifth chunk overshoots by less than one chunk.
    assert len(s.chunks_to_send(0.0, d, BIG, BIG)) == 5
    assert d.flight_size == 5000
    assert s.chunks_to_send(0.0, d, BIG, BIG) == []


def test_peer_rwnd_limits_new_data_and_counts_what_was_sent() -> None:
    s = sender_with(10)
    d = destination(BIG)
    assert len(s.chunks_to_send(0.0, d, 2500, BIG)) == 2
    # The caller still holds the window of the last SACK: what was sent since is deducted.
    assert s.chunks_to_send(0.0, d, 2500, BIG) == []
    assert len(s.chunks_to_send(0.0, d, 3000, BIG)) == 1


def test_zero_window_probe() -> None:
    s = sender_with(3)
    d = destination(BIG)
    # Rule A: with nothing in flight one chunk goes even into a zero window.
    assert len(s.chunks_to_send(0.0, d, 0, BIG)) == 1
    assert s.chunks_to_send(0.0, d, 0, BIG) == []
    result = s.on_sack(sack(1, a_rwnd=0), 0.5)
    assert result.peer_rwnd == 0
    assert len(s.chunks_to_send(0.5, d, result.peer_rwnd, BIG)) == 1


def test_budget_counts_wire_bytes() -> None:
    s = sender_with(5)
    d = destination(BIG)
    assert len(s.chunks_to_send(0.0, d, BIG, 2 * WIRE_1000)) == 2
    assert len(s.chunks_to_send(0.0, d, BIG, 2 * WIRE_1000 - 1)) == 1


# --- SACK processing (RFC 9260 section 6.2.1) -------------------------------------------------


def test_cumulative_ack_releases_chunks_and_measures_rtt() -> None:
    s = sender_with(3, initial=50)
    d = destination()
    s.chunks_to_send(0.0, d, BIG, BIG)
    result = s.on_sack(sack(52, a_rwnd=50_000), 0.25)
    assert not result.ignored
    assert result.newly_acked_bytes == 3000
    assert result.cum_ack_advanced
    assert result.rtt_samples == (0.25,)
    assert result.peer_rwnd == 50_000
    assert not result.fast_retransmit
    assert (d.flight_size, s.outstanding_bytes, s.flight_bytes) == (0, 0, 0)
    assert s.all_acked
    result.update_destinations()
    assert d.srtt == pytest.approx(0.25)
    # 3000 in flight left more than one MTU of the 4404-byte cwnd unused: no growth.
    assert d.cwnd == 4404


def test_slow_start_growth_through_update_destinations() -> None:
    s = sender_with(5)
    d = destination()
    d.ssthresh = 100_000
    s.chunks_to_send(0.0, d, BIG, BIG)  # 5000 in flight >= cwnd 4404
    s.on_sack(sack(5), 0.1).update_destinations()
    assert d.cwnd == 4404 + 1280


def test_window_filled_to_within_one_mtu_counts_as_fully_utilized() -> None:
    s = sender_with(4)
    d = destination()
    d.ssthresh = 100_000
    s.chunks_to_send(0.0, d, BIG, 4 * WIRE_1000)  # 4000 in flight: 404 bytes unused < MTU
    result = s.on_sack(sack(4), 0.1)
    assert [ack.fully_utilized for ack in result.destinations] == [True]
    result.update_destinations()
    assert d.cwnd == 4404 + 1280


def test_peer_rwnd_is_a_rwnd_minus_bytes_in_flight() -> None:
    s = sender_with(3)
    s.chunks_to_send(0.0, destination(BIG), BIG, BIG)
    result = s.on_sack(sack(1, a_rwnd=10_000), 0.1)
    assert result.peer_rwnd == 8000
    assert s.peer_rwnd == 8000


def test_old_sack_is_ignored() -> None:
    s = sender_with(3)
    d = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)
    s.on_sack(sack(2, a_rwnd=10_000), 0.1)
    result = s.on_sack(sack(1, a_rwnd=99_999), 0.2)
    assert result.ignored
    assert result.newly_acked_bytes == 0
    assert s.cumulative_tsn_ack == 2
    assert s.peer_rwnd == 9000  # the reordered SACK's window is not taken


def test_sack_beyond_anything_sent_is_ignored() -> None:
    s = sender_with(3)
    s.chunks_to_send(0.0, destination(BIG), BIG, BIG)
    assert s.on_sack(sack(4), 0.1).ignored
    assert s.cumulative_tsn_ack == 0
    assert s.outstanding_bytes == 3000


def test_malformed_gap_blocks_do_no_harm() -> None:
    s = sender_with(4)
    d = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)
    # Reversed, zero-start, overlapping and far-out blocks: only (2, 2) is usable (TSN 3).
    result = s.on_sack(sack(1, (5, 3), (0, 0), (2, 2), (2, 3), (1, 65535)), 0.1)
    assert result.newly_acked_bytes == 2000  # TSN 1 cumulatively, TSN 3 by the gap block
    assert d.flight_size == 2000


def test_gap_acked_chunks_leave_flight_but_stay_until_cum_acked() -> None:
    s = sender_with(4)
    d = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)
    result = s.on_sack(sack(1, (2, 3)), 0.1)  # TSNs 3 and 4 gap acked, 2 missing
    assert result.newly_acked_bytes == 3000
    assert d.flight_size == 1000
    assert not s.all_acked
    assert s.on_sack(sack(1, (2, 3)), 0.2).newly_acked_bytes == 0
    assert s.on_sack(sack(4), 0.3).newly_acked_bytes == 1000
    assert s.all_acked


# --- reneging (RFC 9260 sections 6.2.1 D iii, 6.3.2 R4) ---------------------------------------


def test_gap_acked_chunk_no_longer_reported_is_outstanding_again() -> None:
    s = sender_with(4)
    d = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)
    s.on_sack(sack(1, (2, 3)), 0.1)  # TSNs 3 and 4 gap acked, 2 missing
    assert (s.flight_bytes, s.outstanding_bytes, d.flight_size) == (1000, 1000, 1000)
    result = s.on_sack(sack(1, a_rwnd=50_000), 0.2)  # the peer dropped 3 and 4
    assert result.reneged == (d,)
    assert result.newly_acked_bytes == 0
    assert (s.flight_bytes, s.outstanding_bytes, d.flight_size) == (3000, 3000, 3000)
    # The reneged bytes count against the peer's window again (6.2.1 B).
    assert result.peer_rwnd == s.peer_rwnd == 47_000
    # Outstanding again, T3-rtx marks them (6.3.3 E3) and they are resent in TSN order.
    s.on_t3_expired(d)
    assert (s.flight_bytes, d.flight_size, s.outstanding_bytes) == (0, 0, 3000)
    assert tsns(s.chunks_to_send(1.0, d, BIG, BIG)) == [2, 3, 4]
    assert s.on_sack(sack(4), 1.1).newly_acked_bytes == 3000
    assert s.all_acked
    assert (s.flight_bytes, d.flight_size) == (0, 0)


def test_only_the_chunks_left_out_are_reneged_and_reacknowledging_counts_again() -> None:
    s = sender_with(5)
    d = destination(BIG)
    other = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)  # TSNs 1..5 to d
    s.enqueue(b"o" * 500, 0, 0, False, 1200)
    s.chunks_to_send(0.0, other, BIG, BIG)  # TSN 6 to the other destination
    s.on_sack(sack(1, (2, 2), (4, 5)), 0.1)  # 3, 5 and 6 gap acked
    assert (d.flight_size, other.flight_size) == (2000, 0)
    result = s.on_sack(sack(1, (2, 2), (4, 4)), 0.2)  # 6 dropped, 3 and 5 still held
    assert result.reneged == (other,)
    assert (d.flight_size, other.flight_size, s.flight_bytes) == (2000, 500, 2500)
    result = s.on_sack(sack(1, (4, 5)), 0.3)  # 3 dropped, 5 still held, 6 held again
    assert result.reneged == (d,)
    assert result.newly_acked_bytes == 500  # TSN 6, acknowledged a second time
    assert (d.flight_size, other.flight_size, s.flight_bytes) == (3000, 0, 3000)
    assert s.outstanding_bytes == 3000


def test_reneged_chunk_counts_one_miss_indication_towards_fast_retransmit() -> None:
    s = sender_with(6)
    d = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)
    s.on_sack(sack(1, (2, 2)), 0.1)  # TSN 3 gap acked; TSN 2 misses once (HTNA = 3)
    assert s.on_sack(sack(1), 0.2).reneged == (d,)  # TSN 3: one miss indication (6.2.1 D iii)
    assert not s.on_sack(sack(1, (3, 3)), 0.3).fast_retransmit  # 2 and 3 miss again
    result = s.on_sack(sack(1, (3, 4)), 0.4)  # the third miss of both
    assert result.fast_retransmit
    assert tsns(s.chunks_to_send(0.5, d, BIG, BIG)) == [2, 3]


def test_cumulative_ack_passing_gap_acked_chunks_reneges_nothing() -> None:
    s = sender_with(4)
    d = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)
    s.on_sack(sack(1, (2, 3)), 0.1)  # 3 and 4 gap acked
    result = s.on_sack(sack(3, (1, 1)), 0.2)  # the cum ack takes 2 and 3, the block 4
    assert result.reneged == ()
    assert result.newly_acked_bytes == 1000
    assert (s.flight_bytes, s.outstanding_bytes, d.flight_size) == (0, 0, 0)
    result = s.on_sack(sack(4), 0.3)
    assert (result.reneged, result.newly_acked_bytes) == ((), 0)
    assert s.all_acked
    assert s.on_sack(sack(4), 0.4).reneged == ()  # nothing left to renege on
    assert (s.flight_bytes, d.flight_size) == (0, 0)


def test_old_sack_reneges_nothing_and_shutdown_cum_ack_withdraws_no_gap_ack() -> None:
    s = sender_with(5)
    d = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)
    s.on_sack(sack(2, (2, 3)), 0.1)  # 4 and 5 gap acked
    assert s.on_sack(sack(1), 0.2).ignored  # behind the cum ack: no reneging either
    assert d.flight_size == 1000
    # A SHUTDOWN's Cumulative TSN Ack has no room for Gap Ack Blocks (RFC 9260 section 9.2).
    result = s.on_sack(sack(3), 0.3, gaps_reported=False)
    assert result.reneged == ()
    assert result.newly_acked_bytes == 1000
    assert (s.flight_bytes, s.outstanding_bytes, d.flight_size) == (0, 0, 0)
    assert s.on_sack(sack(3), 0.4).reneged == (d,)  # a SACK without them does renege
    assert d.flight_size == 2000


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 1200), min_size=1, max_size=12),
    st.lists(
        st.tuples(st.integers(0, 3), st.sets(st.integers(1, 12), max_size=8)),
        min_size=1,
        max_size=10,
    ),
)
def test_outstanding_and_flight_follow_the_last_sack(
    sizes: list[int], replies: list[tuple[int, set[int]]]
) -> None:
    # Whatever a peer acknowledges by gap blocks and later drops again, the sender's bytes
    # outstanding are those its last SACK does not report, and flight stays consistent.
    s = Sender(TOP - 4, 4, 100_000)  # across the TSN wrap
    for size in sizes:
        s.enqueue(b"z" * size, 0, 0, False, 1200)
    d = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)
    first = TOP - 4
    cum_offset = 0  # TSNs acknowledged cumulatively
    for step, (advance, held) in enumerate(replies):
        cum_offset = min(len(sizes), cum_offset + advance)
        offsets = sorted(o for o in held if cum_offset + o <= len(sizes))
        blocks: list[tuple[int, int]] = []
        for o in offsets:
            if blocks and blocks[-1][1] == o - 1:
                blocks[-1] = (blocks[-1][0], o)
            else:
                blocks.append((o, o))
        result = s.on_sack(sack(first + cum_offset - 1, *blocks, a_rwnd=50_000), 0.1 * step)
        assert not result.ignored
        reported = {cum_offset + o for o in offsets}
        expected = sum(
            size for n, size in enumerate(sizes, 1) if n > cum_offset and n not in reported
        )
        assert s.outstanding_bytes == expected
        assert s.flight_bytes == d.flight_size <= expected
        assert result.peer_rwnd == max(0, 50_000 - s.flight_bytes)
    s.on_sack(sack(first + len(sizes) - 1), 9.0)
    assert s.all_acked
    assert (s.flight_bytes, s.outstanding_bytes, d.flight_size) == (0, 0, 0)


# --- fast retransmit and Fast Recovery (RFC 9260 section 7.2.4) -------------------------------


def test_fast_retransmit_on_third_miss_indication() -> None:
    s = sender_with(6)
    d = destination(100_000)
    s.chunks_to_send(0.0, d, BIG, BIG)  # TSNs 1..6; TSN 2 is lost
    assert not s.on_sack(sack(1, (2, 2)), 0.1).fast_retransmit  # miss 1 (HTNA = 3)
    assert not s.on_sack(sack(1, (2, 3)), 0.2).fast_retransmit  # miss 2 (HTNA = 4)
    # Nothing newly acknowledged: HTNA says no miss indication.
    assert not s.on_sack(sack(1, (2, 3)), 0.25).fast_retransmit
    result = s.on_sack(sack(1, (2, 4), a_rwnd=50_000), 0.3)  # miss 3
    assert result.fast_retransmit
    assert result.in_fast_recovery
    # TSN 6 is in flight; TSN 2 is marked and so out of flight (6.2.1 D).
    assert d.flight_size == 1000
    assert result.peer_rwnd == 49_000
    result.update_destinations()
    assert (d.ssthresh, d.cwnd) == (50_000, 50_000)
    # The marked chunk goes first, even though cwnd is exceeded (7.2.4 step 3).
    d.cwnd = 500
    s.enqueue(b"new", 0, 0, False, 1200)
    assert tsns(s.chunks_to_send(0.4, d, BIG, BIG)) == [2]


def test_retransmissions_before_new_data() -> None:
    s = sender_with(6)
    d = destination(100_000)
    s.chunks_to_send(0.0, d, BIG, BIG)
    for gap_end in (2, 3, 4):
        s.on_sack(sack(1, (2, gap_end)), 0.1)
    s.enqueue(b"new", 0, 0, False, 1200)
    assert tsns(s.chunks_to_send(0.4, d, BIG, BIG)) == [2, 7]


def test_fast_recovery_cuts_cwnd_once_and_exits_at_the_exit_point() -> None:
    s = sender_with(10)
    d = destination(100_000)
    s.chunks_to_send(0.0, d, BIG, BIG)  # TSNs 1..10; 2 and 4 are lost
    for gaps in [((2, 2),), ((2, 2), (4, 4)), ((2, 2), (4, 5))]:
        result = s.on_sack(sack(1, *gaps), 0.1)
        result.update_destinations()
    assert result.fast_retransmit  # TSN 2: third miss, enter Fast Recovery
    assert d.cwnd == 50_000
    assert tsns(s.chunks_to_send(0.2, d, BIG, BIG)) == [2]
    # TSN 4 reaches its third miss during Fast Recovery: resent, but no second cut.
    result = s.on_sack(sack(1, (2, 2), (4, 6)), 0.3)
    result.update_destinations()
    assert not result.fast_retransmit
    assert result.in_fast_recovery
    assert d.cwnd == 50_000
    assert tsns(s.chunks_to_send(0.3, d, BIG, BIG)) == [4]
    # TSN 2 was fast retransmitted once; its retransmission is in flight, so more SACKs
    # reporting it missing must not resend it again (T3-rtx covers a second loss).
    for end in (7, 8, 9):
        s.on_sack(sack(1, (2, 2), (4, end)), 0.35).update_destinations()
    assert s.chunks_to_send(0.4, d, BIG, BIG) == []
    # The exit point is TSN 10, the highest outstanding when recovery began.
    result = s.on_sack(sack(9), 0.5)
    assert result.in_fast_recovery
    result = s.on_sack(sack(10), 0.6)
    assert not result.in_fast_recovery
    assert s.all_acked


# --- T3-rtx (RFC 9260 section 6.3.3) and Karn's rule (6.3.1 C5) -------------------------------


def test_t3_marks_outstanding_chunks_of_that_destination() -> None:
    s = sender_with(4)
    d = destination()
    other = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)  # TSNs 1..4 to d
    s.enqueue(b"late", 0, 0, False, 1200)
    s.chunks_to_send(0.0, other, BIG, BIG)  # TSN 5 to the other destination
    s.on_t3_expired(d)
    d.on_t3_expired()
    assert d.flight_size == 0
    assert other.flight_size == 4
    assert s.flight_bytes == 4
    assert s.outstanding_bytes == 4004
    assert s.has_data
    s.enqueue(b"newer", 0, 0, False, 1200)
    # cwnd is now one MTU: two 1000-byte retransmissions (the second starts below cwnd),
    # lowest TSN first, and no new data while retransmissions wait (6.1 rule C).
    assert tsns(s.chunks_to_send(1.0, d, BIG, BIG)) == [1, 2]
    assert s.chunks_to_send(1.0, d, BIG, BIG) == []


def test_karns_rule_no_rtt_sample_from_retransmitted_chunk() -> None:
    s = sender_with(1)
    d = destination()
    s.chunks_to_send(0.0, d, BIG, BIG)
    s.on_t3_expired(d)
    assert tsns(s.chunks_to_send(1.0, d, BIG, BIG)) == [1]
    result = s.on_sack(sack(1), 1.1)
    assert result.newly_acked_bytes == 1000
    assert result.rtt_samples == ()
    # A chunk sent once afterwards is timed again.
    s.enqueue(b"x", 0, 0, False, 100)
    s.chunks_to_send(2.0, d, BIG, BIG)
    samples = s.on_sack(sack(2), 2.3).rtt_samples
    assert len(samples) == 1
    assert samples[0] == pytest.approx(0.3)


def test_one_rtt_sample_per_round_trip() -> None:
    s = sender_with(4)
    d = destination(BIG)
    s.chunks_to_send(0.0, d, BIG, BIG)
    assert s.on_sack(sack(2), 0.2).rtt_samples == (0.2,)  # TSN 1 was the timed chunk
    assert s.on_sack(sack(4), 0.3).rtt_samples == ()


# --- abort -----------------------------------------------------------------------------------


def test_drain_unsent_reports_unacknowledged_messages() -> None:
    s = Sender(1, 4, 10_000)
    d = destination(BIG)
    s.enqueue(b"A", 0, 1, False, 1000)
    s.enqueue(b"B" * 2500, 2, 2, False, 1000)  # TSNs 2, 3, 4
    s.chunks_to_send(0.0, d, BIG, 3 * WIRE_1000)  # TSNs 1, 2, 3 go out
    s.enqueue(b"C", 3, 3, True, 1000)  # TSN 5, never sent
    s.on_sack(sack(2), 0.1)  # A and B's first fragment acknowledged
    assert s.drain_unsent() == [(b"B" * 2500, 2, 2, True), (b"C", 3, 3, False)]
    assert s.all_acked
    assert (s.queued_bytes, s.outstanding_bytes, d.flight_size) == (0, 0, 0)
    assert not s.has_data
    assert s.on_sack(sack(4), 0.2).newly_acked_bytes == 0  # late SACK: harmless


def test_drain_skips_wholly_gap_acked_messages() -> None:
    s = sender_with(3)
    s.chunks_to_send(0.0, destination(BIG), BIG, BIG)
    s.on_sack(sack(0, (2, 2)), 0.1)  # TSN 2 gap acked
    assert [entry[0][0] for entry in s.drain_unsent()] == [0, 2]


# --- sender and receiver together -------------------------------------------------------------


def _run_lossy_transfer(
    messages: list[tuple[int, bool, bytes]],
    initial_tsn: int,
    loss: float,
    rnd: random.Random,
) -> tuple[list[ReceivedMessage], Sender, TsnTracker]:
    window = 8000
    sender = Sender(initial_tsn, 4, 100_000)
    tracker = TsnTracker(initial_tsn)
    reassembler = Reassembler(4, 100_000)
    d = destination()
    d.ssthresh = window
    for stream, unordered, payload in messages:
        sender.enqueue(payload, stream, 0, unordered, 300)
    delivered: list[ReceivedMessage] = []
    peer_rwnd = window
    sender.set_peer_rwnd(window)
    stale: SackChunk | None = None
    now = 0.0
    for _ in range(20_000):
        if sender.all_acked:
            break
        now += 0.01
        chunks = sender.chunks_to_send(now, d, peer_rwnd, 4 * 1280)
        arrived = [c for c in chunks if rnd.random() >= loss]
        rnd.shuffle(arrived)
        for chunk in arrived:
            if tracker.receive(chunk.tsn):
                reassembler.add(chunk)
        delivered.extend(reassembler.pop_messages())
        acked = False
        if arrived:
            reply = SackChunk(
                tracker.cumulative_tsn,
                window - reassembler.buffered_bytes,
                tracker.gap_blocks(),
                tracker.take_duplicates(),
            )
            if rnd.random() >= loss:
                result = sender.on_sack(reply, now)
                result.update_destinations()
                acked = not result.ignored
                if acked:
                    peer_rwnd = result.peer_rwnd
            if stale is not None and rnd.random() < 0.2:
                sender.on_sack(stale, now)  # an old SACK, reordered: must be ignored
            stale = reply
        if not chunks and not acked:
            # Nothing can move: the retransmission timer fires (RFC 9260 section 6.3.3).
            sender.on_t3_expired(d)
            d.back_off()
            d.on_t3_expired()
    return delivered, sender, tracker


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.booleans(), st.integers(1, 1500)),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from([1, TOP - 20, 2**31]),
    st.sampled_from([0.0, 0.1, 0.3]),
    st.randoms(use_true_random=False),
)
def test_lossy_loop_delivers_everything_in_stream_order(
    specs: list[tuple[int, bool, int]],
    initial_tsn: int,
    loss: float,
    rnd: random.Random,
) -> None:
    messages = [
        (stream, unordered, i.to_bytes(2, "big") * (size // 2 + 1))
        for i, (stream, unordered, size) in enumerate(specs)
    ]
    delivered, sender, tracker = _run_lossy_transfer(messages, initial_tsn, loss, rnd)
    assert sender.all_acked
    assert sorted(m.data for m in delivered) == sorted(p for _, _, p in messages)
    for stream in range(4):
        expected = [p for s, u, p in messages if s == stream and not u]
        assert [m.data for m in delivered if m.stream == stream and not m.unordered] == expected
    assert tracker.cumulative_tsn == (sender.next_tsn - 1) & TOP
