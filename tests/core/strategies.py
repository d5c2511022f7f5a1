"""Hypothesis strategies that generate valid SCTP chunks and packets (RFC 9260 section 3).

Every value these produce survives ``encode`` then ``decode`` unchanged, so they serve as
round-trip inputs and as seeds for the fuzz tests (mutate a valid packet's bytes). Sizes are
kept small so that tests stay fast.
"""

from __future__ import annotations

from hypothesis import strategies as st

from sctpmh.core.causes import ErrorCause
from sctpmh.core.chunks import (
    AbortChunk,
    Chunk,
    ChunkType,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
)
from sctpmh.core.packet import Packet
from sctpmh.core.params import Param

__all__ = [
    "CHUNK_STRATEGIES",
    "chunks",
    "error_causes",
    "packets",
    "params",
]

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
small_bytes = st.binary(max_size=40)

params = st.builds(Param, type=u16, value=small_bytes)
"""Any parameter, known type or not (the codec keeps unknown ones)."""

error_causes = st.builds(ErrorCause, code=u16, info=small_bytes)
"""Any error cause, known code or not."""

data_chunks = st.builds(
    DataChunk,
    tsn=u32,
    stream=u16,
    ssn=u16,
    ppid=u32,
    data=st.binary(min_size=1, max_size=300),
    unordered=st.booleans(),
    beginning=st.booleans(),
    ending=st.booleans(),
    immediate=st.booleans(),
)
_init_fields = {
    "initiate_tag": u32,
    "a_rwnd": u32,
    "outbound_streams": u16,
    "inbound_streams": u16,
    "initial_tsn": u32,
    "params": st.lists(params, max_size=5).map(tuple),
}
init_chunks = st.builds(InitChunk, **_init_fields)
init_ack_chunks = st.builds(InitAckChunk, **_init_fields)
sack_chunks = st.builds(
    SackChunk,
    cumulative_tsn_ack=u32,
    a_rwnd=u32,
    gap_blocks=st.lists(st.tuples(u16, u16), max_size=8).map(tuple),
    duplicate_tsns=st.lists(u32, max_size=8).map(tuple),
)
heartbeat_chunks = st.builds(HeartbeatChunk, info=small_bytes)
heartbeat_ack_chunks = st.builds(HeartbeatAckChunk, info=small_bytes)
abort_chunks = st.builds(
    AbortChunk,
    causes=st.lists(error_causes, max_size=3).map(tuple),
    reflected_tag=st.booleans(),
)
shutdown_chunks = st.builds(ShutdownChunk, cumulative_tsn_ack=u32)
shutdown_ack_chunks = st.just(ShutdownAckChunk())
error_chunks = st.builds(
    ErrorChunk, causes=st.lists(error_causes, min_size=1, max_size=3).map(tuple)
)
cookie_echo_chunks = st.builds(CookieEchoChunk, cookie=st.binary(max_size=80))
cookie_ack_chunks = st.just(CookieAckChunk())
shutdown_complete_chunks = st.builds(ShutdownCompleteChunk, reflected_tag=st.booleans())
_known_types = {int(t) for t in ChunkType}
unknown_chunks = st.builds(
    UnknownChunk,
    type=u8.filter(lambda t: t not in _known_types),
    flags=u8,
    value=small_bytes,
)

CHUNK_STRATEGIES: dict[str, st.SearchStrategy[Chunk]] = {
    "DATA": data_chunks,
    "INIT": init_chunks,
    "INIT_ACK": init_ack_chunks,
    "SACK": sack_chunks,
    "HEARTBEAT": heartbeat_chunks,
    "HEARTBEAT_ACK": heartbeat_ack_chunks,
    "ABORT": abort_chunks,
    "SHUTDOWN": shutdown_chunks,
    "SHUTDOWN_ACK": shutdown_ack_chunks,
    "ERROR": error_chunks,
    "COOKIE_ECHO": cookie_echo_chunks,
    "COOKIE_ACK": cookie_ack_chunks,
    "SHUTDOWN_COMPLETE": shutdown_complete_chunks,
    "UNKNOWN": unknown_chunks,
}
"""One strategy per chunk kind, keyed by chunk type name ("UNKNOWN" for the rest)."""

chunks: st.SearchStrategy[Chunk] = st.one_of(*CHUNK_STRATEGIES.values())
"""Any valid chunk."""

packets = st.builds(
    Packet,
    source_port=u16,
    destination_port=u16,
    verification_tag=u32,
    chunks=st.lists(chunks, max_size=6).map(tuple),
)
"""Any valid packet (chunk combinations are not checked against RFC 9260 section 6.10)."""
