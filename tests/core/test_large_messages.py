"""Large messages (RFC 9260 section 6.9): fragmentation and reassembly up to
``Config.max_message_size``, the receive window honoured, and a reassembly buffer a peer cannot
grow without bound."""

from __future__ import annotations

import pytest

from sctpmh.config import Config
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import AbortChunk, DataChunk
from sctpmh.errors import MessageTooLargeError
from sctpmh.events import AssociationClosed, Message
from tests.core.simnet import TESTER_INITIAL_TSN, of_type, open_session, pair

LIMIT = 64 * 1024


def test_a_message_of_the_maximum_size_arrives_whole_and_one_byte_more_is_refused() -> None:
    config = Config(max_message_size=LIMIT)
    net, client, _server = pair(config=config, receive_window=16 * 1024)
    payload = bytes(range(256)) * (LIMIT // 256)
    client.send(payload, stream=1, ppid=7, now=net.now)
    with pytest.raises(MessageTooLargeError):
        client.send(payload + b"!", now=net.now)
    net.run(lambda: bool(net.events_of("server", Message)), max_time=30.0)
    [message] = net.events_of("server", Message)
    assert (message.data, message.stream, message.ppid) == (payload, 1, 7)
    chunks = [
        c for d in net.sent_between("client", "server") for c in of_type(d.chunks(), DataChunk)
    ]
    assert len({c.tsn for c in chunks}) > LIMIT // 1280  # fragmented within the MTU


def test_the_receive_window_holds_the_sender_back_while_the_application_does_not_read() -> None:
    window = 16 * 1024
    config = Config(max_message_size=LIMIT)
    net, client, _server = pair(config=config, receive_window=window)
    net.set_reading("server", False)
    total = 0
    for _ in range(8):
        client.send(bytes(LIMIT), now=net.now)
        total += LIMIT
    net.run_for(20.0)
    accepted = total - client.pending_bytes()
    # RFC 9260 section 6.2: the receiver takes at most its window, plus the one message it
    # lets through so that a message larger than the window cannot deadlock.
    assert 0 < accepted <= window + LIMIT
    net.set_reading("server", True)
    net.run(lambda: len(net.events_of("server", Message)) == 8, max_time=120.0)


@pytest.mark.parametrize("with_beginning", [True, False])
def test_endless_fragments_abort_the_association_with_a_clear_cause(with_beginning: bool) -> None:
    # A peer that keeps sending fragments of a message that never ends (or never began)
    # cannot grow the reassembly buffer beyond Config.max_message_size: ABORT, Out of Resource.
    session = open_session(config=Config(max_message_size=LIMIT))
    iut = session.iut
    size = 1000
    mark = session.mark()
    sent = 0
    for index in range(10 * LIMIT // size):
        tsn = (TESTER_INITIAL_TSN + index) % 2**32
        begins = with_beginning and index == 0
        session.send(DataChunk(tsn, 0, 0, 0, bytes(size), beginning=begins, ending=False))
        session.net.run_for(0.02)  # delivered, and acknowledged
        sent += 1
        if iut.stats.reassembly_overflows:
            break
    assert sent == LIMIT // size + 1  # the one that crossed the limit
    closed = [e for e in session.events() if isinstance(e, AssociationClosed)]
    assert closed == [AssociationClosed(CauseCode.OUT_OF_RESOURCE, aborted=True)]
    session.net.run_for(0.1)
    [abort] = [c for c in session.chunks_since(mark) if isinstance(c, AbortChunk)]
    assert abort.causes[0].code == CauseCode.OUT_OF_RESOURCE
    assert b"reassembly" in abort.causes[1].info
