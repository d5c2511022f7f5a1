"""Variable-length parameters of INIT, INIT ACK and HEARTBEAT (RFC 9260 sections 3.2.1, 3.3.2).

Every parameter is a TLV: a 16-bit type, a 16-bit length that counts the 4-byte header and the
value but not the padding, the value, then zero padding up to a multiple of 4 bytes. Error
causes (``causes.py``) share the layout, so the TLV walker here serves both.

Unknown parameter types are decoded like any other and kept as :class:`Param`; the association
applies the upper-two-bits rule of RFC 9260 section 3.2.1 with :func:`unknown_param_action`.

:class:`PacketError` lives here because this TLV walk is the lowest layer of the codec that can
find malformed input; ``sctpmh.core.packet`` re-exports it, and that is the name to import.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "PacketError",
    "Param",
    "ParamType",
    "address_of",
    "address_types_of",
    "cookie_preservative",
    "cookie_preservative_ms",
    "decode_params",
    "encode_params",
    "ipv4_address",
    "ipv6_address",
    "iter_tlvs",
    "pad4",
    "padding",
    "state_cookie",
    "supported_address_types",
    "unknown_param_action",
]

TLV_HEADER = struct.Struct("!HH")
"""Type and length of a parameter or error cause (RFC 9260 sections 3.2.1, 3.3.10)."""

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")
"""Zero bytes that bring a length of ``n`` up to a multiple of 4: ``_PADDING[n & 3]``."""


class PacketError(Exception):
    """A received SCTP packet is malformed and cannot be parsed.

    Raised only by the codec (``sctpmh.core.packet``, ``chunks``, ``params``, ``causes``); the
    association catches it and drops the packet (RFC 9260 sections 3.2, 6.8). ``reason`` says
    what was wrong, for counters and logs.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def pad4(length: int) -> int:
    """``length`` rounded up to a multiple of 4: chunks, parameters and causes are padded so
    the next one starts 4-byte aligned (RFC 9260 section 3.2)."""
    return (length + 3) & ~3


def padding(length: int) -> bytes:
    """The zero bytes that follow ``length`` bytes of TLV to reach a multiple of 4."""
    return _PADDING[length & 3]


class ParamType(enum.IntEnum):
    """Parameter types of INIT / INIT ACK / HEARTBEAT (RFC 9260 sections 3.3.2.1, 3.3.3, 3.3.5)."""

    HEARTBEAT_INFO = 1
    IPV4_ADDRESS = 5
    IPV6_ADDRESS = 6
    STATE_COOKIE = 7
    UNRECOGNIZED_PARAMETER = 8
    COOKIE_PRESERVATIVE = 9
    HOST_NAME_ADDRESS = 11
    SUPPORTED_ADDRESS_TYPES = 12
    ECN_CAPABLE = 0x8000
    SUPPORTED_EXTENSIONS = 0x8008  # RFC 5061 section 4.2.7
    FORWARD_TSN_SUPPORTED = 0xC000  # RFC 3758 section 3.1


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter as it travels in a chunk; unknown types are kept as they came."""

    type: int
    """The 16-bit parameter type (a :class:`ParamType` value or any other)."""
    value: bytes
    """The value, without the 4-byte header and without padding."""

    @property
    def raw(self) -> bytes:
        """Header and value with the unpadded length, as an Unrecognized Parameter carries it
        (RFC 9260 section 3.3.3: the whole parameter TLV is echoed back)."""
        return TLV_HEADER.pack(self.type, 4 + len(self.value)) + self.value


def unknown_param_action(param_type: int) -> tuple[bool, bool]:
    """What to do with a parameter type this endpoint does not understand: ``(stop, report)``.

    RFC 9260 section 3.2.1, the two highest bits of the type:

    - ``00``: stop processing this parameter and do not process any further parameters in
      the chunk, do not report; the chunk itself is still processed and answered (an INIT
      still gets its INIT ACK);
    - ``01``: stop as for ``00``, and report the parameter in an Unrecognized Parameter;
    - ``10``: skip this parameter and continue with the next, do not report;
    - ``11``: skip and continue, and report the parameter in an Unrecognized Parameter.

    ``stop`` is True for ``0x``; ``report`` is True for ``x1``.
    """
    return (param_type & 0x8000) == 0, (param_type & 0x4000) != 0


def iter_tlvs(data: bytes, start: int, end: int, what: str) -> Iterator[tuple[int, int, int]]:
    """Walk the TLVs in ``data[start:end]``, yielding ``(type, value_start, value_end)``.

    Every length is checked against what is left before it is used (RFC 9260 section 3.2.1:
    the length counts header and value, not padding). The last TLV's padding may be missing: a
    chunk's length does not count its final padding, and senders differ on whether the last
    parameter's padding is inside it (RFC 9260 section 3.2 asks receivers to accept both).
    Leftover bytes too short to be a TLV header raise :class:`PacketError`; ``what`` names the
    TLV kind in the message ("parameter", "error cause").
    """
    offset = start
    unpack = TLV_HEADER.unpack_from
    while offset < end:
        if end - offset < 4:
            raise PacketError(f"{end - offset} trailing bytes cannot hold a {what} header")
        tlv_type, length = unpack(data, offset)
        if length < 4:
            raise PacketError(f"{what} {tlv_type} has length {length} < 4")
        if length > end - offset:
            raise PacketError(f"{what} {tlv_type} of length {length} runs past its chunk")
        yield tlv_type, offset + 4, offset + length
        offset += pad4(length)


def decode_params(data: bytes, start: int = 0, end: int | None = None) -> tuple[Param, ...]:
    """Decode the parameters in ``data[start:end]`` (the whole of ``data`` by default).

    Raises :class:`PacketError` on a parameter length below 4 or past the end, or leftover
    bytes that cannot form a parameter. Unknown types are kept.
    """
    if end is None:
        end = len(data)
    return tuple(
        Param(tlv_type, bytes(data[value_start:value_end]))
        for tlv_type, value_start, value_end in iter_tlvs(data, start, end, "parameter")
    )


def encode_params(params: Sequence[Param]) -> bytes:
    """Encode parameters, each padded to a multiple of 4 bytes (RFC 9260 section 3.2.1)."""
    parts: list[bytes] = []
    for param in params:
        length = 4 + len(param.value)
        if length > 0xFFFF:
            raise ValueError(f"parameter {param.type} is too long ({length} bytes)")
        parts += (TLV_HEADER.pack(param.type, length), param.value, padding(length))
    return b"".join(parts)


def ipv4_address(host: str) -> Param:
    """An IPv4 Address parameter (RFC 9260 section 3.3.2.1) for a dotted-quad ``host``."""
    return Param(ParamType.IPV4_ADDRESS, ipaddress.IPv4Address(host).packed)


def ipv6_address(host: str) -> Param:
    """An IPv6 Address parameter (RFC 9260 section 3.3.2.1) for ``host``."""
    return Param(ParamType.IPV6_ADDRESS, ipaddress.IPv6Address(host).packed)


def state_cookie(cookie: bytes) -> Param:
    """The State Cookie parameter of an INIT ACK (RFC 9260 section 3.3.3)."""
    return Param(ParamType.STATE_COOKIE, cookie)


def cookie_preservative(ms: int) -> Param:
    """A Cookie Preservative parameter asking for ``ms`` more milliseconds of cookie life
    (RFC 9260 section 3.3.2.1, 5.2.6)."""
    return Param(ParamType.COOKIE_PRESERVATIVE, _U32.pack(ms))


def supported_address_types(types: Sequence[int]) -> Param:
    """A Supported Address Types parameter listing parameter types such as
    ``ParamType.IPV4_ADDRESS`` (RFC 9260 section 3.3.2.1)."""
    return Param(ParamType.SUPPORTED_ADDRESS_TYPES, b"".join(_U16.pack(t) for t in types))


def forward_tsn_supported() -> Param:
    """A Forward-TSN-Supported parameter: we do PR-SCTP (RFC 3758 section 3.1)."""
    return Param(ParamType.FORWARD_TSN_SUPPORTED, b"")


def supported_extensions(chunk_types: Sequence[int]) -> Param:
    """A Supported Extensions parameter listing chunk types (RFC 5061 section 4.2.7)."""
    return Param(ParamType.SUPPORTED_EXTENSIONS, bytes(chunk_types))


def cookie_preservative_ms(param: Param) -> int | None:
    """The suggested cookie life increment (ms) of a Cookie Preservative parameter, or None
    when the parameter is not one or its value is not 4 bytes."""
    if param.type == ParamType.COOKIE_PRESERVATIVE and len(param.value) == 4:
        ms: int = _U32.unpack(param.value)[0]
        return ms
    return None


def address_types_of(param: Param) -> tuple[int, ...] | None:
    """The address types listed by a Supported Address Types parameter, or None when the
    parameter is not one or its value has an odd length."""
    if param.type != ParamType.SUPPORTED_ADDRESS_TYPES or len(param.value) % 2:
        return None
    return tuple(t for (t,) in _U16.iter_unpack(param.value))


def address_of(param: Param) -> str | None:
    """The host string of an IPv4 / IPv6 Address parameter, or None for any other parameter
    or an address parameter whose value has the wrong size."""
    if param.type == ParamType.IPV4_ADDRESS and len(param.value) == 4:
        return str(ipaddress.IPv4Address(param.value))
    if param.type == ParamType.IPV6_ADDRESS and len(param.value) == 16:
        return str(ipaddress.IPv6Address(param.value))
    return None
