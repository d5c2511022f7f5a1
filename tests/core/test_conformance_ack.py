"""Conformance: acknowledgement timing (RFC 9260 sections 6.2, 6.7; ETSI TS 102 369
"acknowledgement")."""

from __future__ import annotations

from sctpmh.core.chunks import DataChunk, SackChunk
from tests.core.simnet import Session, open_session

LINK_DELAY = 0.01


def sack_after(session: Session, mark: int) -> tuple[float, SackChunk]:
    """The next SACK the IUT sends after ``mark`` and when it left the IUT."""
    arrival, _, sack = session.expect(SackChunk, within=2.0, mark=mark)
    assert isinstance(sack, SackChunk)
    return arrival - LINK_DELAY, sack


def test_single_packet_is_acked_within_sack_delay() -> None:
    # RFC 9260 section 6.2: a SACK SHOULD follow within 200 ms of an unacknowledged DATA chunk.
    session = open_session()
    mark = session.mark()
    chunk = session.data(b"one")
    session.send(chunk)
    arrived = session.net.now + LINK_DELAY
    sent, sack = sack_after(session, mark)
    assert 0 <= sent - arrived <= 0.2 + 1e-9
    assert sack.cumulative_tsn_ack == chunk.tsn
    assert sack.gap_blocks == ()


def test_every_second_packet_is_acked_at_once() -> None:
    # RFC 9260 section 6.2: a SACK SHOULD be sent for at least every second packet received.
    session = open_session()
    mark = session.mark()
    first, second = session.data(b"1"), session.data(b"2")
    session.send(first)
    session.send(second)
    arrived = session.net.now + LINK_DELAY
    sent, sack = sack_after(session, mark)
    assert sent == arrived
    assert sack.cumulative_tsn_ack == second.tsn


def test_gap_is_acked_immediately_with_gap_block() -> None:
    # RFC 9260 section 6.7: out-of-order DATA is acknowledged at once, the hole reported as a
    # Gap Ack Block (offsets from the Cumulative TSN Ack, section 3.3.4).
    session = open_session()
    missing = session.data(b"missing")
    mark = session.mark()
    later = session.data(b"later")
    session.send(later)
    arrived = session.net.now + LINK_DELAY
    sent, sack = sack_after(session, mark)
    assert sent == arrived
    assert sack.cumulative_tsn_ack == (missing.tsn - 1) % 2**32
    assert sack.gap_blocks == ((2, 2),)

    mark = session.mark()
    session.send(missing)
    _, filled = sack_after(session, mark)
    assert filled.cumulative_tsn_ack == later.tsn
    assert filled.gap_blocks == ()


def test_duplicate_is_acked_immediately() -> None:
    # RFC 9260 section 6.2: a packet with only duplicate DATA MUST be acknowledged at once.
    session = open_session()
    chunk = session.data(b"dup")
    session.send(chunk)
    session.expect(SackChunk)
    mark = session.mark()
    session.send(chunk)
    arrived = session.net.now + LINK_DELAY
    sent, sack = sack_after(session, mark)
    assert sent == arrived
    assert sack.duplicate_tsns == (chunk.tsn,)


def test_immediate_bit_is_acked_at_once() -> None:
    # RFC 9260 section 3.3.1: the I bit asks the receiver to SACK without delay.
    session = open_session()
    mark = session.mark()
    plain = session.data(b"now please")
    assert isinstance(plain, DataChunk)
    chunk = DataChunk(
        tsn=plain.tsn, stream=0, ssn=plain.ssn, ppid=0, data=plain.data, immediate=True
    )
    session.send(chunk)
    arrived = session.net.now + LINK_DELAY
    sent, _ = sack_after(session, mark)
    assert sent == arrived


def test_sack_is_not_sent_for_packets_without_data() -> None:
    # RFC 9260 section 6.2: SACKs acknowledge DATA; a HEARTBEAT alone gets no SACK.
    from sctpmh.core.chunks import HeartbeatChunk

    session = open_session()
    mark = session.mark()
    session.send(HeartbeatChunk(b"hb"))
    session.quiet(1.0)
    assert [c for c in session.chunks_since(mark) if isinstance(c, SackChunk)] == []
