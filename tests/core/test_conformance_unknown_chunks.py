"""Conformance: unrecognized chunk types (RFC 9260 sections 3.2, 3.3.10.6;
ETSI TS 102 369 "unknown chunk types")."""

from __future__ import annotations

import pytest

from sctpmh.core.association import State
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import ErrorChunk, SackChunk, UnknownChunk
from sctpmh.events import Message
from tests.core.simnet import of_type, open_session


@pytest.mark.parametrize(
    ("chunk_type", "processes_rest", "reports"),
    [
        # RFC 9260 section 3.2: the upper two bits of an unrecognized chunk type.
        (0x3F, False, False),  # 00: stop, discard the packet
        (0x7F, False, True),  # 01: stop, discard the packet, report
        (0xBF, True, False),  # 10: skip the chunk, go on
        (0xFF, True, True),  # 11: skip the chunk, go on, report
    ],
)
def test_unknown_chunk_handled_by_upper_bits(
    chunk_type: int, processes_rest: bool, reports: bool
) -> None:
    session = open_session()
    unknown = UnknownChunk(chunk_type, 0, b"\x01\x02\x03\x04")
    data = session.data(b"after the unknown chunk")
    session.send(unknown, data)
    chunks = session.quiet(1.0)

    delivered = [e.data for e in session.events() if isinstance(e, Message)]
    sacks = of_type(chunks, SackChunk)
    if processes_rest:
        assert delivered == [b"after the unknown chunk"]
        assert sacks
        assert sacks[-1].cumulative_tsn_ack == data.tsn
    else:
        assert delivered == []
        assert sacks == []
    errors = of_type(chunks, ErrorChunk)
    if reports:
        # RFC 9260 section 3.3.10.6: the cause carries the unrecognized chunk as received.
        [error] = errors
        [cause] = error.causes
        assert cause.code == CauseCode.UNRECOGNIZED_CHUNK_TYPE
        assert cause.info == unknown.raw
    else:
        assert errors == []
    assert session.iut.state is State.ESTABLISHED
