"""SCTP packets: the common header, the chunks after it, and the CRC32c checksum
(RFC 9260 sections 3, 3.1 and Appendix B).

The common header is source port, destination port, verification tag and checksum, 12 bytes.
The checksum is CRC32c (Castagnoli) over the whole packet with the checksum field taken as zero.
RFC 9260 Appendix B places the CRC's least significant byte first in the field; read as a
network-order integer that looks byte-swapped, which is why Linux stores it with
``cpu_to_le32``. Here the field is read and written with a little-endian struct, so the bytes
on the wire are the ones the RFC's reference code produces.

:func:`decode_packet` raises only :class:`PacketError`, whatever the input; the association
catches it and drops the packet (a bad checksum is discarded silently, RFC 9260 section 6.8).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from crc32c import crc32c

from sctpmh.core.chunks import Chunk, decode_chunks, encode_chunk_into
from sctpmh.core.params import PacketError


class ChecksumError(PacketError):
    """The packet's CRC32c does not match: discarded silently (RFC 9260 section 6.8)."""


__all__ = [
    "COMMON_HEADER_SIZE",
    "ChecksumError",
    "Packet",
    "PacketError",
    "build_packet",
    "checksum",
    "decode_packet",
    "encode_packet",
]

COMMON_HEADER_SIZE = 12
"""Source port, destination port, verification tag, checksum (RFC 9260 section 3.1)."""

_PORTS_AND_TAG = struct.Struct("!HHI")
_CHECKSUM = struct.Struct("<I")  # RFC 9260 Appendix B: least significant CRC byte first
_CHECKSUM_OFFSET = 8
_ZERO_CHECKSUM = b"\x00\x00\x00\x00"


@dataclass(frozen=True, slots=True)
class Packet:
    """One SCTP packet: the common header's fields and the chunks, in wire order."""

    source_port: int
    """The sender's SCTP port."""
    destination_port: int
    """The receiver's SCTP port."""
    verification_tag: int
    """The verification tag (RFC 9260 section 8.5; 0 on a packet carrying INIT)."""
    chunks: tuple[Chunk, ...]
    """The chunks, in the order they appear in the packet."""


def checksum(data: bytes) -> int:
    """The CRC32c of an SCTP packet with its checksum field (bytes 8-11) taken as zero.

    This is the CRC as an integer; on the wire the field holds it least significant byte
    first (RFC 9260 Appendix B), i.e. ``struct.pack("<I", checksum(packet))``.
    """
    view = memoryview(data)
    crc = crc32c(view[:_CHECKSUM_OFFSET])
    crc = crc32c(_ZERO_CHECKSUM, crc)
    return crc32c(view[COMMON_HEADER_SIZE:], crc)


def build_packet(
    source_port: int, destination_port: int, verification_tag: int, chunks: Iterable[Chunk]
) -> bytes:
    """The wire bytes of a packet with these header fields and chunks, checksum filled in.

    The same as ``encode_packet(Packet(...))`` without building the Packet; the association
    uses it to send the chunks it has collected. Raises ValueError when a chunk does not fit
    its 16-bit length field.
    """
    parts: list[bytes] = [_PORTS_AND_TAG.pack(source_port, destination_port, verification_tag)]
    parts.append(_ZERO_CHECKSUM)
    for chunk in chunks:
        encode_chunk_into(parts, chunk)
    # One join copies every payload once; the CRC is computed with the field still zero and
    # then written in place (RFC 9260 section 6.8: the checksum covers the whole packet).
    buffer = bytearray().join(parts)
    _CHECKSUM.pack_into(buffer, _CHECKSUM_OFFSET, crc32c(buffer))
    return bytes(buffer)


def encode_packet(packet: Packet) -> bytes:
    """The wire bytes of ``packet``, CRC32c filled in (RFC 9260 section 6.8, Appendix B)."""
    return build_packet(
        packet.source_port, packet.destination_port, packet.verification_tag, packet.chunks
    )


def decode_packet(data: bytes, *, verify_checksum: bool = True) -> Packet:
    """Parse an SCTP packet (the UDP payload, under RFC 6951 encapsulation).

    Raises :class:`PacketError`, and nothing else, for: fewer than 12 bytes, a checksum that
    does not match (unless ``verify_checksum`` is False, for fuzzing and tests), a chunk length
    below 4 or past the end, a chunk shorter than its fixed part, bad parameter or cause
    lengths, SACK gap block / duplicate counts past the chunk's end, and trailing bytes after
    the last chunk's padding that cannot form a chunk.
    """
    if type(data) is not bytes:
        data = bytes(data)
    if len(data) < COMMON_HEADER_SIZE:
        raise PacketError(f"packet of {len(data)} bytes is shorter than the common header")
    source_port, destination_port, tag = _PORTS_AND_TAG.unpack_from(data)
    if verify_checksum:
        (stored,) = _CHECKSUM.unpack_from(data, _CHECKSUM_OFFSET)
        if stored != checksum(data):
            raise ChecksumError("bad CRC32c checksum")
    return Packet(source_port, destination_port, tag, decode_chunks(data, COMMON_HEADER_SIZE))
