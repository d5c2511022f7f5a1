"""SCTP chunks (RFC 9260 section 3.3): one frozen dataclass per chunk type, with encode/decode.

Every chunk starts with an 8-bit type, 8 bits of flags and a 16-bit length that counts the
4-byte header and the value but not the padding to a multiple of 4 (RFC 9260 section 3.2).
Flags that the RFC defines are dataclass fields; reserved bits are ignored on receipt and sent
as zero. Chunk types this module does not know come back as :class:`UnknownChunk` so the
association can apply the upper-two-bits rule (:func:`unknown_chunk_action`).

The decoder checks only what it needs to parse: every length against what is left, and every
chunk against the size of its fixed part. Protocol rules (an INIT with initiate tag 0, an
empty DATA chunk, a chunk that must be alone in its packet) are the association's to apply.
DATA and SACK, the chunks of the data path, are decoded and encoded by dedicated fast paths.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from sctpmh.core.causes import ErrorCause, decode_causes, encode_causes
from sctpmh.core.params import (
    TLV_HEADER,
    PacketError,
    Param,
    ParamType,
    decode_params,
    encode_params,
    iter_tlvs,
    pad4,
    padding,
)

__all__ = [
    "CHUNK_HEADER_SIZE",
    "DATA_HEADER_SIZE",
    "AbortChunk",
    "Chunk",
    "ChunkType",
    "CookieAckChunk",
    "CookieEchoChunk",
    "DataChunk",
    "ErrorChunk",
    "ForwardTsnChunk",
    "HeartbeatAckChunk",
    "HeartbeatChunk",
    "InitAckChunk",
    "InitChunk",
    "SackChunk",
    "ShutdownAckChunk",
    "ShutdownChunk",
    "ShutdownCompleteChunk",
    "UnknownChunk",
    "chunk_size",
    "decode_chunk",
    "decode_chunks",
    "encode_chunk",
    "encode_chunk_into",
    "unknown_chunk_action",
]

CHUNK_HEADER_SIZE = 4
DATA_HEADER_SIZE = 16
"""Chunk header plus TSN, stream id, SSN and PPID (RFC 9260 section 3.3.1)."""

_INIT_FIXED_SIZE = 20
_SACK_FIXED_SIZE = 16

_CHUNK_HEADER = struct.Struct("!BBH")
_DATA_HEADER = struct.Struct("!BBHIHHI")  # type, flags, length, TSN, stream, SSN, PPID
_INIT_HEADER = struct.Struct("!BBHIIHHI")  # ..., initiate tag, a_rwnd, OS, MIS, initial TSN
_SACK_HEADER = struct.Struct("!BBHIIHH")  # ..., cum TSN ack, a_rwnd, #gap blocks, #dup TSNs
_SHUTDOWN = struct.Struct("!BBHI")  # ..., cumulative TSN ack
_GAP_BLOCK = struct.Struct("!HH")
_U32 = struct.Struct("!I")

# DATA chunk flags, RFC 9260 section 3.3.1 (I from RFC 7053, folded into RFC 9260).
_FLAG_IMMEDIATE = 0x08
_FLAG_UNORDERED = 0x04
_FLAG_BEGINNING = 0x02
_FLAG_ENDING = 0x01
_DATA_FLAGS = tuple(
    (
        (flags & _FLAG_UNORDERED) != 0,
        (flags & _FLAG_BEGINNING) != 0,
        (flags & _FLAG_ENDING) != 0,
        (flags & _FLAG_IMMEDIATE) != 0,
    )
    for flags in range(256)
)
"""(unordered, beginning, ending, immediate) for every value of a DATA chunk's flags byte."""
# The T bit of ABORT and SHUTDOWN COMPLETE: the verification tag is the reflected one
# (RFC 9260 sections 3.3.7, 3.3.13, 8.5.1).
_FLAG_T = 0x01

_EMPTY_CHUNK_SIZE = CHUNK_HEADER_SIZE


class ChunkType(enum.IntEnum):
    """Chunk types defined by RFC 9260 section 3.2."""

    DATA = 0
    INIT = 1
    INIT_ACK = 2
    SACK = 3
    HEARTBEAT = 4
    HEARTBEAT_ACK = 5
    ABORT = 6
    SHUTDOWN = 7
    SHUTDOWN_ACK = 8
    ERROR = 9
    COOKIE_ECHO = 10
    COOKIE_ACK = 11
    SHUTDOWN_COMPLETE = 14
    FORWARD_TSN = 192  # RFC 3758 section 3.2


def unknown_chunk_action(chunk_type: int) -> tuple[bool, bool]:
    """What to do with a chunk type this endpoint does not understand: ``(stop, report)``.

    RFC 9260 section 3.2, the two highest bits of the type:

    - ``00``: stop processing this packet, discard it and every chunk after this one, do not
      report;
    - ``01``: stop and discard as above, and report it in an ERROR chunk with an
      Unrecognized Chunk Type cause;
    - ``10``: skip this chunk and continue with the next, do not report;
    - ``11``: skip and continue, and report it in an Unrecognized Chunk Type cause.

    ``stop`` is True for ``0x``; ``report`` is True for ``x1``.
    """
    return (chunk_type & 0x80) == 0, (chunk_type & 0x40) != 0


# --- chunk values -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataChunk:
    """DATA (RFC 9260 section 3.3.1): one fragment of a user message."""

    tsn: int
    """Transmission Sequence Number."""
    stream: int
    """Stream identifier."""
    ssn: int
    """Stream sequence number (the same on every fragment of a message)."""
    ppid: int
    """Payload protocol identifier, a host-order int (network order on the wire)."""
    data: bytes
    """The user data. Empty only in a decoded chunk (the receiver ABORTs, RFC 9260 6.2)."""
    unordered: bool = False
    """U bit: deliver without regard to the SSN."""
    beginning: bool = True
    """B bit: first fragment of a message."""
    ending: bool = True
    """E bit: last fragment of a message."""
    immediate: bool = False
    """I bit: the sender asks for a SACK without delay (RFC 9260 section 3.3.1)."""


@dataclass(frozen=True, slots=True)
class InitChunk:
    """INIT (RFC 9260 section 3.3.2): opens an association."""

    initiate_tag: int
    """Verification tag the peer must put on every packet it sends us."""
    a_rwnd: int
    """Advertised receiver window credit, in bytes."""
    outbound_streams: int
    """Number of outbound streams the sender wishes to open."""
    inbound_streams: int
    """Maximum number of inbound streams the sender accepts."""
    initial_tsn: int
    """TSN the sender will use first."""
    params: tuple[Param, ...] = ()
    """Optional/variable-length parameters, in wire order; unknown types kept."""

    def find_param(self, param_type: int) -> Param | None:
        """The first parameter of ``param_type``, or None."""
        return _find_param(self.params, param_type)


@dataclass(frozen=True, slots=True)
class InitAckChunk:
    """INIT ACK (RFC 9260 section 3.3.3): answers an INIT; carries the State Cookie param."""

    initiate_tag: int
    """Verification tag the peer must put on every packet it sends us."""
    a_rwnd: int
    """Advertised receiver window credit, in bytes."""
    outbound_streams: int
    """Number of outbound streams the sender wishes to open."""
    inbound_streams: int
    """Maximum number of inbound streams the sender accepts."""
    initial_tsn: int
    """TSN the sender will use first."""
    params: tuple[Param, ...] = ()
    """Parameters in wire order (the State Cookie is mandatory; unknown types kept)."""

    def find_param(self, param_type: int) -> Param | None:
        """The first parameter of ``param_type``, or None."""
        return _find_param(self.params, param_type)

    @property
    def state_cookie(self) -> bytes | None:
        """The value of the State Cookie parameter, or None when it is missing."""
        param = _find_param(self.params, ParamType.STATE_COOKIE)
        return None if param is None else param.value


@dataclass(frozen=True, slots=True)
class SackChunk:
    """SACK (RFC 9260 section 3.3.4): acknowledges DATA."""

    cumulative_tsn_ack: int
    """The last TSN received in sequence."""
    a_rwnd: int
    """Advertised receiver window credit, in bytes."""
    gap_blocks: tuple[tuple[int, int], ...] = ()
    """Gap Ack Blocks as on the wire: (start, end) offsets from ``cumulative_tsn_ack``."""
    duplicate_tsns: tuple[int, ...] = ()
    """TSNs received more than once since the last SACK."""


@dataclass(frozen=True, slots=True)
class HeartbeatChunk:
    """HEARTBEAT (RFC 9260 section 3.3.5): probes a destination."""

    info: bytes
    """The value of the Heartbeat Info parameter (opaque to the receiver, echoed back)."""


@dataclass(frozen=True, slots=True)
class HeartbeatAckChunk:
    """HEARTBEAT ACK (RFC 9260 section 3.3.6): echoes a HEARTBEAT's info."""

    info: bytes
    """The Heartbeat Info value copied from the HEARTBEAT."""


@dataclass(frozen=True, slots=True)
class AbortChunk:
    """ABORT (RFC 9260 section 3.3.7): closes the association at once."""

    causes: tuple[ErrorCause, ...] = ()
    """Zero or more error causes."""
    reflected_tag: bool = False
    """T bit: the packet carries the peer's verification tag reflected (no TCB)."""


@dataclass(frozen=True, slots=True)
class ShutdownChunk:
    """SHUTDOWN (RFC 9260 section 3.3.8): starts a graceful close."""

    cumulative_tsn_ack: int
    """The last TSN received in sequence."""


@dataclass(frozen=True, slots=True)
class ForwardTsnChunk:
    """FORWARD TSN (RFC 3758 section 3.2): the receiver is to move its cumulative TSN."""

    new_cumulative_tsn: int
    """The TSN the receiver is to treat as its cumulative TSN ack point."""
    streams: tuple[tuple[int, int], ...] = ()
    """``(stream, ssn)`` pairs: the largest SSN skipped on each ordered stream."""


@dataclass(frozen=True, slots=True)
class ShutdownAckChunk:
    """SHUTDOWN ACK (RFC 9260 section 3.3.9)."""


@dataclass(frozen=True, slots=True)
class ErrorChunk:
    """ERROR (RFC 9260 section 3.3.10): reports conditions that do not end the association."""

    causes: tuple[ErrorCause, ...]
    """One or more error causes."""


@dataclass(frozen=True, slots=True)
class CookieEchoChunk:
    """COOKIE ECHO (RFC 9260 section 3.3.11): returns the State Cookie."""

    cookie: bytes
    """The State Cookie exactly as received in the INIT ACK."""


@dataclass(frozen=True, slots=True)
class CookieAckChunk:
    """COOKIE ACK (RFC 9260 section 3.3.12)."""


@dataclass(frozen=True, slots=True)
class ShutdownCompleteChunk:
    """SHUTDOWN COMPLETE (RFC 9260 section 3.3.13)."""

    reflected_tag: bool = False
    """T bit: the packet carries the peer's verification tag reflected (no TCB)."""


@dataclass(frozen=True, slots=True)
class UnknownChunk:
    """A chunk of a type this module does not decode, kept as received (RFC 9260 section 3.2)."""

    type: int
    """The 8-bit chunk type; :func:`unknown_chunk_action` tells what to do with it."""
    flags: int
    """The 8 flag bits as received."""
    value: bytes
    """The chunk value, without the 4-byte header and padding."""

    @property
    def raw(self) -> bytes:
        """The chunk as received (header and value, unpadded): what an Unrecognized Chunk Type
        cause carries back (RFC 9260 section 3.3.10.6)."""
        return _CHUNK_HEADER.pack(self.type, self.flags, 4 + len(self.value)) + self.value


Chunk: TypeAlias = (
    DataChunk
    | InitChunk
    | InitAckChunk
    | SackChunk
    | HeartbeatChunk
    | HeartbeatAckChunk
    | AbortChunk
    | ShutdownChunk
    | ShutdownAckChunk
    | ErrorChunk
    | CookieEchoChunk
    | CookieAckChunk
    | ShutdownCompleteChunk
    | ForwardTsnChunk
    | UnknownChunk
)
"""Any chunk this codec produces or accepts."""


def _find_param(params: tuple[Param, ...], param_type: int) -> Param | None:
    for param in params:
        if param.type == param_type:
            return param
    return None


# --- decoding -----------------------------------------------------------------------------
# A decoder gets the whole packet, the chunk's offset, its flags and its length; the caller has
# checked that 4 <= length and offset + length <= len(data).

_Decoder: TypeAlias = Callable[[bytes, int, int, int], Chunk]


def _too_short(name: str, length: int, minimum: int) -> PacketError:
    return PacketError(f"{name} chunk length {length} is shorter than its fixed part ({minimum})")


def _decode_init_fields(
    data: bytes, offset: int, length: int, name: str
) -> tuple[int, int, int, int, int, tuple[Param, ...]]:
    if length < _INIT_FIXED_SIZE:
        raise _too_short(name, length, _INIT_FIXED_SIZE)
    _, _, _, tag, a_rwnd, outbound, inbound, initial_tsn = _INIT_HEADER.unpack_from(data, offset)
    params = decode_params(data, offset + _INIT_FIXED_SIZE, offset + length)
    return tag, a_rwnd, outbound, inbound, initial_tsn, params


def _decode_init(data: bytes, offset: int, flags: int, length: int) -> InitChunk:
    return InitChunk(*_decode_init_fields(data, offset, length, "INIT"))


def _decode_init_ack(data: bytes, offset: int, flags: int, length: int) -> InitAckChunk:
    return InitAckChunk(*_decode_init_fields(data, offset, length, "INIT ACK"))


def _decode_sack(data: bytes, offset: int, flags: int, length: int) -> SackChunk:
    if length < _SACK_FIXED_SIZE:
        raise _too_short("SACK", length, _SACK_FIXED_SIZE)
    _, _, _, cum_ack, a_rwnd, n_gaps, n_dups = _SACK_HEADER.unpack_from(data, offset)
    # RFC 9260 section 3.3.4: both lists are 4 bytes per entry; the counts come from the wire
    # and must fit inside the chunk before anything is read from them.
    gaps_start = offset + _SACK_FIXED_SIZE
    dups_start = gaps_start + 4 * n_gaps
    dups_end = dups_start + 4 * n_dups
    if dups_end > offset + length:
        raise PacketError(
            f"SACK of length {length} cannot hold {n_gaps} gap blocks and {n_dups} duplicates"
        )
    gap_blocks: tuple[tuple[int, int], ...] = ()
    duplicates: tuple[int, ...] = ()
    if n_gaps:
        gap_blocks = tuple(_GAP_BLOCK.iter_unpack(data[gaps_start:dups_start]))
    if n_dups:
        duplicates = tuple(tsn for (tsn,) in _U32.iter_unpack(data[dups_start:dups_end]))
    return SackChunk(cum_ack, a_rwnd, gap_blocks, duplicates)


def _heartbeat_info(data: bytes, offset: int, length: int, name: str) -> bytes:
    # RFC 9260 sections 3.3.5, 3.3.6: the value is a Heartbeat Info TLV (type 1).
    for param_type, start, end in iter_tlvs(data, offset + 4, offset + length, "parameter"):
        if param_type == ParamType.HEARTBEAT_INFO:
            return bytes(data[start:end])
    raise PacketError(f"{name} chunk without a Heartbeat Info parameter")


def _decode_heartbeat(data: bytes, offset: int, flags: int, length: int) -> HeartbeatChunk:
    return HeartbeatChunk(_heartbeat_info(data, offset, length, "HEARTBEAT"))


def _decode_heartbeat_ack(data: bytes, offset: int, flags: int, length: int) -> HeartbeatAckChunk:
    return HeartbeatAckChunk(_heartbeat_info(data, offset, length, "HEARTBEAT ACK"))


def _decode_abort(data: bytes, offset: int, flags: int, length: int) -> AbortChunk:
    causes = decode_causes(data, offset + 4, offset + length)
    return AbortChunk(causes, (flags & _FLAG_T) != 0)


def _decode_shutdown(data: bytes, offset: int, flags: int, length: int) -> ShutdownChunk:
    if length < _SHUTDOWN.size:
        raise _too_short("SHUTDOWN", length, _SHUTDOWN.size)
    return ShutdownChunk(_SHUTDOWN.unpack_from(data, offset)[3])


def _decode_shutdown_ack(data: bytes, offset: int, flags: int, length: int) -> ShutdownAckChunk:
    return ShutdownAckChunk()


def _decode_error(data: bytes, offset: int, flags: int, length: int) -> ErrorChunk:
    return ErrorChunk(decode_causes(data, offset + 4, offset + length))


def _decode_cookie_echo(data: bytes, offset: int, flags: int, length: int) -> CookieEchoChunk:
    return CookieEchoChunk(bytes(data[offset + 4 : offset + length]))


def _decode_cookie_ack(data: bytes, offset: int, flags: int, length: int) -> CookieAckChunk:
    return CookieAckChunk()


def _decode_shutdown_complete(
    data: bytes, offset: int, flags: int, length: int
) -> ShutdownCompleteChunk:
    return ShutdownCompleteChunk((flags & _FLAG_T) != 0)


def _decode_forward_tsn(data: bytes, offset: int, flags: int, length: int) -> ForwardTsnChunk:
    if length < _SHUTDOWN.size or (length - _SHUTDOWN.size) % 4:
        raise _too_short("FORWARD_TSN", length, _SHUTDOWN.size)
    new_cum = _SHUTDOWN.unpack_from(data, offset)[3]
    streams = tuple(
        _GAP_BLOCK.unpack_from(data, position)
        for position in range(offset + _SHUTDOWN.size, offset + length, 4)
    )
    return ForwardTsnChunk(new_cum, streams)


# DATA is not in the table: decode_chunks decodes it inline, its hottest path.
_DECODERS: dict[int, _Decoder] = {
    ChunkType.INIT: _decode_init,
    ChunkType.INIT_ACK: _decode_init_ack,
    ChunkType.SACK: _decode_sack,
    ChunkType.HEARTBEAT: _decode_heartbeat,
    ChunkType.HEARTBEAT_ACK: _decode_heartbeat_ack,
    ChunkType.ABORT: _decode_abort,
    ChunkType.SHUTDOWN: _decode_shutdown,
    ChunkType.SHUTDOWN_ACK: _decode_shutdown_ack,
    ChunkType.ERROR: _decode_error,
    ChunkType.COOKIE_ECHO: _decode_cookie_echo,
    ChunkType.COOKIE_ACK: _decode_cookie_ack,
    ChunkType.SHUTDOWN_COMPLETE: _decode_shutdown_complete,
    ChunkType.FORWARD_TSN: _decode_forward_tsn,
}


def decode_chunks(data: bytes, start: int = 0) -> tuple[Chunk, ...]:
    """Decode the chunks in ``data[start:]`` (the part of a packet after its common header).

    ``data`` must be ``bytes``: DATA payloads are slices of it.

    Raises :class:`PacketError` when a chunk length is below 4 or runs past the end, a chunk is
    shorter than its fixed part, its parameters or causes are malformed, or bytes after the
    last chunk's padding are too few to form a chunk header. The padding of the last chunk
    may be missing (RFC 9260 section 3.2 tells receivers to ignore padding).
    """
    chunks: list[Chunk] = []
    append = chunks.append
    end = len(data)
    offset = start
    unpack_header = _CHUNK_HEADER.unpack_from
    decoders = _DECODERS
    unpack_data = _DATA_HEADER.unpack_from
    data_flags = _DATA_FLAGS
    while offset < end:
        if end - offset < CHUNK_HEADER_SIZE:
            raise PacketError(f"{end - offset} trailing bytes cannot hold a chunk header")
        chunk_type, flags, length = unpack_header(data, offset)
        if length < CHUNK_HEADER_SIZE:
            raise PacketError(f"chunk type {chunk_type} has length {length} < 4")
        if length > end - offset:
            raise PacketError(f"chunk type {chunk_type} of length {length} runs past the packet")
        if chunk_type == 0:
            # The data path's fast lane: a DATA chunk in one unpack, no call (section 3.3.1).
            if length < DATA_HEADER_SIZE:
                raise _too_short("DATA", length, DATA_HEADER_SIZE)
            _, _, _, tsn, stream, ssn, ppid = unpack_data(data, offset)
            unordered, beginning, ending, immediate = data_flags[flags]
            append(
                DataChunk(
                    tsn,
                    stream,
                    ssn,
                    ppid,
                    data[offset + DATA_HEADER_SIZE : offset + length],
                    unordered,
                    beginning,
                    ending,
                    immediate,
                )
            )
            offset += (length + 3) & ~3
            continue
        decoder = decoders.get(chunk_type)
        if decoder is None:
            append(UnknownChunk(chunk_type, flags, data[offset + 4 : offset + length]))
        else:
            append(decoder(data, offset, flags, length))
        offset += (length + 3) & ~3
    return tuple(chunks)


def decode_chunk(data: bytes) -> Chunk:
    """Decode a buffer holding exactly one chunk (padding optional); :class:`PacketError`
    if it is malformed or holds anything but one chunk."""
    chunks = decode_chunks(bytes(data))
    if len(chunks) != 1:
        raise PacketError(f"expected one chunk, found {len(chunks)}")
    return chunks[0]


# --- encoding -----------------------------------------------------------------------------
# An encoder appends the chunk's bytes, padding included, to a list of parts: the packet
# encoder joins all parts once, so a DATA payload is copied once on its way to the wire.

_Encoder: TypeAlias = Callable[[list[bytes], Chunk], None]


def _check_length(name: str, length: int) -> int:
    if length > 0xFFFF:
        raise ValueError(f"{name} chunk is too long for its 16-bit length ({length} bytes)")
    return length


def _tlv_length(body: bytes, last_value_length: int | None) -> int:
    """Length of encoded TLVs without the last TLV's padding: RFC 9260 section 3.2 counts the
    padding of every parameter in the chunk length except the last one's."""
    if last_value_length is None:
        return len(body)
    return len(body) - ((-(4 + last_value_length)) & 3)


def _append_data(parts: list[bytes], chunk: DataChunk) -> None:
    payload = chunk.data
    length = DATA_HEADER_SIZE + len(payload)
    if length > 0xFFFF:
        raise ValueError(f"DATA chunk is too long for its 16-bit length ({length} bytes)")
    flags = (
        (_FLAG_IMMEDIATE if chunk.immediate else 0)
        | (_FLAG_UNORDERED if chunk.unordered else 0)
        | (_FLAG_BEGINNING if chunk.beginning else 0)
        | (_FLAG_ENDING if chunk.ending else 0)
    )
    parts.append(
        _DATA_HEADER.pack(
            ChunkType.DATA, flags, length, chunk.tsn, chunk.stream, chunk.ssn, chunk.ppid
        )
    )
    parts.append(payload)
    if length & 3:
        parts.append(padding(length))


def _encode_init_like(parts: list[bytes], chunk: Chunk) -> None:
    assert isinstance(chunk, (InitChunk, InitAckChunk))
    chunk_type = ChunkType.INIT if isinstance(chunk, InitChunk) else ChunkType.INIT_ACK
    body = encode_params(chunk.params)
    last = len(chunk.params[-1].value) if chunk.params else None
    length = _check_length(chunk_type.name, _INIT_FIXED_SIZE + _tlv_length(body, last))
    parts.append(
        _INIT_HEADER.pack(
            chunk_type,
            0,
            length,
            chunk.initiate_tag,
            chunk.a_rwnd,
            chunk.outbound_streams,
            chunk.inbound_streams,
            chunk.initial_tsn,
        )
    )
    parts.append(body)


def _append_sack(parts: list[bytes], chunk: SackChunk) -> None:
    gaps = chunk.gap_blocks
    dups = chunk.duplicate_tsns
    length = _check_length("SACK", _SACK_FIXED_SIZE + 4 * (len(gaps) + len(dups)))
    parts.append(
        _SACK_HEADER.pack(
            ChunkType.SACK, 0, length, chunk.cumulative_tsn_ack, chunk.a_rwnd, len(gaps), len(dups)
        )
    )
    if gaps or dups:
        # One pack call for both lists: "!" + "HH" * gaps + "I" * dups.
        flat = [n for block in gaps for n in block]
        parts.append(struct.pack(f"!{2 * len(gaps)}H{len(dups)}I", *flat, *dups))


def _encode_heartbeat_like(parts: list[bytes], chunk: Chunk) -> None:
    assert isinstance(chunk, (HeartbeatChunk, HeartbeatAckChunk))
    chunk_type = (
        ChunkType.HEARTBEAT if isinstance(chunk, HeartbeatChunk) else ChunkType.HEARTBEAT_ACK
    )
    info_length = 4 + len(chunk.info)
    length = _check_length(chunk_type.name, 4 + info_length)
    parts.append(_CHUNK_HEADER.pack(chunk_type, 0, length))
    parts.append(TLV_HEADER.pack(ParamType.HEARTBEAT_INFO, info_length))
    parts.append(chunk.info)
    parts.append(padding(length))


def _encode_causes_chunk(parts: list[bytes], chunk: Chunk) -> None:
    assert isinstance(chunk, (AbortChunk, ErrorChunk))
    if isinstance(chunk, AbortChunk):
        chunk_type, flags = ChunkType.ABORT, (_FLAG_T if chunk.reflected_tag else 0)
    else:
        chunk_type, flags = ChunkType.ERROR, 0
    body = encode_causes(chunk.causes)
    last = len(chunk.causes[-1].info) if chunk.causes else None
    length = _check_length(chunk_type.name, 4 + _tlv_length(body, last))
    parts.append(_CHUNK_HEADER.pack(chunk_type, flags, length))
    parts.append(body)


def _encode_shutdown(parts: list[bytes], chunk: Chunk) -> None:
    assert isinstance(chunk, ShutdownChunk)
    parts.append(_SHUTDOWN.pack(ChunkType.SHUTDOWN, 0, _SHUTDOWN.size, chunk.cumulative_tsn_ack))


def _encode_cookie_echo(parts: list[bytes], chunk: Chunk) -> None:
    assert isinstance(chunk, CookieEchoChunk)
    length = _check_length("COOKIE_ECHO", 4 + len(chunk.cookie))
    parts.append(_CHUNK_HEADER.pack(ChunkType.COOKIE_ECHO, 0, length))
    parts.append(chunk.cookie)
    parts.append(padding(length))


_SHUTDOWN_ACK_BYTES = _CHUNK_HEADER.pack(ChunkType.SHUTDOWN_ACK, 0, 4)
_COOKIE_ACK_BYTES = _CHUNK_HEADER.pack(ChunkType.COOKIE_ACK, 0, 4)


def _encode_shutdown_ack(parts: list[bytes], chunk: Chunk) -> None:
    parts.append(_SHUTDOWN_ACK_BYTES)


def _encode_cookie_ack(parts: list[bytes], chunk: Chunk) -> None:
    parts.append(_COOKIE_ACK_BYTES)


def _encode_shutdown_complete(parts: list[bytes], chunk: Chunk) -> None:
    assert isinstance(chunk, ShutdownCompleteChunk)
    flags = _FLAG_T if chunk.reflected_tag else 0
    parts.append(_CHUNK_HEADER.pack(ChunkType.SHUTDOWN_COMPLETE, flags, 4))


def _encode_forward_tsn(parts: list[bytes], chunk: Chunk) -> None:
    assert isinstance(chunk, ForwardTsnChunk)
    length = _check_length("FORWARD_TSN", _SHUTDOWN.size + 4 * len(chunk.streams))
    parts.append(_SHUTDOWN.pack(ChunkType.FORWARD_TSN, 0, length, chunk.new_cumulative_tsn))
    for stream, ssn in chunk.streams:
        parts.append(_GAP_BLOCK.pack(stream, ssn))


def _encode_unknown(parts: list[bytes], chunk: Chunk) -> None:
    assert isinstance(chunk, UnknownChunk)
    length = _check_length(f"type {chunk.type}", 4 + len(chunk.value))
    parts.append(_CHUNK_HEADER.pack(chunk.type, chunk.flags, length))
    parts.append(chunk.value)
    parts.append(padding(length))


# DATA and SACK are not in the table: encode_chunk_into takes its fast path for them.
_ENCODERS: dict[type, _Encoder] = {
    InitChunk: _encode_init_like,
    InitAckChunk: _encode_init_like,
    HeartbeatChunk: _encode_heartbeat_like,
    HeartbeatAckChunk: _encode_heartbeat_like,
    AbortChunk: _encode_causes_chunk,
    ShutdownChunk: _encode_shutdown,
    ShutdownAckChunk: _encode_shutdown_ack,
    ErrorChunk: _encode_causes_chunk,
    CookieEchoChunk: _encode_cookie_echo,
    CookieAckChunk: _encode_cookie_ack,
    ShutdownCompleteChunk: _encode_shutdown_complete,
    ForwardTsnChunk: _encode_forward_tsn,
    UnknownChunk: _encode_unknown,
}


def encode_chunk_into(parts: list[bytes], chunk: Chunk) -> None:
    """Append the wire bytes of ``chunk`` (padded to a multiple of 4) to ``parts``.

    Used by the packet encoder so that payloads are copied only once, by the final join.
    Raises ValueError when the chunk does not fit its 16-bit length field.
    """
    if type(chunk) is DataChunk:
        _append_data(parts, chunk)
    elif type(chunk) is SackChunk:
        _append_sack(parts, chunk)
    else:
        _ENCODERS[type(chunk)](parts, chunk)


def encode_chunk(chunk: Chunk) -> bytes:
    """The wire bytes of ``chunk``, padded to a multiple of 4 (RFC 9260 section 3.2).

    The length field counts no final padding, nor the padding of the chunk's last parameter
    or cause (RFC 9260 section 3.2). Raises ValueError when the chunk does not fit its 16-bit
    length field; other field values must fit their widths (``struct.error`` otherwise).
    """
    parts: list[bytes] = []
    encode_chunk_into(parts, chunk)
    return b"".join(parts)


def chunk_size(chunk: Chunk) -> int:
    """The chunk's size on the wire, padding included: what it takes of a packet's room."""
    if type(chunk) is DataChunk:
        return pad4(DATA_HEADER_SIZE + len(chunk.data))
    if type(chunk) is SackChunk:
        return _SACK_FIXED_SIZE + 4 * (len(chunk.gap_blocks) + len(chunk.duplicate_tsns))
    if type(chunk) in (ShutdownAckChunk, CookieAckChunk, ShutdownCompleteChunk):
        return _EMPTY_CHUNK_SIZE
    return len(encode_chunk(chunk))
