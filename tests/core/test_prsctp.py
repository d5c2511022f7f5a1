"""PR-SCTP (RFC 3758): negotiation, abandoning messages whose lifetime ended, FORWARD TSN
sent and received, and a clean refusal when the peer lacks the extension."""

from __future__ import annotations

import errno

import pytest

from sctpmh.core.chunks import (
    ChunkType,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ForwardTsnChunk,
    InitAckChunk,
    InitChunk,
    SackChunk,
)
from sctpmh.core.params import ParamType, forward_tsn_supported, supported_extensions
from sctpmh.events import Message, SendFailed
from tests.core.simnet import (
    TESTER_INITIAL_TSN,
    Datagram,
    Session,
    init_chunk,
    listening_session,
    of_type,
    open_session,
    pair,
)


def prsctp_session() -> Session:
    """An established Session whose tester announced PR-SCTP in its INIT."""
    session = listening_session()
    params = (forward_tsn_supported(), supported_extensions([ChunkType.FORWARD_TSN]))
    session.send(init_chunk(params=params), tag=0)
    _, _, init_ack = session.expect(InitAckChunk)
    session.iut_tag = init_ack.initiate_tag
    session.iut_initial_tsn = init_ack.initial_tsn
    cookie = next(p.value for p in init_ack.params if p.type == ParamType.STATE_COOKIE)
    session.send(CookieEchoChunk(cookie))
    session.expect(CookieAckChunk)
    return session


def test_both_ends_announce_and_agree_on_prsctp() -> None:
    net, client, server = pair()
    [init] = [c for d in net.sent for c in d.chunks() if isinstance(c, InitChunk)]
    [ack] = [c for d in net.sent for c in d.chunks() if isinstance(c, InitAckChunk)]
    for chunk in (init, ack):
        types = {param.type: param.value for param in chunk.params}
        assert ParamType.FORWARD_TSN_SUPPORTED in types
        assert ChunkType.FORWARD_TSN in types[ParamType.SUPPORTED_EXTENSIONS]
    assert client.peer_supports_prsctp
    assert server.peer_supports_prsctp


def test_a_peer_without_prsctp_gets_no_lifetimes() -> None:
    # RFC 3758 section 3.3: without the peer's Forward-TSN-Supported there is no FORWARD
    # TSN, so a send with a lifetime is refused; plain sends go on.
    session = open_session()
    iut = session.iut
    assert not iut.peer_supports_prsctp
    with pytest.raises(ValueError, match="PR-SCTP"):
        iut.send(b"short-lived", now=session.net.now, ttl=1.0)
    mark = session.mark()
    iut.send(b"reliable", now=session.net.now)
    session.expect(DataChunk, mark=mark)


def test_messages_whose_lifetime_ends_on_a_path_that_drops_them_are_abandoned() -> None:
    net, client, server = pair()
    doomed = [b"doomed %d" % n for n in range(3)]

    def drop_doomed(datagram: Datagram) -> Datagram | None:
        chunks = of_type(datagram.chunks(), DataChunk)
        return None if any(c.data.startswith(b"doomed") for c in chunks) else datagram

    net.add_filter(drop_doomed)
    start = net.now
    for payload in doomed:
        client.send(payload, stream=0, now=net.now, ttl=0.5)
    later = [b"later %d" % n for n in range(10)]
    for payload in later:
        client.send(payload, stream=0, now=net.now)
    net.run(lambda: client.pending_bytes() == 0, max_time=30.0)

    failed = net.events_of("client", SendFailed)
    assert [(f.data, f.error, f.sent) for f in failed] == [
        (p, errno.ETIMEDOUT, True) for p in doomed
    ]
    assert client.stats.messages_abandoned == 3
    # The ordered messages behind them on the same stream flow once the FORWARD TSN lets
    # the peer skip the abandoned SSNs (RFC 3758 section 3.6).
    assert [m.data for m in net.events_of("server", Message)] == later
    forwards = [
        c
        for d in net.sent_between("client", "server")
        for c in of_type(d.chunks(), ForwardTsnChunk)
    ]
    assert forwards
    assert forwards[0].streams == ((0, 2),)
    assert server.stats.forward_tsns_received >= 1
    # Not before the lifetime ended (the first T3 comes after RTO.Initial, 1 s).
    abandoned_at = min(d.sent_at for d in net.sent if of_type(d.chunks(), ForwardTsnChunk))
    assert abandoned_at >= start + 0.5


def test_a_forward_tsn_skips_gaps_and_abandoned_fragments() -> None:
    # RFC 3758 section 3.6: the receiver moves its cumulative TSN, drops fragments below it,
    # delivers the ordered messages the skipped SSN held back, and SACKs at once.
    session = prsctp_session()
    iut = session.iut
    assert iut.peer_supports_prsctp
    t = TESTER_INITIAL_TSN
    mask = 0xFFFFFFFF
    # TSN t (SSN 0) is lost; SSN 1 arrives and must wait for it.
    session.send(DataChunk((t + 1) & mask, 0, 1, 0, b"second"))
    session.net.run_for(0.05)
    assert not [e for e in session.events() if isinstance(e, Message)]
    mark = session.mark()
    session.send(ForwardTsnChunk(t, ((0, 0),)))
    _, _, sack = session.expect(SackChunk, mark=mark, within=0.05)
    assert sack.cumulative_tsn_ack == (t + 1) & mask
    assert [e.data for e in session.events() if isinstance(e, Message)] == [b"second"]
    # The first fragment of SSN 2 arrives, the rest is abandoned by the sender.
    session.send(DataChunk((t + 2) & mask, 0, 2, 0, b"x" * 100, beginning=True, ending=False))
    mark = session.mark()
    session.send(ForwardTsnChunk((t + 3) & mask, ((0, 2),)))
    _, _, sack = session.expect(SackChunk, mark=mark, within=0.05)
    assert sack.cumulative_tsn_ack == (t + 3) & mask
    assert sack.a_rwnd == iut.core.receive_window  # the fragment is gone ("second" was read)
    session.send(DataChunk((t + 4) & mask, 0, 3, 0, b"fourth"))
    session.net.run_for(0.05)
    assert [e.data for e in session.events() if isinstance(e, Message)] == [b"second", b"fourth"]
