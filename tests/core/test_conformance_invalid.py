"""Conformance: invalid message handling (RFC 9260 sections 5.1.5, 6.8, 8.5, 8.5.1;
ETSI TS 102 369 "invalid message handling")."""

from __future__ import annotations

import struct

from sctpmh.core.association import State
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import (
    AbortChunk,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    InitAckChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
)
from sctpmh.core.packet import Packet, encode_packet
from sctpmh.core.params import ParamType
from sctpmh.events import AssociationClosed, Message
from tests.core.simnet import (
    IUT_ADDRESS,
    TESTER_ADDRESS,
    TESTER_TAG,
    Session,
    init_chunk,
    listening_session,
    of_type,
    open_session,
    raw_chunk,
    raw_packet,
)


def init_ack_cookie(session: Session) -> tuple[int, bytes]:
    """Send the tester's INIT to the listening IUT; return (IUT tag, cookie)."""
    session.send(init_chunk(), tag=0)
    _, _, ack = session.expect(InitAckChunk)
    assert isinstance(ack, InitAckChunk)
    cookie = next(p.value for p in ack.params if p.type == ParamType.STATE_COOKIE)
    return ack.initiate_tag, cookie


def state(session: Session) -> State:
    """The IUT's state (a call, so that mypy does not narrow it across actions)."""
    return session.iut.state


def delivered(session: Session) -> list[bytes]:
    return [e.data for e in session.events() if isinstance(e, Message)]


def test_short_init_is_discarded() -> None:
    # An INIT chunk shorter than its 20-byte fixed part (RFC 9260 section 3.3.2) cannot be
    # parsed: with no association to abort, the packet is silently discarded.
    session = listening_session()
    short_init = raw_chunk(1, 0, struct.pack("!IIHH", TESTER_TAG, 65536, 10, 10))  # no TSN
    session.send_raw(raw_packet(TESTER_ADDRESS[1], IUT_ADDRESS[1], 0, short_init))
    assert session.quiet(5.0) == []
    assert state(session) is State.CLOSED
    assert session.iut.stats.malformed >= 1


def test_cookie_echo_with_wrong_tag_is_discarded() -> None:
    # RFC 9260 section 5.1.5 step 3 / section 8.5: the verification tag of a COOKIE ECHO must
    # be the tag the cookie was made for; otherwise the packet is silently discarded.
    session = listening_session()
    iut_tag, cookie = init_ack_cookie(session)
    session.send(CookieEchoChunk(cookie), tag=iut_tag ^ 0x1)
    assert session.quiet(3.0) == []
    assert state(session) is State.CLOSED
    session.send(CookieEchoChunk(cookie), tag=iut_tag)
    session.expect(CookieAckChunk)
    assert state(session) is State.ESTABLISHED


def test_tampered_cookie_is_discarded_silently() -> None:
    # RFC 9260 section 5.1.5 step 1-2: a cookie whose MAC does not verify is discarded.
    session = listening_session()
    iut_tag, cookie = init_ack_cookie(session)
    forged = cookie[:-1] + bytes([cookie[-1] ^ 0xFF])
    session.send(CookieEchoChunk(forged), tag=iut_tag)
    assert session.quiet(3.0) == []
    assert state(session) is State.CLOSED
    assert session.events() == []


def test_expired_cookie_gets_stale_cookie_error() -> None:
    # RFC 9260 section 5.1.5 step 3 and 3.3.10.3: an expired cookie is answered with an ERROR
    # carrying Stale Cookie and the staleness in microseconds; no association is created.
    session = listening_session(cookie_lifetime=5.0)
    iut_tag, cookie = init_ack_cookie(session)
    session.net.run_for(10.0)
    session.send(CookieEchoChunk(cookie), tag=iut_tag)
    _, packet, error = session.expect(ErrorChunk, within=2.0)
    assert isinstance(error, ErrorChunk)
    assert packet.verification_tag == TESTER_TAG
    [cause] = error.causes
    assert cause.code == CauseCode.STALE_COOKIE
    (staleness_us,) = struct.unpack("!I", cause.info)
    assert 4_900_000 <= staleness_us <= 5_200_000
    assert of_type(session.chunks_since(0), CookieAckChunk) == []
    assert state(session) is State.CLOSED


def test_data_with_wrong_checksum_is_discarded() -> None:
    # RFC 9260 section 6.8: a packet with an invalid CRC32c is silently discarded.
    session = open_session()
    chunk = session.data(b"payload")
    good = encode_packet(Packet(TESTER_ADDRESS[1], IUT_ADDRESS[1], session.iut_tag, (chunk,)))
    bad = good[:8] + bytes([good[8] ^ 0x01]) + good[9:]
    session.send_raw(bad)
    assert of_type(session.quiet(1.0), SackChunk) == []
    assert delivered(session) == []
    assert session.iut.stats.bad_checksum == 1
    session.send_raw(good)
    session.expect(SackChunk)
    assert delivered(session) == [b"payload"]


def test_data_with_wrong_tag_is_discarded() -> None:
    # RFC 9260 section 8.5: a packet whose verification tag is not ours is silently discarded.
    session = open_session()
    session.send(session.data(b"nope"), tag=session.iut_tag ^ 0xFFFF)
    assert session.quiet(1.0) == []
    assert delivered(session) == []


def test_abort_with_wrong_tag_is_discarded() -> None:
    # RFC 9260 section 8.5.1 B: accept an ABORT only with our own tag and T=0, or with the
    # peer's tag and T=1.
    session = open_session()
    session.send(AbortChunk(), tag=session.iut_tag ^ 0x5A5A)
    session.send(AbortChunk(reflected_tag=True), tag=session.iut_tag)  # T=1 needs peer's tag
    session.send(AbortChunk(reflected_tag=False), tag=session.peer_tag)  # T=0 needs ours
    session.quiet(1.0)
    assert state(session) is State.ESTABLISHED
    assert not any(isinstance(e, AssociationClosed) for e in session.events())

    session.send(AbortChunk(reflected_tag=True), tag=session.peer_tag)
    session.quiet(0.1)
    assert state(session) is State.CLOSED
    last = session.events()[-1]
    assert isinstance(last, AssociationClosed)
    assert last.aborted


def test_shutdown_ack_with_wrong_tag_is_discarded() -> None:
    # RFC 9260 section 8.5: a SHUTDOWN ACK with a wrong tag is ignored, so the IUT stays in
    # SHUTDOWN-SENT and T2-shutdown retransmits SHUTDOWN (section 9.2).
    session = open_session()
    session.iut.shutdown(session.net.now)
    session.expect(ShutdownChunk)
    session.send(ShutdownAckChunk(), tag=session.iut_tag + 1)
    session.expect(ShutdownChunk, within=5.0)
    assert state(session) is State.SHUTDOWN_SENT
    session.send(ShutdownAckChunk())
    _, packet, complete = session.expect(ShutdownCompleteChunk)
    assert isinstance(complete, ShutdownCompleteChunk)
    assert packet.verification_tag == session.peer_tag
    assert not complete.reflected_tag
    assert state(session) is State.CLOSED


def test_shutdown_complete_with_wrong_tag_is_discarded() -> None:
    # RFC 9260 sections 8.5, 8.5.1 C: a SHUTDOWN COMPLETE with a wrong tag is ignored; the IUT
    # stays in SHUTDOWN-ACK-SENT and retransmits SHUTDOWN ACK on T2-shutdown (section 9.2).
    session = open_session()
    cum_ack = (session.iut_initial_tsn - 1) % 2**32
    session.send(ShutdownChunk(cum_ack))
    session.expect(ShutdownAckChunk)
    assert state(session) is State.SHUTDOWN_ACK_SENT
    session.send(ShutdownCompleteChunk(), tag=session.iut_tag ^ 0x0F0F)
    session.send(ShutdownCompleteChunk(reflected_tag=True), tag=session.iut_tag)
    session.expect(ShutdownAckChunk, within=5.0)
    assert state(session) is State.SHUTDOWN_ACK_SENT
    session.send(ShutdownCompleteChunk())
    session.quiet(0.1)
    assert state(session) is State.CLOSED
    last = session.events()[-1]
    assert isinstance(last, AssociationClosed)
    assert not last.aborted
