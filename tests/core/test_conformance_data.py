"""Conformance: data transfer (RFC 9260 sections 6.1-6.9, 7.2; ETSI TS 102 369 "data")."""

from __future__ import annotations

import struct

from sctpmh.config import Config
from sctpmh.core.association import State
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import AbortChunk, DataChunk, SackChunk
from sctpmh.events import AssociationClosed, AssociationLost, Message
from tests.core.simnet import (
    CLIENT_ADDRESS,
    SERVER_ADDRESS,
    Datagram,
    SimNet,
    of_type,
    open_session,
    pair,
    raw_chunk,
    raw_packet,
)


def delivered(net: SimNet, name: str) -> list[bytes]:
    return [e.data for e in net.events(name) if isinstance(e, Message)]


def client_data(net: SimNet) -> list[tuple[float, DataChunk]]:
    return [
        (d.sent_at, c)
        for d in net.sent_between("client", "server")
        for c in of_type(d.chunks(), DataChunk)
    ]


def test_t3_retransmits_lost_data_after_rto() -> None:
    # RFC 9260 section 6.3.3 E3: on T3-rtx expiry the outstanding DATA is retransmitted; the
    # RTO is at least RTO.Min (1 s, section 6.3.1 C6).
    net, client, _ = pair()
    dropped: list[Datagram] = []

    def drop_first_data(datagram: Datagram) -> Datagram | None:
        if not dropped and of_type(datagram.chunks(), DataChunk):
            dropped.append(datagram)
            return None
        return datagram

    net.add_filter(drop_first_data)
    client.send(b"retry me", now=net.now)
    net.run(lambda: bool(delivered(net, "server")), max_time=10)
    net.run_for(1.0)
    sends = client_data(net)
    assert [c.tsn for _, c in sends] == [sends[0][1].tsn] * 2
    assert sends[1][0] - sends[0][0] >= 1.0 - 1e-9
    assert delivered(net, "server") == [b"retry me"]


def test_fast_retransmit_before_t3() -> None:
    # RFC 9260 section 7.2.4: three miss indications in SACKs trigger a fast retransmission,
    # well before the T3-rtx timer (RTO.Min 1 s) would.
    net, client, _ = pair()
    dropped: list[int] = []

    def drop_first_tsn(datagram: Datagram) -> Datagram | None:
        chunks = of_type(datagram.chunks(), DataChunk)
        if not dropped and chunks:
            dropped.append(chunks[0].tsn)
            return None
        return datagram

    net.add_filter(drop_first_tsn)
    payloads = [bytes([i]) * 1100 for i in range(12)]  # one message per packet
    for payload in payloads:
        client.send(payload, now=net.now)
    net.run(lambda: len(delivered(net, "server")) == 12, max_time=10)
    resent = [t for t, c in client_data(net) if c.tsn == dropped[0]]
    assert len(resent) == 2
    assert resent[1] - resent[0] < 1.0
    assert client.stats.fast_retransmits >= 1
    assert delivered(net, "server") == payloads


def test_zero_window_probing() -> None:
    # RFC 9260 section 6.1 A: while the peer's window is 0 the sender keeps at most one DATA
    # chunk in flight to probe it. Section 6.2: a receiver that advertised a window of 0 MUST
    # drop new DATA with a TSN beyond the largest received (and SACK at once), so its buffer
    # never grows past what it advertised.
    net, client, _ = pair(receive_window=3000)
    net.set_reading("server", False)
    payloads = [bytes([i]) * 500 for i in range(20)]
    for payload in payloads:
        client.send(payload, now=net.now)
    net.run_for(30.0)

    sacks = [
        (d.sent_at, c)
        for d in net.sent_between("server", "client")
        for c in of_type(d.chunks(), SackChunk)
    ]
    closed_at, closing = next((t, s) for t, s in sacks if s.a_rwnd == 0)
    later_acks = {s.cumulative_tsn_ack for t, s in sacks if t >= closed_at}
    assert later_acks == {closing.cumulative_tsn_ack}, "DATA accepted beyond a zero window"

    probing = [d for d in net.sent_between("client") if d.sent_at > closed_at + 0.05]
    probes = [c for d in probing for c in of_type(d.chunks(), DataChunk)]
    assert len(probes) >= 2, "the sender never probed the closed window"
    assert all(len(of_type(d.chunks(), DataChunk)) <= 1 for d in probing)
    assert len({c.tsn for c in probes}) <= 2

    net.set_reading("server", True)
    net.flush("server")
    net.run(lambda: len(net.events_of("server", Message)) == 20, max_time=120)
    assert delivered(net, "server") == payloads
    assert client.state is State.ESTABLISHED


def test_long_closed_window_does_not_fail_the_association() -> None:
    # RFC 9260 section 6.1: while SACKs keep answering the zero window probes, unacknowledged
    # probes SHOULD NOT count as errors: the receiver may keep its window closed indefinitely.
    config = Config(association_max_retransmissions=3, path_max_retransmissions=3)
    net, client, _ = pair(config=config, receive_window=3000)
    net.set_reading("server", False)
    payloads = [bytes([i]) * 500 for i in range(20)]
    for payload in payloads:
        client.send(payload, now=net.now)
    net.run_for(600.0, max_steps=1_000_000)
    assert client.state is State.ESTABLISHED
    assert not any(isinstance(e, AssociationLost | AssociationClosed) for e in net.events("client"))

    net.set_reading("server", True)
    net.flush("server")
    net.run(lambda: len(net.events_of("server", Message)) == 20, max_time=300)
    assert delivered(net, "server") == payloads


def test_empty_data_chunk_aborts_with_no_user_data() -> None:
    # RFC 9260 section 6.2: a DATA chunk with no user data is answered with ABORT carrying the
    # No User Data cause (section 3.3.10.9) with the chunk's TSN.
    session = open_session()
    tsn = session.next_tsn
    empty = raw_chunk(0, 0x03, struct.pack("!IHHI", tsn, 0, 0, 0))
    session.send_raw(raw_packet(CLIENT_ADDRESS[1], SERVER_ADDRESS[1], session.iut_tag, empty))
    _, packet, abort = session.expect(AbortChunk, within=1.0)
    assert isinstance(abort, AbortChunk)
    assert packet.verification_tag == session.peer_tag
    [cause] = abort.causes
    assert cause.code == CauseCode.NO_USER_DATA
    assert struct.unpack("!I", cause.info) == (tsn,)
    assert session.iut.state is State.CLOSED
    last = session.events()[-1]
    assert isinstance(last, AssociationClosed)
    assert last.aborted


def test_large_message_is_fragmented_within_mtu() -> None:
    # RFC 9260 section 6.9: a message larger than the path MTU allows goes as fragments with
    # consecutive TSNs, one SSN, B on the first and E on the last.
    net, client, _ = pair(mtu=1280)
    message = bytes(range(256)) * 40  # 10 240 bytes
    client.send(message, stream=3, ppid=99, now=net.now)
    net.run(lambda: bool(delivered(net, "server")), max_time=10)

    assert all(len(d.data) <= 1280 for d in net.sent_between("client"))
    fragments = [c for _, c in client_data(net)]
    assert len(fragments) >= 9
    tsns = [c.tsn for c in fragments]
    assert tsns == [(tsns[0] + i) % 2**32 for i in range(len(tsns))]
    assert {c.ssn for c in fragments} == {fragments[0].ssn}
    assert [(c.beginning, c.ending) for c in fragments] == (
        [(True, False)] + [(False, False)] * (len(fragments) - 2) + [(False, True)]
    )
    assert b"".join(c.data for c in fragments) == message
    [received] = net.events_of("server", Message)
    assert (received.data, received.stream, received.ppid) == (message, 3, 99)


def test_unordered_and_other_streams_are_not_blocked_by_a_gap() -> None:
    # RFC 9260 sections 6.5, 6.6: ordered delivery holds back only later messages of the same
    # stream; unordered messages and other streams are delivered at once.
    session = open_session()
    held = session.data(b"s0-first")  # TSN t, stream 0, SSN 0: held back
    unordered = session.data(b"unordered", unordered=True)
    other_stream = session.data(b"s1-first", stream=1)
    blocked = session.data(b"s0-second")  # stream 0, SSN 1: must wait for SSN 0
    session.send(unordered, other_stream, blocked)
    session.quiet(0.5)
    got = [e for e in session.events() if isinstance(e, Message)]
    assert sorted(m.data for m in got) == [b"s1-first", b"unordered"]
    assert [m.unordered for m in got if m.data == b"unordered"] == [True]
    session.send(held)
    session.quiet(0.5)
    got = [e for e in session.events() if isinstance(e, Message)]
    assert [m.data for m in got][-2:] == [b"s0-first", b"s0-second"]
    assert [m.ssn for m in got if m.stream == 0 and not m.unordered] == [0, 1]
