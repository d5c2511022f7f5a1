"""Conformance: association setup (RFC 9260 section 5; ETSI TS 102 369 "association setup").

Each test watches the packets on the simulated wire (decoded) and the events of the
association under test.
"""

from __future__ import annotations

import pytest

from sctpmh.config import Config
from sctpmh.core.association import State
from sctpmh.core.chunks import (
    AbortChunk,
    CookieAckChunk,
    CookieEchoChunk,
    InitAckChunk,
    InitChunk,
)
from sctpmh.core.params import Param, ParamType
from sctpmh.events import AssociationClosed, AssociationUp
from tests.core.simnet import (
    TESTER_TAG,
    Datagram,
    datagrams_with,
    init_chunk,
    is_established,
    listening_session,
    of_type,
    open_session,
    pair,
)


def drop_first(kind: type, count: int) -> tuple[list[Datagram], object]:
    """A filter dropping the first ``count`` datagrams holding a chunk of class ``kind``."""
    dropped: list[Datagram] = []

    def packet_filter(datagram: Datagram) -> Datagram | None:
        if len(dropped) < count and any(isinstance(c, kind) for c in datagram.chunks()):
            dropped.append(datagram)
            return None
        return datagram

    return dropped, packet_filter


def test_init_is_retransmitted_with_backoff_when_dropped() -> None:
    # RFC 9260 section 5.1 A (T1-init) and 6.3.3 E2: each expiry resends INIT and doubles RTO.
    net, client, server = pair(establish=False)
    dropped, packet_filter = drop_first(InitChunk, 2)
    net.add_filter(packet_filter)  # type: ignore[arg-type]
    net.run(lambda: is_established(client) and is_established(server), max_time=30)

    inits = datagrams_with(net.sent_between("client", "server"), InitChunk)
    assert len(inits) == 3
    assert len(dropped) == 2
    times = [d.sent_at for d in inits]
    assert times[1] - times[0] == pytest.approx(1.0)  # RTO.Initial
    assert times[2] - times[1] == pytest.approx(2.0)  # doubled
    for datagram in inits:
        assert datagram.packet().verification_tag == 0  # RFC 9260 section 8.5.1 A


def test_setup_gives_up_after_max_init_retransmits() -> None:
    # RFC 9260 section 5.1 A: after Max.Init.Retransmits the endpoint aborts the attempt and
    # reports failure to the user.
    config = Config(max_init_retransmissions=2)
    net, client, _ = pair(establish=False, client_config=config)
    net.add_filter(lambda d: None if datagrams_with([d], InitChunk) else d)
    net.run(lambda: client.state is State.CLOSED, max_time=60)

    assert len(datagrams_with(net.sent_between("client"), InitChunk)) == 3
    events = net.events("client")
    assert isinstance(events[-1], AssociationClosed)
    assert events[-1].aborted
    assert not any(isinstance(e, AssociationUp) for e in events)


def test_cookie_echo_is_retransmitted_when_dropped() -> None:
    # RFC 9260 section 5.1 C (T1-cookie): an unanswered COOKIE ECHO is sent again.
    net, client, server = pair(establish=False)
    _, packet_filter = drop_first(CookieEchoChunk, 1)
    net.add_filter(packet_filter)  # type: ignore[arg-type]
    net.run(lambda: is_established(client) and is_established(server), max_time=30)

    echoes = datagrams_with(net.sent_between("client", "server"), CookieEchoChunk)
    assert len(echoes) == 2
    first, second = (of_type(d.chunks(), CookieEchoChunk)[0] for d in echoes)
    assert first.cookie == second.cookie
    assert echoes[1].sent_at - echoes[0].sent_at == pytest.approx(1.0, abs=0.05)


def test_handshake_reports_up_with_negotiated_streams() -> None:
    # RFC 9260 section 5.1.1: each side may use min(its OS, the peer's MIS) outbound streams.
    session = listening_session()
    session.send(init_chunk(outbound_streams=5, inbound_streams=7), tag=0)
    _, packet, ack = session.expect(InitAckChunk)
    assert isinstance(ack, InitAckChunk)
    assert packet.verification_tag == TESTER_TAG
    assert ack.initiate_tag != 0
    cookie = next(p.value for p in ack.params if p.type == ParamType.STATE_COOKIE)
    session.send(CookieEchoChunk(cookie), tag=ack.initiate_tag)
    session.expect(CookieAckChunk)
    ups = [e for e in session.events() if isinstance(e, AssociationUp)]
    assert len(ups) == 1
    assert ups[0].outbound_streams == 7  # min(16, tester's MIS 7)
    assert ups[0].inbound_streams == 5  # min(tester's OS 5, 16)


def test_listener_holds_no_state_after_inits() -> None:
    # RFC 9260 section 5.1.3: the INIT ACK carries everything in the State Cookie; the
    # listener allocates nothing until a valid COOKIE ECHO (SYN-flood resistance).
    session = listening_session()
    acks: list[InitAckChunk] = []
    for i in range(50):
        mark = session.mark()
        session.send(init_chunk(tag=1000 + i), tag=0)
        _, packet, ack = session.expect(InitAckChunk, mark=mark)
        assert isinstance(ack, InitAckChunk)
        assert packet.verification_tag == 1000 + i
        acks.append(ack)
    iut = session.iut
    assert iut.state is State.CLOSED
    assert iut.get_timer() is None
    assert iut.pending_bytes() == 0
    assert session.events() == []

    # The first cookie still works after the 49 others: nothing was overwritten.
    cookie = next(p.value for p in acks[0].params if p.type == ParamType.STATE_COOKIE)
    session.peer_tag = 1000
    session.send(CookieEchoChunk(cookie), tag=acks[0].initiate_tag)
    _, packet, _ = session.expect(CookieAckChunk)
    assert packet.verification_tag == 1000
    assert is_established(iut)


@pytest.mark.parametrize(
    ("param_type", "reported"),
    [
        # RFC 9260 section 3.2.1: the upper two bits of an unrecognized parameter type.
        (0x0F01, False),  # 00: stop processing parameters, no report
        (0x4F01, True),  # 01: stop processing parameters, report
        (0x8F01, False),  # 10: skip
        (0xCF01, True),  # 11: skip and report
    ],
)
def test_unknown_init_parameter_handled_by_upper_bits(param_type: int, reported: bool) -> None:
    # RFC 9260 sections 3.2.1, 3.2.2: the INIT is still answered; a reported parameter comes
    # back inside an Unrecognized Parameter (type 8) of the INIT ACK.
    unknown = Param(param_type, b"\xab\xcd\xef\x01")
    session = listening_session()
    session.send(init_chunk(params=(unknown,)), tag=0)
    _, _, ack = session.expect(InitAckChunk)
    assert isinstance(ack, InitAckChunk)
    reports = [p for p in ack.params if p.type == ParamType.UNRECOGNIZED_PARAMETER]
    if reported:
        assert len(reports) == 1
        assert unknown.raw in reports[0].value
    else:
        assert reports == []
    cookie = next(p.value for p in ack.params if p.type == ParamType.STATE_COOKIE)
    session.send(CookieEchoChunk(cookie), tag=ack.initiate_tag)
    session.expect(CookieAckChunk)
    assert is_established(session.iut)


def test_init_with_initiate_tag_zero_creates_nothing() -> None:
    # RFC 9260 section 3.3.2: the Initiate Tag must not be 0. RFC 9260 says to silently
    # discard such a packet; RFC 4960 (and the ETSI suite) answered with ABORT. Either way no
    # INIT ACK goes out and no association appears.
    session = listening_session()
    session.send(init_chunk(tag=0), tag=0)
    chunks = session.quiet(5.0)
    assert of_type(chunks, InitAckChunk) == []
    assert all(isinstance(c, AbortChunk) for c in chunks)
    assert session.iut.state is State.CLOSED
    assert session.events() == []


@pytest.mark.parametrize(("outbound", "inbound"), [(0, 10), (10, 0)])
def test_init_with_zero_streams_is_aborted(outbound: int, inbound: int) -> None:
    # RFC 9260 section 3.3.2: OS or MIS of 0 -> discard, SHOULD answer with ABORT using the
    # Initiate Tag as verification tag (section 8.4 rule 3: T bit clear), change no state.
    session = listening_session()
    session.send(init_chunk(outbound_streams=outbound, inbound_streams=inbound), tag=0)
    _, packet, abort = session.expect(AbortChunk, within=2.0)
    assert isinstance(abort, AbortChunk)
    assert packet.verification_tag == TESTER_TAG
    assert not abort.reflected_tag
    assert of_type(session.chunks_since(0), InitAckChunk) == []
    assert session.iut.state is State.CLOSED


def test_client_handshake_against_scripted_server() -> None:
    # RFC 9260 section 5.1 from the initiator's side: INIT with tag 0, then COOKIE ECHO that
    # carries the cookie verbatim and the responder's Initiate Tag as verification tag.
    session = open_session(role="client")
    packets = [p for _, p in session.packets_since(0)]
    init_packets = [p for p in packets if of_type(p.chunks, InitChunk)]
    echo_packets = [p for p in packets if of_type(p.chunks, CookieEchoChunk)]
    assert init_packets[0].verification_tag == 0
    assert echo_packets[0].verification_tag == TESTER_TAG
    assert of_type(echo_packets[0].chunks, CookieEchoChunk)[0].cookie == session.cookie
    assert len([e for e in session.events() if isinstance(e, AssociationUp)]) == 1
