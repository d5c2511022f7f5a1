"""The packet codec: round trips, byte-exact layouts (RFC 9260 section 3.3) and the CRC32c
checksum against known vectors (RFC 9260 Appendix B)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sctpmh.core import causes, params
from sctpmh.core.causes import CauseCode, ErrorCause, decode_causes, encode_causes
from sctpmh.core.chunks import (
    DATA_HEADER_SIZE,
    AbortChunk,
    Chunk,
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
    chunk_size,
    decode_chunk,
    encode_chunk,
    unknown_chunk_action,
)
from sctpmh.core.packet import Packet, build_packet, checksum, decode_packet, encode_packet
from sctpmh.core.params import Param, ParamType, decode_params, encode_params
from tests.core import strategies

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def crc32c_rfc_reference(data: bytes) -> int:
    """CRC32c computed bit by bit the way RFC 9260 Appendix B describes it: reflected
    polynomial 0x1EDC6F41 (0x82F63B78 reversed), initial value all ones, final complement."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def place_checksum_like_rfc(packet: bytes) -> bytes:
    """Fill the checksum field as RFC 9260 Appendix B's code does: the CRC's least
    significant byte goes into the first byte of the field."""
    zeroed = packet[:8] + bytes(4) + packet[12:]
    crc = crc32c_rfc_reference(zeroed)
    field = bytes([crc & 0xFF, (crc >> 8) & 0xFF, (crc >> 16) & 0xFF, crc >> 24])
    return packet[:8] + field + packet[12:]


# --- checksum -----------------------------------------------------------------------------


def test_crc32c_matches_the_iscsi_vector() -> None:
    # RFC 3720 section B.4 (the same CRC32c): 32 bytes of zeros give 0x8A9136AA. The checksum
    # field is zero already, so checksum() is the plain CRC of the buffer.
    assert checksum(bytes(32)) == 0x8A9136AA
    assert crc32c_rfc_reference(bytes(32)) == 0x8A9136AA


def test_checksum_matches_a_known_init_packet() -> None:
    # An INIT packet with one IPv4 Address parameter (127.0.0.1), ports and tag 0, as built by
    # Scapy's SCTP regression tests (test/scapy/layers/sctp.uts), checksum field 40 2c 0b 5f.
    wire = bytes.fromhex(
        "00000000 00000000 402c0b5f0100001c 00000000 00000000 00000000 0000000000050008 7f000001"
    )
    assert checksum(wire) == 0x5F0B2C40
    packet = decode_packet(wire)
    assert packet == Packet(
        0, 0, 0, (InitChunk(0, 0, 0, 0, 0, (params.ipv4_address("127.0.0.1"),)),)
    )
    assert encode_packet(packet) == wire
    assert place_checksum_like_rfc(wire) == wire


def test_checksum_matches_a_known_sack_packet() -> None:
    # A SACK with one gap block 7..28, from the same Scapy test file: field 3b 01 d4 04.
    wire = bytes.fromhex("00000000 00000000 3b01d404 03000014 00000000 00000000 00010000 0007001c")
    packet = decode_packet(wire)
    assert packet.chunks == (SackChunk(0, 0, ((7, 28),), ()),)
    assert encode_packet(packet) == wire


@FAST
@given(packet=strategies.packets)
def test_encoded_checksum_matches_the_rfc_reference_code(packet: Packet) -> None:
    wire = encode_packet(packet)
    assert place_checksum_like_rfc(wire) == wire
    assert struct.unpack_from("<I", wire, 8)[0] == checksum(wire)


# --- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(strategies.CHUNK_STRATEGIES))
@FAST
@given(data=st.data())
def test_every_chunk_type_round_trips(kind: str, data: st.DataObject) -> None:
    chunk = data.draw(strategies.CHUNK_STRATEGIES[kind])
    wire = encode_chunk(chunk)
    assert len(wire) % 4 == 0
    assert chunk_size(chunk) == len(wire)
    assert decode_chunk(wire) == chunk


@FAST
@given(packet=strategies.packets)
def test_packets_round_trip(packet: Packet) -> None:
    wire = encode_packet(packet)
    assert decode_packet(wire) == packet
    assert (
        build_packet(
            packet.source_port,
            packet.destination_port,
            packet.verification_tag,
            list(packet.chunks),
        )
        == wire
    )


@FAST
@given(values=st.lists(strategies.params, max_size=6))
def test_params_round_trip(values: list[Param]) -> None:
    assert decode_params(encode_params(values)) == tuple(values)


@FAST
@given(values=st.lists(strategies.error_causes, max_size=6))
def test_causes_round_trip(values: list[ErrorCause]) -> None:
    assert decode_causes(encode_causes(values)) == tuple(values)


# --- byte-exact layouts (RFC 9260 section 3.3) ----------------------------------------------


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text)


EXACT: list[tuple[Chunk, str]] = [
    # 3.3.1 DATA: flags U|B|E = 0x07, length 16 + 5, TSN, stream, SSN, PPID, data, 3 pad bytes.
    (
        DataChunk(0x01020304, 5, 6, 0x0708090A, b"abcde", unordered=True),
        "00 07 0015 01020304 0005 0006 0708090a 6162636465 000000",
    ),
    # Middle fragment with the I bit: flags 0x08, no padding needed.
    (
        DataChunk(1, 0, 0, 0, b"wxyz", beginning=False, ending=False, immediate=True),
        "00 08 0014 00000001 0000 0000 00000000 7778797a",
    ),
    # 3.3.2 INIT with an IPv4 Address and a Supported Address Types listing one type: the
    # chunk length (34) counts the padding of the first parameter but not of the last.
    (
        InitChunk(
            0xA1B2C3D4,
            65536,
            10,
            65535,
            0x11223344,
            (params.ipv4_address("10.0.0.1"), params.supported_address_types([5])),
        ),
        "01 00 0022 a1b2c3d4 00010000 000a ffff 11223344 0005 0008 0a000001 000c 0006 0005 0000",
    ),
    # 3.3.3 INIT ACK with a 3-byte State Cookie.
    (
        InitAckChunk(1, 2, 3, 4, 5, (params.state_cookie(b"abc"),)),
        "02 00 001b 00000001 00000002 0003 0004 00000005 0007 0007 616263 00",
    ),
    # 3.3.4 SACK: two gap blocks and one duplicate TSN.
    (
        SackChunk(100, 5000, ((2, 3), (5, 9)), (77,)),
        "03 00 001c 00000064 00001388 0002 0001 0002 0003 0005 0009 0000004d",
    ),
    # 3.3.5 HEARTBEAT: the Heartbeat Info TLV (type 1) around the info.
    (HeartbeatChunk(b"xyz"), "04 00 000b 0001 0007 78797a 00"),
    (HeartbeatAckChunk(b"hb!!"), "05 00 000c 0001 0008 68622121"),
    # 3.3.7 ABORT with the T bit and a User-Initiated Abort cause.
    (
        AbortChunk((causes.user_abort(b"bye"),), reflected_tag=True),
        "06 01 000b 000c 0007 627965 00",
    ),
    (AbortChunk(), "06 00 0004"),
    (ShutdownChunk(0xDEADBEEF), "07 00 0008 deadbeef"),
    (ShutdownAckChunk(), "08 00 0004"),
    # 3.3.10 ERROR with an Invalid Stream Identifier cause: stream 7, 16 reserved bits.
    (ErrorChunk((causes.invalid_stream(7),)), "09 00 000c 0001 0008 0007 0000"),
    (CookieEchoChunk(b"cookie"), "0a 00 000a 636f6f6b6965 0000"),
    (CookieAckChunk(), "0b 00 0004"),
    (ShutdownCompleteChunk(reflected_tag=True), "0e 01 0004"),
    (ShutdownCompleteChunk(), "0e 00 0004"),
    (UnknownChunk(0xC1, 0x5A, b"\x01\x02"), "c1 5a 0006 0102 0000"),
]


@pytest.mark.parametrize(("chunk", "layout"), EXACT)
def test_chunks_encode_to_the_rfc_layout(chunk: Chunk, layout: str) -> None:
    wire = hexbytes(layout)
    assert encode_chunk(chunk) == wire
    assert decode_chunk(wire) == chunk


def test_packet_header_layout() -> None:
    wire = encode_packet(Packet(5000, 9899, 0x01020304, (CookieAckChunk(),)))
    assert wire[:8] == hexbytes("1388 26ab 01020304")
    assert wire[12:] == hexbytes("0b 00 0004")
    assert len(wire) == 16


# --- lenient parsing of what the RFC allows ----------------------------------------------


def packet_with(body: bytes) -> bytes:
    """A packet with ports 1 and 2, tag 3, the given chunk bytes and a valid checksum."""
    head = struct.pack("!HHI", 1, 2, 3) + bytes(4)
    return head[:8] + struct.pack("<I", checksum(head + body)) + body


def test_last_chunk_without_padding_is_accepted() -> None:
    packet = decode_packet(packet_with(hexbytes("0a 00 0005 63")))
    assert packet.chunks == (CookieEchoChunk(b"c"),)


def test_chunk_length_may_or_may_not_count_the_last_parameter_padding() -> None:
    # RFC 9260 section 3.2: accept the INIT whether or not its length counts the final
    # parameter's padding (here a Host Name Address of 1 byte).
    fixed = "00000001 00010000 0001 0001 00000001"
    without = decode_chunk(hexbytes(f"01 00 0019 {fixed} 000b 0005 41 000000"))
    with_pad = decode_chunk(hexbytes(f"01 00 001c {fixed} 000b 0005 41 000000"))
    expected = InitChunk(1, 65536, 1, 1, 1, (Param(ParamType.HOST_NAME_ADDRESS, b"A"),))
    assert without == with_pad == expected


def test_reserved_flag_bits_are_ignored() -> None:
    chunk = decode_chunk(hexbytes("00 f3 0011 00000009 0001 0002 00000003 ff 000000"))
    assert chunk == DataChunk(9, 1, 2, 3, b"\xff", unordered=False)
    assert encode_chunk(chunk)[1] == 0x03
    assert decode_chunk(hexbytes("0e fe 0004")) == ShutdownCompleteChunk(reflected_tag=False)


def test_empty_data_chunk_is_decoded_for_the_association_to_reject() -> None:
    # RFC 9260 section 6.2: the receiver answers with ABORT No User Data; the codec only parses.
    chunk = decode_chunk(hexbytes("00 03 0010 00000005 0000 0000 00000000"))
    assert chunk == DataChunk(5, 0, 0, 0, b"")


def test_unknown_chunks_and_params_are_kept_raw() -> None:
    raw = hexbytes("c1 01 0007 616263")  # 0xc0 is FORWARD TSN (RFC 3758)
    chunk = decode_chunk(raw + b"\x00")
    assert chunk == UnknownChunk(0xC1, 0x01, b"abc")
    assert isinstance(chunk, UnknownChunk)
    assert chunk.raw == raw
    assert causes.unrecognized_chunk(chunk.raw).info == raw
    param = decode_params(hexbytes("8123 0005 7a 000000"))[0]
    assert param == Param(0x8123, b"z")
    assert param.raw == hexbytes("8123 0005 7a")


def test_heartbeat_ignores_parameters_after_its_info() -> None:
    chunk = decode_chunk(hexbytes("04 00 0010 0001 0006 6869 0000 8001 0004"))
    assert chunk == HeartbeatChunk(b"hi")


def test_several_chunks_in_one_packet_keep_their_order() -> None:
    chunks = (
        SackChunk(10, 1000),
        DataChunk(11, 0, 0, 0, b"x" * 5),
        DataChunk(12, 0, 1, 0, b"y" * 8),
        HeartbeatChunk(b"nonce"),
    )
    wire = encode_packet(Packet(1, 2, 3, chunks))
    assert len(wire) == 12 + sum(chunk_size(c) for c in chunks)
    assert decode_packet(wire).chunks == chunks


# --- upper-two-bits rules (RFC 9260 sections 3.2, 3.2.1) -----------------------------------


@pytest.mark.parametrize(
    ("chunk_type", "action"),
    [(0x0F, (True, False)), (0x40, (True, True)), (0x84, (False, False)), (0xC0, (False, True))],
)
def test_unknown_chunk_action(chunk_type: int, action: tuple[bool, bool]) -> None:
    assert unknown_chunk_action(chunk_type) == action


@pytest.mark.parametrize(
    ("param_type", "action"),
    [
        (0x0010, (True, False)),
        (0x4001, (True, True)),
        (ParamType.ECN_CAPABLE, (False, False)),
        (ParamType.FORWARD_TSN_SUPPORTED, (False, True)),
    ],
)
def test_unknown_param_action(param_type: int, action: tuple[bool, bool]) -> None:
    assert params.unknown_param_action(param_type) == action


# --- constructors and accessors ---------------------------------------------------------------


def test_cause_constructors_use_the_rfc_layouts() -> None:
    assert causes.invalid_stream(0x0102) == ErrorCause(1, hexbytes("0102 0000"))
    assert causes.missing_mandatory([7, 9]) == ErrorCause(2, hexbytes("00000002 0007 0009"))
    assert causes.stale_cookie(1500) == ErrorCause(3, hexbytes("000005dc"))
    assert causes.stale_cookie(2**40).info == hexbytes("ffffffff")
    assert causes.out_of_resource() == ErrorCause(CauseCode.OUT_OF_RESOURCE, b"")
    assert causes.invalid_mandatory_parameter() == ErrorCause(7, b"")
    assert causes.unrecognized_parameters(b"\x81\x00\x00\x04") == ErrorCause(
        8, hexbytes("81000004")
    )
    assert causes.no_user_data(0xAABBCCDD) == ErrorCause(9, hexbytes("aabbccdd"))
    assert causes.cookie_while_shutting_down() == ErrorCause(10, b"")
    assert causes.user_abort(b"why") == ErrorCause(12, b"why")
    assert causes.protocol_violation(b"bad") == ErrorCause(13, b"bad")


def test_address_params() -> None:
    v4 = params.ipv4_address("192.0.2.7")
    v6 = params.ipv6_address("2001:db8::1")
    assert v4 == Param(5, hexbytes("c0000207"))
    assert v6 == Param(6, hexbytes("20010db8 00000000 00000000 00000001"))
    assert params.address_of(v4) == "192.0.2.7"
    assert params.address_of(v6) == "2001:db8::1"
    assert params.address_of(Param(5, b"\x01\x02\x03")) is None
    assert params.address_of(Param(6, bytes(4))) is None
    assert params.address_of(params.state_cookie(bytes(4))) is None


def test_other_param_accessors() -> None:
    assert params.cookie_preservative(5000) == Param(9, hexbytes("00001388"))
    assert params.cookie_preservative_ms(params.cookie_preservative(5000)) == 5000
    assert params.cookie_preservative_ms(Param(9, b"\x00")) is None
    types = params.supported_address_types([5, 6])
    assert types == Param(12, hexbytes("0005 0006"))
    assert params.address_types_of(types) == (5, 6)
    assert params.address_types_of(Param(12, b"\x00")) is None
    assert params.address_types_of(Param(5, bytes(4))) is None


def test_init_ack_finds_its_state_cookie() -> None:
    chunk = InitAckChunk(1, 2, 3, 4, 5, (Param(0x8000, b""), params.state_cookie(b"c00k")))
    assert chunk.state_cookie == b"c00k"
    assert chunk.find_param(0x8000) == Param(0x8000, b"")
    assert InitAckChunk(1, 2, 3, 4, 5).state_cookie is None
    assert InitChunk(1, 2, 3, 4, 5).find_param(ParamType.STATE_COOKIE) is None


def test_chunks_too_long_for_the_length_field_are_refused() -> None:
    with pytest.raises(ValueError, match="16-bit"):
        encode_chunk(DataChunk(1, 0, 0, 0, bytes(0x10000 - DATA_HEADER_SIZE)))
    with pytest.raises(ValueError, match="16-bit"):
        encode_chunk(CookieEchoChunk(bytes(0xFFFF)))
    with pytest.raises(ValueError, match="too long"):
        encode_params([Param(1, bytes(0xFFFC))])
    # The largest DATA chunk that fits is still encoded.
    assert len(encode_chunk(DataChunk(1, 0, 0, 0, bytes(0xFFFF - DATA_HEADER_SIZE)))) == 0x10000
