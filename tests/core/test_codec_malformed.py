"""Malformed packets: every one raises PacketError, and nothing else ever comes out of the
decoder (RFC 9260 section 3.2: lengths are checked before they are used)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sctpmh.core.causes import decode_causes
from sctpmh.core.chunks import CookieAckChunk, SackChunk, decode_chunk
from sctpmh.core.packet import (
    ChecksumError,
    Packet,
    PacketError,
    checksum,
    decode_packet,
    encode_packet,
)
from sctpmh.core.params import decode_params
from tests.core import strategies

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def packet_with(body: str | bytes) -> bytes:
    """A packet with ports 1 and 2, tag 3, the given chunk bytes and a valid checksum, so
    that only the chunk area is at fault."""
    if isinstance(body, str):
        body = bytes.fromhex(body)
    head = struct.pack("!HHI", 1, 2, 3) + bytes(4)
    return head[:8] + struct.pack("<I", checksum(head + body)) + body


GOOD = packet_with("0b 00 0004")


@pytest.mark.parametrize("size", range(12))
def test_shorter_than_the_common_header(size: int) -> None:
    with pytest.raises(PacketError, match="common header"):
        decode_packet(GOOD[:size], verify_checksum=False)


def test_header_only_packet_has_no_chunks() -> None:
    assert decode_packet(packet_with(b"")).chunks == ()


@pytest.mark.parametrize("position", [0, 5, 8, 11, 12, 15])
def test_bad_checksum(position: int) -> None:
    damaged = bytearray(GOOD)
    damaged[position] ^= 0x10
    with pytest.raises(ChecksumError, match="checksum"):
        decode_packet(bytes(damaged))
    if position < 8:
        # A damaged port or tag still parses when the checksum is not checked (fuzzing).
        assert decode_packet(bytes(damaged), verify_checksum=False).chunks == (CookieAckChunk(),)


# Each case is a chunk area that must be refused, with a word its message contains.
MALFORMED = {
    # RFC 9260 section 3.2: Chunk Length counts the 4-byte header, so it is at least 4.
    "chunk length 0": ("0b 00 0000", "< 4"),
    "chunk length 3": ("0b 00 0003 00", "< 4"),
    "chunk length past the end": ("0a 00 0009 6162 6364", "past the packet"),
    "second chunk past the end": ("0b 00 0004 0a 00 0100 00000000", "past the packet"),
    "trailing bytes": ("0b 00 0004 0000", "trailing"),
    "trailing byte after padding": ("0a 00 0005 61 000000 00", "trailing"),
    # Shorter than the fixed part of the chunk (RFC 9260 section 3.3).
    "DATA of 15 bytes": ("00 03 000f 00000001 0000 0000 000000 00", "fixed part"),
    "INIT of 19 bytes": ("01 00 0013 00000001 00010000 0001 0001 000000 00", "fixed part"),
    "INIT ACK of 16 bytes": ("02 00 0010 00000001 00010000 0001 0001", "fixed part"),
    "SACK of 12 bytes": ("03 00 000c 00000001 00010000", "fixed part"),
    "SHUTDOWN of 4 bytes": ("07 00 0004", "fixed part"),
    "HEARTBEAT without info": ("04 00 0004", "Heartbeat Info"),
    "HEARTBEAT ACK with another param": ("05 00 0008 0002 0004", "Heartbeat Info"),
    # Parameters (RFC 9260 section 3.2.1).
    "INIT param length 2": ("01 00 0018 00000001 00010000 0001 0001 00000001 0005 0002", "< 4"),
    "INIT param past its chunk": (
        "01 00 001c 00000001 00010000 0001 0001 00000001 0005 0010 0a000001",
        "runs past",
    ),
    "INIT param header cut": (
        "01 00 0016 00000001 00010000 0001 0001 00000001 0005 0000",
        "trailing",
    ),
    "HEARTBEAT info past its chunk": ("04 00 000c 0001 0010 61626364", "runs past"),
    # Error causes (RFC 9260 section 3.3.10).
    "ABORT cause length 3": ("06 00 0008 000c 0003", "< 4"),
    "ERROR cause past its chunk": ("09 00 000c 0001 000c 00070000", "runs past"),
    "ABORT cause header cut": ("06 00 0006 000c", "trailing"),
    # SACK counts (RFC 9260 section 3.3.4) must fit in the chunk.
    "SACK gap blocks past the end": (
        "03 00 0014 00000001 00010000 0002 0000 0001 0002",
        "gap blocks",
    ),
    "SACK duplicates past the end": (
        "03 00 0014 00000001 00010000 0000 0002 00000007",
        "gap blocks",
    ),
    "SACK huge counts": ("03 00 0010 00000001 00010000 ffff ffff", "gap blocks"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_chunks_raise_packet_error(case: str) -> None:
    body, message = MALFORMED[case]
    with pytest.raises(PacketError, match=message) as info:
        decode_packet(packet_with(body))
    assert info.value.reason == str(info.value)


def test_sack_with_counts_that_fit_exactly_is_accepted() -> None:
    chunk = decode_chunk(bytes.fromhex("03 00 0018 00000001 00010000 0001 0001 0001 0002 00000007"))
    assert chunk == SackChunk(1, 0x10000, ((1, 2),), (7,))


def test_decode_chunk_wants_exactly_one_chunk() -> None:
    with pytest.raises(PacketError, match="found 2"):
        decode_chunk(bytes.fromhex("0b 00 0004 0b 00 0004"))
    with pytest.raises(PacketError, match="found 0"):
        decode_chunk(b"")


def test_params_and_causes_decoders_check_lengths() -> None:
    with pytest.raises(PacketError):
        decode_params(bytes.fromhex("0005 0009 0a000001"))
    with pytest.raises(PacketError):
        decode_causes(bytes.fromhex("0001 0001"))


# --- fuzz: nothing but PacketError comes out --------------------------------------------------


def assert_reencodes(packet: Packet) -> None:
    """Whatever the decoder accepted holds field values that encode again to the same packet."""
    assert decode_packet(encode_packet(packet)) == packet


def decodes_or_packet_error(data: bytes, *, verify_checksum: bool) -> Packet | None:
    try:
        return decode_packet(data, verify_checksum=verify_checksum)
    except PacketError:
        return None


@FUZZ
@given(data=st.binary(max_size=200), verify=st.booleans())
def test_random_bytes_never_raise_anything_else(data: bytes, verify: bool) -> None:
    decodes_or_packet_error(data, verify_checksum=verify)


@FUZZ
@given(body=st.binary(max_size=120))
def test_random_chunk_areas_with_valid_checksums(body: bytes) -> None:
    packet = decodes_or_packet_error(packet_with(body), verify_checksum=True)
    if packet is not None:
        assert_reencodes(packet)


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.just(0)),
)


def mutate(wire: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    buffer = bytearray(wire)
    for kind, where, value in mutations:
        position = where % (len(buffer) + 1)
        if kind == "flip" and position < len(buffer):
            buffer[position] ^= value
        elif kind == "cut":
            del buffer[position:]
        elif kind == "insert":
            buffer.insert(position, value)
        elif kind == "delete" and position < len(buffer):
            del buffer[position]
    return bytes(buffer)


@FUZZ
@given(packet=strategies.packets, mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_valid_packets_never_raise_anything_else(
    packet: Packet, mutations: list[tuple[str, int, int]]
) -> None:
    mutated = decodes_or_packet_error(
        mutate(encode_packet(packet), mutations), verify_checksum=False
    )
    if mutated is not None:
        assert_reencodes(mutated)


@FUZZ
@given(packet=strategies.packets, position=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_any_single_bit_flip_fails_the_checksum(packet: Packet, position: int, bit: int) -> None:
    # CRC32c detects every single-bit error (RFC 9260 section 6.8 relies on it).
    wire = bytearray(encode_packet(packet))
    wire[position % len(wire)] ^= 1 << bit
    with pytest.raises(PacketError, match="checksum"):
        decode_packet(bytes(wire))
