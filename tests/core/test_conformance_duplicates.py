"""Conformance: duplicated chunks (RFC 9260 sections 5.2, 6.2; ETSI TS 102 369 "duplicates")."""

from __future__ import annotations

from sctpmh.core.association import State
from sctpmh.core.chunks import CookieAckChunk, CookieEchoChunk, InitAckChunk, SackChunk
from sctpmh.events import AssociationRestarted, AssociationUp, Message
from tests.core.simnet import TESTER_TAG, init_chunk, open_session, pair


def test_duplicate_data_reported_in_sack_and_delivered_once() -> None:
    # RFC 9260 section 6.2: a duplicate TSN is reported in the next SACK's Duplicate TSNs,
    # and the message is delivered once (section 6.7).
    session = open_session()
    chunk = session.data(b"once")
    session.send(chunk)
    _, _, first = session.expect(SackChunk)
    assert isinstance(first, SackChunk)
    assert first.duplicate_tsns == ()
    session.send(chunk)
    _, _, second = session.expect(SackChunk)
    assert isinstance(second, SackChunk)
    assert second.duplicate_tsns == (chunk.tsn,)
    assert second.cumulative_tsn_ack == chunk.tsn
    assert [e.data for e in session.events() if isinstance(e, Message)] == [b"once"]


def test_duplicate_cookie_echo_is_acked_again_without_restart() -> None:
    # RFC 9260 section 5.2.4 action D: a COOKIE ECHO whose tags both match the existing
    # association is answered with COOKIE ACK and changes nothing.
    session = open_session()
    session.send(session.data(b"before"))
    session.expect(SackChunk)
    session.send(CookieEchoChunk(session.cookie))
    _, packet, _ = session.expect(CookieAckChunk)
    assert packet.verification_tag == session.peer_tag
    assert session.iut.state is State.ESTABLISHED
    events = session.events()
    assert len([e for e in events if isinstance(e, AssociationUp)]) == 1
    assert not any(isinstance(e, AssociationRestarted) for e in events)
    # The association carries on in the same TSN space.
    session.send(session.data(b"after"))
    session.expect(SackChunk)
    assert [e.data for e in session.events() if isinstance(e, Message)] == [b"before", b"after"]


def test_init_in_established_state_leaves_association_alone() -> None:
    # RFC 9260 section 5.2.2: an unexpected INIT in ESTABLISHED is answered with an INIT ACK
    # (to the INIT's Initiate Tag) and the existing association is not affected.
    session = open_session()
    session.send(init_chunk(), tag=0)
    _, packet, ack = session.expect(InitAckChunk)
    assert isinstance(ack, InitAckChunk)
    assert packet.verification_tag == TESTER_TAG
    assert session.iut.state is State.ESTABLISHED
    session.send(session.data(b"still here"))
    session.expect(SackChunk)
    assert [e.data for e in session.events() if isinstance(e, Message)] == [b"still here"]


def test_duplicating_network_delivers_each_message_once() -> None:
    # RFC 9260 section 6.2: duplicates are detected by TSN and never delivered twice.
    net, client, _ = pair(seed=21)
    net.configure_all(duplicate=0.3)
    payloads = [b"m%03d" % i for i in range(200)]
    for payload in payloads:
        client.send(payload, now=net.now)
    net.run(
        lambda: len(net.events_of("server", Message)) >= len(payloads),
        max_time=120,
    )
    net.run_for(2.0)
    assert [m.data for m in net.events_of("server", Message)] == payloads
