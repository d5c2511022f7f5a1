"""Conformance: error reporting (RFC 9260 sections 3.3.10, 6.5; ETSI TS 102 369 "errors")."""

from __future__ import annotations

import struct

import pytest

from sctpmh.config import Config
from sctpmh.core.association import State
from sctpmh.core.causes import CauseCode, ErrorCause
from sctpmh.core.chunks import ErrorChunk, SackChunk
from sctpmh.errors import MessageTooLargeError, StreamError
from sctpmh.events import Message, RemoteError
from tests.core.simnet import open_session, pair


def test_data_on_nonexistent_stream_gets_invalid_stream_error() -> None:
    # RFC 9260 section 6.5: DATA for a stream that does not exist is acknowledged (its TSN is
    # consumed) but not delivered, and an ERROR with Invalid Stream Identifier goes back.
    session = open_session()  # tester OS 10 -> the IUT has inbound streams 0..9
    chunk = session.data(b"nowhere", stream=10)
    session.send(chunk)
    _, _, error = session.expect(ErrorChunk, within=1.0)
    assert isinstance(error, ErrorChunk)
    [cause] = error.causes
    assert cause.code == CauseCode.INVALID_STREAM_IDENTIFIER
    assert struct.unpack("!H", cause.info[:2]) == (10,)
    sacks = [c for c in session.chunks_since(0) if isinstance(c, SackChunk)]
    if not sacks:
        _, _, sack = session.expect(SackChunk, within=1.0)
        sacks = [sack]
    assert sacks[-1].cumulative_tsn_ack == chunk.tsn
    assert not any(isinstance(e, Message) for e in session.events())
    # The stream space is unharmed: a valid stream still works.
    session.send(session.data(b"somewhere", stream=9))
    session.expect(SackChunk)
    assert [e.data for e in session.events() if isinstance(e, Message)] == [b"somewhere"]


def test_remote_error_surfaces_as_event() -> None:
    # RFC 9260 section 3.3.10: an ERROR chunk reports a condition; the association goes on.
    session = open_session()
    session.send(
        ErrorChunk((ErrorCause(0x7777, b"abc"), ErrorCause(CauseCode.OUT_OF_RESOURCE, b"")))
    )
    session.quiet(0.1)
    errors = [e for e in session.events() if isinstance(e, RemoteError)]
    assert [(e.cause, e.data) for e in errors] == [
        (0x7777, b"abc"),
        (CauseCode.OUT_OF_RESOURCE, b""),
    ]
    assert session.iut.state is State.ESTABLISHED


def test_local_misuse_raises() -> None:
    # Bad arguments from the local user are errors of the caller, never sent on the wire.
    net, client, _ = pair(config=Config(outbound_streams=4, max_message_size=1000))
    with pytest.raises(StreamError):
        client.send(b"x", stream=4, now=net.now)
    with pytest.raises(MessageTooLargeError):
        client.send(b"x" * 1001, now=net.now)
    net.run_for(1.0)
    assert net.events_of("server", Message) == []
