"""Rules of RFC 9260 found missing or wrong by an audit of the core, one test per fix.

Each test drives the association under test (IUT) with the scripted tester of
:mod:`tests.core.simnet` and fails without the fix it names.
"""

from __future__ import annotations

import pytest

from sctpmh.core.association import State
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import (
    AbortChunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
)
from sctpmh.core.destination import INITIAL_CWND_CAP
from sctpmh.core.packet import Packet, encode_packet
from sctpmh.core.params import ParamType, state_cookie
from sctpmh.events import AssociationClosed, AssociationRestarted
from tests.core.simnet import (
    IUT_ADDRESS,
    TESTER_ADDRESS,
    TESTER_INITIAL_TSN,
    TESTER_TAG,
    Session,
    init_chunk,
    is_established,
    listening_session,
    of_type,
    open_session,
)


def _cookie_of(ack: InitAckChunk) -> bytes:
    return next(p.value for p in ack.params if p.type == ParamType.STATE_COOKIE)


def _connecting_session() -> tuple[Session, InitChunk]:
    # The IUT connects to the tester and its INIT has arrived; nothing answered it yet.
    session = listening_session()
    session.iut.connect([TESTER_ADDRESS], session.net.now)
    _, _, init = session.expect(InitChunk)
    assert isinstance(init, InitChunk)
    session.iut_tag = init.initiate_tag
    return session, init


def _init_ack(**changes: int) -> InitAckChunk:
    fields = {
        "initiate_tag": TESTER_TAG,
        "a_rwnd": 65536,
        "outbound_streams": 10,
        "inbound_streams": 10,
        "initial_tsn": TESTER_INITIAL_TSN,
    }
    fields.update(changes)
    return InitAckChunk(**fields, params=(state_cookie(b"tester-cookie" * 3),))


# --- section 3.3.2: INIT with a_rwnd below 1500 --------------------------------------------------


def test_init_with_a_rwnd_below_1500_is_answered_with_abort() -> None:
    # RFC 9260 section 3.3.2: "A receiver of an INIT chunk with the a_rwnd value set to a value
    # smaller than 1500 MUST discard the packet, SHOULD send a packet in response containing an
    # ABORT chunk and using the Initiate Tag as the Verification Tag, and MUST NOT change the
    # state of any existing association."
    session = listening_session()
    session.send(init_chunk(a_rwnd=1499), tag=0)
    _, packet, abort = session.expect(AbortChunk, within=1.0)
    assert packet.verification_tag == TESTER_TAG
    assert not abort.reflected_tag
    assert of_type(session.chunks_since(0), InitAckChunk) == []
    assert session.iut.state is State.CLOSED

    # The same INIT against an established association leaves it alone.
    established = open_session()
    mark = established.mark()
    established.send(init_chunk(tag=0x0BAD_0BAD, a_rwnd=1000), tag=0)
    _, packet, _ = established.expect(AbortChunk, within=1.0, mark=mark)
    assert packet.verification_tag == 0x0BAD_0BAD
    assert of_type(established.chunks_since(mark), InitAckChunk) == []
    assert is_established(established.iut)


# --- section 3.3.3: INIT ACK with tag 0 or a_rwnd below 1500 -----------------------------------


def test_init_ack_with_initiate_tag_zero_is_aborted_with_the_t_bit() -> None:
    # RFC 9260 section 3.3.3: "If an endpoint in the COOKIE-WAIT state receives an INIT ACK
    # chunk with the Initiate Tag set to 0, it MUST destroy the TCB and SHOULD send an ABORT
    # chunk with the T bit set."
    session, init = _connecting_session()
    session.send(_init_ack(initiate_tag=0))
    _, packet, abort = session.expect(AbortChunk, within=1.0)
    assert abort.reflected_tag
    assert packet.verification_tag == init.initiate_tag  # our own tag, reflected
    assert of_type(session.chunks_since(0), CookieEchoChunk) == []
    closed = [e for e in session.events() if isinstance(e, AssociationClosed)]
    assert closed == [AssociationClosed(CauseCode.INVALID_MANDATORY_PARAMETER, True)]


def test_init_ack_with_a_rwnd_below_1500_destroys_the_tcb() -> None:
    # RFC 9260 section 3.3.3 as corrected by Errata 7148: "If an endpoint in the COOKIE-WAIT
    # state receives an INIT ACK chunk with the a_rwnd value set to a value smaller than 1500,
    # it MUST destroy the TCB and SHOULD send an ABORT chunk."
    session, _ = _connecting_session()
    session.send(_init_ack(a_rwnd=1499))
    _, packet, abort = session.expect(AbortChunk, within=1.0)
    assert packet.verification_tag == TESTER_TAG
    assert not abort.reflected_tag
    assert of_type(session.chunks_since(0), CookieEchoChunk) == []
    assert session.iut.state is State.CLOSED
    assert session.iut.get_timer() is None  # T1-init is gone with the TCB


# --- section 5.1.5: the COOKIE ECHO's ports and tag, before its lifetime ------------------------


def _cookie_from_listener(cookie_lifetime: float = 60.0) -> tuple[Session, InitAckChunk]:
    session = listening_session(cookie_lifetime=cookie_lifetime)
    session.send(init_chunk(), tag=0)
    _, _, ack = session.expect(InitAckChunk)
    assert isinstance(ack, InitAckChunk)
    return session, ack


def test_cookie_echo_from_another_port_is_discarded() -> None:
    # RFC 9260 section 5.1.5 step 3: "Compare the port numbers and the Verification Tag
    # contained within the COOKIE ECHO chunk to the actual port numbers and the Verification
    # Tag within the SCTP common header of the received packet. If these values do not match,
    # the packet MUST be silently discarded."
    session, ack = _cookie_from_listener()
    other_port = TESTER_ADDRESS[1] + 1
    data = encode_packet(
        Packet(other_port, IUT_ADDRESS[1], ack.initiate_tag, (CookieEchoChunk(_cookie_of(ack)),))
    )
    session.send_raw(data)
    assert session.quiet(2.0) == []
    assert session.iut.state is State.CLOSED
    assert session.events() == []


def test_stale_cookie_with_a_wrong_tag_is_discarded_without_an_error() -> None:
    # RFC 9260 section 5.1.5: the tag and ports are compared (step 3) before the lifetime
    # (step 4), so a stale cookie in a packet with the wrong tag draws no Stale Cookie ERROR.
    session, ack = _cookie_from_listener(cookie_lifetime=1.0)
    session.net.run_for(3.0)
    session.send(CookieEchoChunk(_cookie_of(ack)), tag=ack.initiate_tag ^ 0x5A5A)
    assert session.quiet(2.0) == []

    # With the right tag the same cookie is reported stale.
    session.send(CookieEchoChunk(_cookie_of(ack)), tag=ack.initiate_tag)
    _, _, error = session.expect(ErrorChunk, within=1.0)
    assert [cause.code for cause in error.causes] == [CauseCode.STALE_COOKIE]


def test_stale_cookie_of_the_current_association_is_acknowledged() -> None:
    # RFC 9260 section 5.2.4 step 3: "If both Verification Tags in the State Cookie match the
    # Verification Tags of the current association, consider the State Cookie valid (i.e.,
    # action D below), even if the lifespan is exceeded." (A COOKIE ACK lost for long.)
    session = open_session(cookie_lifetime=1.0)
    session.net.run_for(3.0)
    mark = session.mark()
    session.send(CookieEchoChunk(session.cookie))
    session.expect(CookieAckChunk, within=1.0, mark=mark)
    assert of_type(session.chunks_since(mark), ErrorChunk) == []
    assert is_established(session.iut)
    assert not any(isinstance(e, AssociationRestarted) for e in session.events())


# --- section 5.2.4 A: a restart resets congestion control ---------------------------------------


def _ack_everything(session: Session, until: int) -> None:
    # Plays a receiver that SACKs every DATA packet of the IUT at once, until TSN ``until``.
    last = session.iut_initial_tsn - 1
    mark = session.mark()
    for _ in range(200):
        session.net.run_for(0.05)
        chunks = of_type(session.chunks_since(mark), DataChunk)
        mark = session.mark()
        if chunks:
            last = max(last, *(c.tsn for c in chunks))
            session.send(SackChunk(last, 65536))
        if last == until:
            return
    raise AssertionError("the IUT did not send all its data")


def test_restart_resets_cwnd_and_ssthresh() -> None:
    # RFC 9260 section 5.2.4 action A: "All the congestion control parameters (e.g., cwnd,
    # ssthresh) related to this peer MUST be reset to their initial values."
    session = open_session()
    iut = session.iut
    for number in range(60):
        iut.send(bytes([number]) * 1000, now=session.net.now)
    _ack_everything(session, session.iut_initial_tsn + 59)
    [destination] = iut.destinations.values()
    initial_cwnd = min(4 * destination.mtu, max(2 * destination.mtu, INITIAL_CWND_CAP))
    assert destination.cwnd > initial_cwnd  # slow start grew it

    # The tester restarts: a new INIT with a new tag, then the COOKIE ECHO of the answer.
    new_tag = 0x7777_0001
    mark = session.mark()
    session.send(init_chunk(tag=new_tag), tag=0)
    _, _, ack = session.expect(InitAckChunk, mark=mark)
    assert isinstance(ack, InitAckChunk)
    session.send(CookieEchoChunk(_cookie_of(ack)), tag=ack.initiate_tag)
    session.expect(CookieAckChunk, mark=mark)
    assert any(isinstance(e, AssociationRestarted) for e in session.events())
    [destination] = iut.destinations.values()
    assert destination.cwnd == initial_cwnd
    assert destination.partial_bytes_acked == 0
    assert destination.ssthresh == 65536  # from the restarted peer's a_rwnd (7.2.1)


# --- section 8.5.1 A: a zero tag is for INIT only ------------------------------------------------


def test_zero_tag_packet_without_init_is_discarded_silently() -> None:
    # RFC 9260 section 8.5.1 A: "When an endpoint receives an SCTP packet with the
    # Verification Tag set to 0, it should verify that the packet contains only an INIT
    # chunk. Otherwise, MUST silently discard the packet." Without the rule a listener
    # answers it as out of the blue (8.4 rule 8, an ABORT).
    session = listening_session()
    session.send(HeartbeatChunk(b"zero-tag probe"), tag=0)
    assert session.quiet(2.0) == []
    assert session.iut.stats.vtag_mismatch == 1


# --- section 6.5: the ERROR for an invalid stream follows the SACK -------------------------------


def test_invalid_stream_error_comes_after_the_sack_in_its_packet() -> None:
    # RFC 9260 section 6.5: the endpoint "MAY bundle the ERROR chunk in the same packet as the
    # SACK chunk as long as the ERROR chunk follows the SACK chunk".
    session = open_session()
    mark = session.mark()
    session.send(session.data(b"nowhere", stream=10))
    session.expect(ErrorChunk, within=1.0, mark=mark)
    for _, packet in session.packets_since(mark):
        kinds = [type(chunk) for chunk in packet.chunks]
        if ErrorChunk in kinds and SackChunk in kinds:
            assert kinds.index(SackChunk) < kinds.index(ErrorChunk)
            break
    else:
        pytest.fail("the ERROR and the SACK did not share a packet")


# --- section 7.2.4 step 4: T3 restarts when the first outstanding chunk is fast retransmitted ----


def test_fast_retransmit_of_the_first_outstanding_chunk_restarts_t3() -> None:
    # RFC 9260 section 7.2.4 step 4: "Restart the T3-rtx timer only if the last SACK chunk
    # acknowledged the lowest outstanding TSN number sent to that address, or the endpoint is
    # retransmitting the first outstanding DATA chunk sent to that address."
    session = open_session()
    iut, net = session.iut, session.net
    first = session.iut_initial_tsn
    mark = session.mark()
    for number in range(4):
        iut.send(bytes([number]) * 100, now=net.now)
    net.flush("iut")
    _, _, _ = session.expect(DataChunk, mark=mark)
    net.run_for(0.5)
    # Three SACKs, each newly acknowledging a higher TSN while the first stays missing (HTNA):
    # the third miss indication fast retransmits it (offsets count from the cumulative ack).
    cumulative = first - 1
    for end in (2, 3, 4):
        session.send(SackChunk(cumulative, 65536, ((2, end),)))
    net.run(
        lambda: (
            sum(1 for c in of_type(session.chunks_since(mark), DataChunk) if c.tsn == first) >= 3
        ),
        max_time=5.0,
    )
    sent_at = [
        now
        for now, packet in session.packets_since(mark)
        for chunk in of_type(packet.chunks, DataChunk)
        if chunk.tsn == first
    ]
    original, fast, timeout = sent_at[:3]
    assert fast - original < 1.0  # fast retransmit, before any T3 expiry
    assert iut.stats.fast_retransmits == 1
    # T3 was restarted by the fast retransmission, so it expires one RTO (1 s, no RTT sample
    # yet) after it, not one RTO after the original transmission.
    assert timeout - fast == pytest.approx(1.0, abs=0.05)


# --- sections 6.2.1 D iii and 6.3.2 R4: a receiver that reneges ---------------------------------

_TSN_SPACE = 2**32


class _RenegingReceiver:
    # The tester as a data receiver that may renege (RFC 9260 section 6.2): it holds DATA
    # above its cumulative TSN, reports it in Gap Ack Blocks, and can drop it again. Every
    # message here is one chunk, so a chunk delivered is a message delivered.

    def __init__(self, initial_tsn: int) -> None:
        self.cumulative = (initial_tsn - 1) % _TSN_SPACE
        self.held: dict[int, bytes] = {}
        self.delivered: list[bytes] = []

    def receive(self, chunk: DataChunk) -> None:
        offset = (chunk.tsn - self.cumulative) % _TSN_SPACE
        if offset == 0 or offset >= _TSN_SPACE // 2 or chunk.tsn in self.held:
            return  # a duplicate: delivered or held already
        self.held[chunk.tsn] = chunk.data
        following = (self.cumulative + 1) % _TSN_SPACE
        while following in self.held:
            self.delivered.append(self.held.pop(following))
            self.cumulative = following
            following = (following + 1) % _TSN_SPACE

    def renege(self) -> None:
        self.held.clear()

    def sack(self) -> SackChunk:
        offsets = sorted((tsn - self.cumulative) % _TSN_SPACE for tsn in self.held)
        blocks: list[tuple[int, int]] = []
        for offset in offsets:
            if blocks and blocks[-1][1] == offset - 1:
                blocks[-1] = (blocks[-1][0], offset)
            else:
                blocks.append((offset, offset))
        return SackChunk(self.cumulative, 65536, tuple(blocks))


def test_reneged_chunks_are_retransmitted_and_every_message_arrives_once() -> None:
    # RFC 9260 section 6.2.1 D iii: "If the SACK is missing a TSN that was previously
    # acknowledged via a Gap Ack Block (e.g., the data receiver reneged on the data), then
    # consider the corresponding DATA that might be possibly missing", and section 6.3.2 R4:
    # start T3-rtx for its destination. Without the rule the sender takes the chunks as
    # delivered for good: once the rest is acknowledged nothing is outstanding, T3 stops and
    # the association stalls with the peer never getting them.
    session = open_session()
    iut, net = session.iut, session.net
    first = session.iut_initial_tsn
    messages = [bytes([number]) * 200 for number in range(8)]
    receiver = _RenegingReceiver(first)
    mark = session.mark()
    for message in messages:
        iut.send(message, now=net.now)
    net.run_for(0.05)
    flight = of_type(session.chunks_since(mark), DataChunk)
    assert [chunk.tsn for chunk in flight] == [(first + n) % _TSN_SPACE for n in range(8)]
    # The first chunk is lost; the other seven arrive and are gap acknowledged...
    for chunk in flight[1:]:
        receiver.receive(chunk)
    session.send(receiver.sack())
    assert receiver.sack().gap_blocks == ((2, 8),)
    # ... then the receiver drops them (memory pressure) and SACKs without them from now on.
    receiver.renege()

    mark = session.mark()
    seen = mark
    for _ in range(400):  # 20 simulated seconds
        if len(receiver.delivered) == len(messages):
            break
        net.run_for(0.05)
        arrived = of_type(session.chunks_since(seen), DataChunk)
        seen = session.mark()
        for chunk in arrived:
            receiver.receive(chunk)
        if arrived:
            session.send(receiver.sack())
    assert receiver.delivered == messages, "the association stalled on reneged chunks"
    resent = [chunk.tsn for chunk in of_type(session.chunks_since(mark), DataChunk)]
    for tsn in (chunk.tsn for chunk in flight[1:]):
        assert tsn in resent  # each reneged chunk went out again
    net.run_for(0.5)
    assert iut.stats.data_chunks_sent == len(set(resent)) + len(messages)
    assert not any(isinstance(e, AssociationClosed) for e in session.events())


def test_shutdown_cumulative_ack_does_not_renege_gap_acked_chunks() -> None:
    # RFC 9260 section 9.2: "Since the SHUTDOWN chunk does not contain Gap Ack Blocks, it
    # cannot be used to acknowledge TSNs received out of order. In a SACK chunk, lack of Gap
    # Ack Blocks that were previously included indicates that the data receiver reneged on
    # the associated DATA chunks." So after a SHUTDOWN only the chunk really missing is
    # resent, not the ones the peer still holds.
    session = open_session()
    iut, net = session.iut, session.net
    first = session.iut_initial_tsn
    mark = session.mark()
    for number in range(4):
        iut.send(bytes([number]) * 200, now=net.now)
    net.run_for(0.05)
    assert len(of_type(session.chunks_since(mark), DataChunk)) == 4
    session.send(SackChunk((first - 1) % _TSN_SPACE, 65536, ((3, 4),)))  # third, fourth held
    mark = session.mark()
    session.send(ShutdownChunk(first))  # the first arrived; the second is still missing
    net.run_for(2.5)  # one T3 expiry (RTO 1 s), not two
    resent = [chunk.tsn for chunk in of_type(session.chunks_since(mark), DataChunk)]
    assert resent == [(first + 1) % _TSN_SPACE]
    session.send(ShutdownChunk((first + 3) % _TSN_SPACE))
    session.expect(ShutdownAckChunk, within=1.0)
