"""Conformance: fault handling (RFC 9260 sections 8.1-8.4; ETSI TS 102 369 "fault handling")."""

from __future__ import annotations

import itertools

import pytest

from sctpmh.config import Config
from sctpmh.core.association import State
from sctpmh.core.causes import stale_cookie
from sctpmh.core.chunks import (
    AbortChunk,
    Chunk,
    CookieAckChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownCompleteChunk,
)
from sctpmh.events import AssociationClosed, AssociationLost, Message, SendFailed
from tests.core.simnet import (
    CLIENT_ADDRESS,
    SERVER_ADDRESS,
    Datagram,
    SimNet,
    datagrams_with,
    listening_session,
    of_type,
    pair,
)

OOTB_TAG = 0xDEAD_BEEF


def cut(net: SimNet) -> None:
    """Take both directions between client and server down."""
    for src, dst in ((CLIENT_ADDRESS, SERVER_ADDRESS), (SERVER_ADDRESS, CLIENT_ADDRESS)):
        net.link(src[0], dst[0]).configure(up=False)


def test_association_fails_after_max_retrans() -> None:
    # RFC 9260 section 8.1: when the error counter exceeds Association.Max.Retrans the peer is
    # unreachable: the association closes and the user is told. Section 6.3.3 E2: every T3-rtx
    # expiry doubles the RTO.
    config = Config(association_max_retransmissions=3, path_max_retransmissions=3)
    net, client, _ = pair(config=config)
    cut(net)
    client.send(b"into the void", now=net.now)
    net.run(lambda: client.state is State.CLOSED, max_time=120)

    data = datagrams_with(net.sent_between("client", "server"), DataChunk)
    assert len(data) == 4  # the first transmission and three retransmissions
    gaps = [b.sent_at - a.sent_at for a, b in itertools.pairwise(data)]
    assert gaps == pytest.approx([1.0, 2.0, 4.0], abs=0.05)

    events = net.events("client")
    assert any(isinstance(e, AssociationLost) for e in events)
    last = events[-1]
    assert isinstance(last, AssociationClosed)
    assert last.aborted
    failed = [e for e in events if isinstance(e, SendFailed)]
    assert [(f.data, f.sent) for f in failed] == [(b"into the void", True)]
    assert client.get_timer() is None


def test_sack_resets_error_counter() -> None:
    # RFC 9260 section 8.1: the error counter is reset when an outstanding TSN is acknowledged,
    # so timeouts spread over time never add up to a failure.
    config = Config(association_max_retransmissions=2, path_max_retransmissions=2)
    net, client, server = pair(config=config)
    transmissions: dict[int, int] = {}

    def lose_two_transmissions(datagram: Datagram) -> Datagram | None:
        if datagram.source != CLIENT_ADDRESS:
            return datagram
        for chunk in of_type(datagram.chunks(), DataChunk):
            transmissions[chunk.tsn] = transmissions.get(chunk.tsn, 0) + 1
            if transmissions[chunk.tsn] <= 2:
                return None
        return datagram

    net.add_filter(lose_two_transmissions)
    for payload in (b"first", b"second"):
        client.send(payload, now=net.now)
        net.run(
            lambda p=payload: any(  # type: ignore[misc]
                isinstance(e, Message) and e.data == p for e in net.events("server")
            ),
            max_time=60,
        )
        net.run_for(1.0)  # the SACK comes back
    assert sorted(transmissions.values()) == [3, 3]
    assert client.state is State.ESTABLISHED
    assert server.state is State.ESTABLISHED


def test_idle_path_is_probed_with_heartbeats() -> None:
    # RFC 9260 section 8.3: an idle destination gets a HEARTBEAT every RTO + HB.interval
    # (jittered by +/- 50 % of RTO); the peer echoes the Heartbeat Information unchanged.
    net, _, _ = pair(config=Config(heartbeat_interval=5.0))
    net.run_for(60.0)

    beats = [
        (d.sent_at, c)
        for d in net.sent_between("client", "server")
        for c in d.chunks()
        if isinstance(c, HeartbeatChunk)
    ]
    assert len(beats) >= 6
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(beats)]
    assert all(5.0 <= gap <= 7.0 + 1e-9 for gap in gaps)  # HB.interval + RTO (1 s) +/- 0.5 s
    acks = [
        c
        for d in net.sent_between("server", "client")
        for c in d.chunks()
        if isinstance(c, HeartbeatAckChunk)
    ]
    assert [a.info for a in acks][: len(beats) - 1] == [b.info for _, b in beats][: len(beats) - 1]


def test_unanswered_heartbeats_fail_idle_association() -> None:
    # RFC 9260 sections 8.1 and 8.3: every unanswered HEARTBEAT counts as an error; an idle
    # association whose peer disappeared fails once the counter exceeds the limit.
    config = Config(
        heartbeat_interval=1.0, association_max_retransmissions=2, path_max_retransmissions=2
    )
    net, client, _ = pair(config=config)
    net.run_for(5.0)  # heartbeats answered
    cut(net)
    mark = len(net.sent)
    net.run(lambda: client.state is State.CLOSED, max_time=120)

    unanswered = datagrams_with(net.sent[mark:], HeartbeatChunk)
    assert len([d for d in unanswered if d.source == CLIENT_ADDRESS]) == 3
    assert any(isinstance(e, AssociationLost) for e in net.events("client"))
    assert isinstance(net.events("client")[-1], AssociationClosed)


def test_heartbeat_ack_is_only_sent_for_our_tag() -> None:
    # RFC 9260 section 8.5: a HEARTBEAT with a wrong verification tag is not answered.
    net, _, server = pair()
    net.run_for(0.5)
    mark = len(net.sent)
    from sctpmh.core.packet import Packet, encode_packet

    forged = encode_packet(
        Packet(CLIENT_ADDRESS[1], SERVER_ADDRESS[1], 0x7777, (HeartbeatChunk(b"x"),))
    )
    net.inject(forged, CLIENT_ADDRESS, SERVER_ADDRESS)
    net.run_for(1.0)
    assert datagrams_with(net.sent[mark:], HeartbeatAckChunk) == []
    assert server.state is State.ESTABLISHED


# --- out-of-the-blue packets (RFC 9260 section 8.4) ----------------------------------------


@pytest.mark.parametrize(
    "chunk",
    [
        DataChunk(tsn=1, stream=0, ssn=0, ppid=0, data=b"x"),
        SackChunk(1, 65536),
        HeartbeatChunk(b"hb"),
    ],
    ids=["data", "sack", "heartbeat"],
)
def test_ootb_packet_answered_with_reflected_abort(chunk: Chunk) -> None:
    # RFC 9260 section 8.4 rule 8: answer with ABORT, the packet's verification tag, T bit set.
    session = listening_session()
    session.send(chunk, tag=OOTB_TAG)
    _, packet, abort = session.expect(AbortChunk, within=2.0)
    assert isinstance(abort, AbortChunk)
    assert packet.verification_tag == OOTB_TAG
    assert abort.reflected_tag
    assert session.iut.state is State.CLOSED


def test_ootb_shutdown_ack_answered_with_shutdown_complete() -> None:
    # RFC 9260 section 8.4 rule 5: SHUTDOWN COMPLETE, the packet's verification tag, T bit set.
    session = listening_session()
    session.send(ShutdownAckChunk(), tag=OOTB_TAG)
    _, packet, complete = session.expect(ShutdownCompleteChunk, within=2.0)
    assert isinstance(complete, ShutdownCompleteChunk)
    assert packet.verification_tag == OOTB_TAG
    assert complete.reflected_tag
    assert session.iut.state is State.CLOSED


@pytest.mark.parametrize(
    "chunk",
    [
        AbortChunk(),  # rule 2
        ShutdownCompleteChunk(),  # rule 6
        CookieAckChunk(),  # rule 7
        ErrorChunk((stale_cookie(1000),)),  # rule 7
    ],
    ids=["abort", "shutdown-complete", "cookie-ack", "stale-cookie-error"],
)
def test_ootb_packet_silently_discarded(chunk: Chunk) -> None:
    # RFC 9260 section 8.4 rules 2, 6, 7: these OOTB packets get no answer at all.
    session = listening_session()
    session.send(chunk, tag=OOTB_TAG)
    assert session.quiet(3.0) == []
    assert session.iut.state is State.CLOSED
    assert session.events() == []
