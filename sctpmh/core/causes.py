"""Error causes carried by ABORT and ERROR chunks (RFC 9260 section 3.3.10).

A cause is a TLV like a parameter: a 16-bit code, a 16-bit length counting the 4-byte header and
the information but not the padding, then the cause-specific information padded to 4 bytes.
Unknown cause codes are kept as they came: RFC 9260 section 3.3.10 defines no rule that makes
the receiver reject them.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from sctpmh.core.params import TLV_HEADER, iter_tlvs, padding

__all__ = [
    "CauseCode",
    "ErrorCause",
    "cookie_while_shutting_down",
    "decode_causes",
    "encode_causes",
    "invalid_mandatory_parameter",
    "invalid_stream",
    "missing_mandatory",
    "no_user_data",
    "out_of_resource",
    "protocol_violation",
    "stale_cookie",
    "unrecognized_chunk",
    "unrecognized_parameters",
    "user_abort",
]

_U32 = struct.Struct("!I")
_STREAM_RESERVED = struct.Struct("!HH")
_U16 = struct.Struct("!H")


class CauseCode(enum.IntEnum):
    """Cause codes defined by RFC 9260 section 3.3.10."""

    INVALID_STREAM_IDENTIFIER = 1
    MISSING_MANDATORY_PARAMETER = 2
    STALE_COOKIE = 3
    OUT_OF_RESOURCE = 4
    UNRESOLVABLE_ADDRESS = 5
    UNRECOGNIZED_CHUNK_TYPE = 6
    INVALID_MANDATORY_PARAMETER = 7
    UNRECOGNIZED_PARAMETERS = 8
    NO_USER_DATA = 9
    COOKIE_RECEIVED_WHILE_SHUTTING_DOWN = 10
    RESTART_WITH_NEW_ADDRESSES = 11
    USER_INITIATED_ABORT = 12
    PROTOCOL_VIOLATION = 13


@dataclass(frozen=True, slots=True)
class ErrorCause:
    """One error cause; unknown codes are kept."""

    code: int
    """The 16-bit cause code (a :class:`CauseCode` value or any other)."""
    info: bytes
    """The cause-specific information, without the 4-byte cause header or padding."""


def invalid_stream(stream: int) -> ErrorCause:
    """Invalid Stream Identifier: DATA arrived for a stream that does not exist
    (RFC 9260 sections 3.3.10.1, 6.5). Information: the stream id and 16 reserved bits."""
    return ErrorCause(CauseCode.INVALID_STREAM_IDENTIFIER, _STREAM_RESERVED.pack(stream, 0))


def missing_mandatory(param_types: Sequence[int]) -> ErrorCause:
    """Missing Mandatory Parameter (RFC 9260 section 3.3.10.2): a 32-bit count, then the
    16-bit type of each missing parameter."""
    info = _U32.pack(len(param_types)) + b"".join(_U16.pack(t) for t in param_types)
    return ErrorCause(CauseCode.MISSING_MANDATORY_PARAMETER, info)


def stale_cookie(staleness_us: int) -> ErrorCause:
    """Stale Cookie Error (RFC 9260 sections 3.3.10.3, 5.2.6): how late the cookie was, in
    microseconds (saturated to 32 bits)."""
    return ErrorCause(CauseCode.STALE_COOKIE, _U32.pack(min(max(staleness_us, 0), 0xFFFFFFFF)))


def out_of_resource() -> ErrorCause:
    """Out of Resource (RFC 9260 section 3.3.10.4); no information."""
    return ErrorCause(CauseCode.OUT_OF_RESOURCE, b"")


def unrecognized_chunk(chunk_bytes: bytes) -> ErrorCause:
    """Unrecognized Chunk Type (RFC 9260 section 3.3.10.6): the whole unrecognized chunk as
    received, header included (``UnknownChunk.raw``)."""
    return ErrorCause(CauseCode.UNRECOGNIZED_CHUNK_TYPE, chunk_bytes)


def invalid_mandatory_parameter() -> ErrorCause:
    """Invalid Mandatory Parameter (RFC 9260 section 3.3.10.7); no information."""
    return ErrorCause(CauseCode.INVALID_MANDATORY_PARAMETER, b"")


def unrecognized_parameters(param_bytes: bytes) -> ErrorCause:
    """Unrecognized Parameters (RFC 9260 section 3.3.10.8): the unrecognized parameter TLVs
    as received (``Param.raw``; several of them each padded to 4 bytes)."""
    return ErrorCause(CauseCode.UNRECOGNIZED_PARAMETERS, param_bytes)


def no_user_data(tsn: int) -> ErrorCause:
    """No User Data (RFC 9260 sections 3.3.10.9, 6.2): the TSN of the empty DATA chunk."""
    return ErrorCause(CauseCode.NO_USER_DATA, _U32.pack(tsn))


def cookie_while_shutting_down() -> ErrorCause:
    """Cookie Received While Shutting Down (RFC 9260 section 3.3.10.10); no information."""
    return ErrorCause(CauseCode.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN, b"")


def user_abort(reason: bytes) -> ErrorCause:
    """User-Initiated Abort (RFC 9260 section 3.3.10.12): the upper layer's reason, opaque."""
    return ErrorCause(CauseCode.USER_INITIATED_ABORT, reason)


def protocol_violation(info: bytes) -> ErrorCause:
    """Protocol Violation (RFC 9260 section 3.3.10.13): free-form additional information."""
    return ErrorCause(CauseCode.PROTOCOL_VIOLATION, info)


def encode_causes(causes: Sequence[ErrorCause]) -> bytes:
    """Encode causes, each padded to a multiple of 4 bytes (RFC 9260 section 3.3.10)."""
    parts: list[bytes] = []
    for cause in causes:
        length = 4 + len(cause.info)
        if length > 0xFFFF:
            raise ValueError(f"error cause {cause.code} is too long ({length} bytes)")
        parts += (TLV_HEADER.pack(cause.code, length), cause.info, padding(length))
    return b"".join(parts)


def decode_causes(data: bytes, start: int = 0, end: int | None = None) -> tuple[ErrorCause, ...]:
    """Decode the causes in ``data[start:end]`` (the whole of ``data`` by default).

    Raises ``PacketError`` on a cause length below 4 or past the end, or leftover bytes that
    cannot form a cause. The information of known codes is not checked here: a short Invalid
    Stream Identifier is still a cause, and the association reports what it can.
    """
    if end is None:
        end = len(data)
    return tuple(
        ErrorCause(code, bytes(data[info_start:info_end]))
        for code, info_start, info_end in iter_tlvs(data, start, end, "error cause")
    )
