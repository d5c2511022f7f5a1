"""Conformance: association termination (RFC 9260 section 9; ETSI TS 102 369 "termination")."""

from __future__ import annotations

import pytest

from sctpmh.core.association import Association, State
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import (
    AbortChunk,
    DataChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
)
from sctpmh.errors import AssociationClosedError
from sctpmh.events import AssociationClosed, Message, PeerShutdown, SendFailed
from tests.core.simnet import (
    CLIENT_ADDRESS,
    SERVER_ADDRESS,
    Datagram,
    SimNet,
    datagrams_with,
    pair,
)


def both_closed(*associations: Association) -> bool:
    return all(a.state is State.CLOSED for a in associations)


def messages(net: SimNet, name: str) -> list[Message]:
    return [e for e in net.events(name) if isinstance(e, Message)]


def closed_event(net: SimNet, name: str) -> AssociationClosed:
    """The endpoint's last event, which must be AssociationClosed."""
    last = net.events(name)[-1]
    assert isinstance(last, AssociationClosed)
    return last


def test_graceful_shutdown_sequence() -> None:
    # RFC 9260 section 9.2: SHUTDOWN -> SHUTDOWN ACK -> SHUTDOWN COMPLETE, and both ends close.
    net, client, server = pair()
    client.shutdown(net.now)
    net.run(lambda: both_closed(client, server), max_time=30)

    kinds = []
    for datagram in net.delivered:
        for chunk in datagram.chunks():
            if isinstance(chunk, ShutdownChunk | ShutdownAckChunk | ShutdownCompleteChunk):
                kinds.append((datagram.source, type(chunk)))
    assert kinds == [
        (CLIENT_ADDRESS, ShutdownChunk),
        (SERVER_ADDRESS, ShutdownAckChunk),
        (CLIENT_ADDRESS, ShutdownCompleteChunk),
    ]
    assert any(isinstance(e, PeerShutdown) for e in net.events("server"))
    for name in ("client", "server"):
        last = net.events(name)[-1]
        assert isinstance(last, AssociationClosed)
        assert not last.aborted
    assert client.get_timer() is None
    assert server.get_timer() is None


def test_shutdown_flushes_pending_data_first() -> None:
    # RFC 9260 section 9.2: in SHUTDOWN-PENDING the endpoint keeps sending (and retransmitting)
    # queued data and sends SHUTDOWN only once all of it is acknowledged.
    net, client, server = pair(seed=11)
    net.link(CLIENT_ADDRESS[0], SERVER_ADDRESS[0]).configure(loss=0.2)
    payloads = [bytes([i]) * 700 for i in range(30)]
    for payload in payloads:
        client.send(payload, stream=1, now=net.now)
    client.shutdown(net.now)
    with pytest.raises(AssociationClosedError):
        client.send(b"too late", now=net.now)
    net.run(lambda: both_closed(client, server), max_time=300)

    assert [m.data for m in messages(net, "server")] == payloads
    sent = net.sent_between("client", "server")
    first_shutdown = sent.index(datagrams_with(sent, ShutdownChunk)[0])
    assert datagrams_with(sent[first_shutdown:], DataChunk) == []
    assert not any(isinstance(e, SendFailed) for e in net.events("client"))
    assert not closed_event(net, "client").aborted


def test_peer_keeps_sending_its_data_after_receiving_shutdown() -> None:
    # RFC 9260 section 9.2: in SHUTDOWN-RECEIVED the peer accepts no new data from its user but
    # delivers (retransmitting as needed) what it had, then answers with SHUTDOWN ACK.
    net, client, server = pair(seed=12)
    dropped: list[Datagram] = []

    def drop_first_server_data(datagram: Datagram) -> Datagram | None:
        is_server_data = datagram.source == SERVER_ADDRESS and datagrams_with([datagram], DataChunk)
        if is_server_data and not dropped:
            dropped.append(datagram)
            return None
        return datagram

    net.add_filter(drop_first_server_data)
    replies = [b"reply-%d" % i for i in range(5)]
    for reply in replies:
        server.send(reply, now=net.now)
    client.shutdown(net.now)
    net.run(lambda: any(isinstance(e, PeerShutdown) for e in net.events("server")), max_time=5)
    with pytest.raises(AssociationClosedError):
        server.send(b"no more", now=net.now)
    net.run(lambda: both_closed(client, server), max_time=60)

    assert dropped
    assert [m.data for m in messages(net, "client")] == replies
    assert not closed_event(net, "server").aborted


def test_shutdown_is_retransmitted_when_dropped() -> None:
    # RFC 9260 section 9.2: T2-shutdown restarts SHUTDOWN until SHUTDOWN ACK arrives.
    net, client, server = pair()
    dropped: list[Datagram] = []

    def drop_first_shutdown(datagram: Datagram) -> Datagram | None:
        if not dropped and datagrams_with([datagram], ShutdownChunk):
            dropped.append(datagram)
            return None
        return datagram

    net.add_filter(drop_first_shutdown)
    client.shutdown(net.now)
    net.run(lambda: both_closed(client, server), max_time=30)
    shutdowns = datagrams_with(net.sent_between("client", "server"), ShutdownChunk)
    assert len(shutdowns) == 2
    assert shutdowns[1].sent_at - shutdowns[0].sent_at >= 1.0 - 1e-9  # one RTO (RTO.Min)


def test_abort_reports_user_cause_and_fails_unacked_messages() -> None:
    # RFC 9260 section 9.1: ABORT ends the association at once; the User-Initiated Abort
    # cause (section 3.3.10.12) carries the reason. Undelivered messages come back to the
    # user as SendFailed (RFC 6458 SCTP_SEND_FAILED).
    net, client, server = pair()
    payloads = [bytes([i]) * 1000 for i in range(20)]
    for payload in payloads:
        client.send(payload, now=net.now)
    net.flush("client")  # what the congestion window allows goes on the wire now
    client.abort(net.now, b"bye")
    net.run(lambda: both_closed(client, server), max_time=10)

    aborts = [
        c
        for d in net.sent_between("client", "server")
        for c in d.chunks()
        if isinstance(c, AbortChunk)
    ]
    assert len(aborts) == 1
    assert not aborts[0].reflected_tag
    [cause] = aborts[0].causes
    assert cause.code == CauseCode.USER_INITIATED_ABORT
    assert cause.info == b"bye"

    server_last = net.events("server")[-1]
    assert isinstance(server_last, AssociationClosed)
    assert server_last.aborted
    assert server_last.cause == CauseCode.USER_INITIATED_ABORT
    client_last = net.events("client")[-1]
    assert isinstance(client_last, AssociationClosed)
    assert client_last.aborted

    failed = [e for e in net.events("client") if isinstance(e, SendFailed)]
    assert sorted(f.data for f in failed) == sorted(payloads)
    assert any(not f.sent for f in failed)  # the congestion window held some back
    # Nothing was lost on the wire: exactly the messages put on it reached the server.
    assert sorted(m.data for m in messages(net, "server")) == sorted(
        f.data for f in failed if f.sent
    )
    with pytest.raises(AssociationClosedError):
        client.send(b"after abort", now=net.now)
    assert client.get_timer() is None
