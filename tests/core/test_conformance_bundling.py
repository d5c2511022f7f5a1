"""Conformance: bundling of chunks in packets (RFC 9260 sections 6.10, 8.5.1;
ETSI TS 102 369 "bundling")."""

from __future__ import annotations

from sctpmh.core.association import State
from sctpmh.core.chunks import DataChunk, HeartbeatAckChunk, HeartbeatChunk, InitAckChunk, SackChunk
from sctpmh.core.packet import Packet, encode_packet
from sctpmh.events import Message
from tests.core.simnet import (
    IUT_ADDRESS,
    TESTER_ADDRESS,
    init_chunk,
    listening_session,
    of_type,
    open_session,
)


def test_several_data_chunks_in_one_packet() -> None:
    # RFC 9260 section 6.10: a packet may carry several DATA chunks; all are processed and one
    # SACK can cover them all.
    session = open_session()
    chunks = [session.data(b"a"), session.data(b"b", stream=1), session.data(b"c")]
    session.send(*chunks)
    _, _, sack = session.expect(SackChunk, within=1.0)
    assert isinstance(sack, SackChunk)
    assert sack.cumulative_tsn_ack == chunks[-1].tsn
    assert sorted(e.data for e in session.events() if isinstance(e, Message)) == [b"a", b"b", b"c"]


def test_control_and_data_chunks_in_one_packet() -> None:
    # RFC 9260 section 6.10: control chunks come first in a packet and are all processed.
    session = open_session()
    session.send(HeartbeatChunk(b"probe"), session.data(b"payload"))
    _, _, ack = session.expect(HeartbeatAckChunk, within=1.0)
    assert isinstance(ack, HeartbeatAckChunk)
    assert ack.info == b"probe"
    session.expect(SackChunk, within=1.0, mark=0)
    assert [e.data for e in session.events() if isinstance(e, Message)] == [b"payload"]


def test_sack_bundled_with_outgoing_data() -> None:
    # RFC 9260 section 6.2: a pending SACK may ride on outgoing DATA; section 6.10: control
    # chunks (the SACK) come before DATA chunks in the packet.
    session = open_session()
    mark = session.mark()
    session.send(session.data(b"request"))
    session.net.run(lambda: any(isinstance(e, Message) for e in session.events()), max_time=1.0)
    session.iut.send(b"response", now=session.net.now)
    _, packet, _ = session.expect(DataChunk, within=1.0, mark=mark)
    kinds = [type(c) for c in packet.chunks]
    assert SackChunk in kinds
    assert kinds.index(SackChunk) < kinds.index(DataChunk)


def test_small_messages_are_bundled_within_the_mtu() -> None:
    # RFC 9260 section 6.10: several queued messages share a packet, never beyond the path MTU.
    session = open_session(mtu=1280)
    mark = session.mark()
    for i in range(12):
        session.iut.send(bytes([i]) * 200, now=session.net.now)
    session.net.flush("iut")
    session.net.run(
        lambda: (
            sum(len(of_type(p.chunks, DataChunk)) for _, p in session.packets_since(mark)) >= 12
        ),
        max_time=5.0,
    )
    data_packets = [p for _, p in session.packets_since(mark) if of_type(p.chunks, DataChunk)]
    assert len(data_packets) < 12
    assert max(len(of_type(p.chunks, DataChunk)) for p in data_packets) >= 2
    assert all(len(data) <= 1280 for _, _, data in session.peer.received[mark:])


def test_init_bundled_with_other_chunks_is_discarded() -> None:
    # RFC 9260 section 6.10: INIT must be alone in its packet; section 8.5.1 A: a packet with
    # verification tag 0 holding more than an INIT is silently discarded.
    session = listening_session()
    chunk = DataChunk(tsn=1, stream=0, ssn=0, ppid=0, data=b"x")
    packet = Packet(TESTER_ADDRESS[1], IUT_ADDRESS[1], 0, (init_chunk(), chunk))
    session.send_raw(encode_packet(packet))
    assert of_type(session.quiet(3.0), InitAckChunk) == []
    assert session.iut.state is State.CLOSED
