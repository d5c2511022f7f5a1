"""Serial number arithmetic for TSNs (32-bit) and SSNs (16-bit).

RFC 9260 section 1.6: TSNs and SSNs wrap around, so they are compared with RFC 1982 serial
number arithmetic, never with plain ``<``. ``a < b`` holds when ``b`` is ahead of ``a`` by less
than half the number space. Two numbers exactly half the space apart are incomparable in
RFC 1982; here neither is "less" than the other, and :func:`tsn_diff` reports the distance as
``+2**31``. A compliant peer never has two live numbers that far apart (its window is far
smaller), so the choice only has to be consistent.
"""

from __future__ import annotations

__all__ = [
    "SSN_MODULUS",
    "TSN_MODULUS",
    "ssn_add",
    "ssn_diff",
    "ssn_le",
    "ssn_lt",
    "tsn_add",
    "tsn_diff",
    "tsn_le",
    "tsn_lt",
]

TSN_MODULUS = 1 << 32
"""Size of the TSN number space (RFC 9260 section 3.3.1: TSN is 32 bits)."""

SSN_MODULUS = 1 << 16
"""Size of the SSN number space (RFC 9260 section 3.3.1: SSN is 16 bits)."""

_TSN_MASK = TSN_MODULUS - 1
_TSN_HALF = TSN_MODULUS >> 1
_SSN_MASK = SSN_MODULUS - 1
_SSN_HALF = SSN_MODULUS >> 1


def tsn_lt(a: int, b: int) -> bool:
    """Whether TSN ``a`` comes before TSN ``b`` (RFC 1982; RFC 9260 section 1.6)."""
    return 0 < ((b - a) & _TSN_MASK) < _TSN_HALF


def tsn_le(a: int, b: int) -> bool:
    """Whether TSN ``a`` is ``b`` or comes before it."""
    return ((b - a) & _TSN_MASK) < _TSN_HALF


def tsn_add(a: int, n: int) -> int:
    """TSN ``a`` advanced by ``n`` (which may be negative), modulo 2**32."""
    return (a + n) & _TSN_MASK


def tsn_diff(a: int, b: int) -> int:
    """Signed serial distance ``b - a``, in ``(-2**31, 2**31]``."""
    d = (b - a) & _TSN_MASK
    return d - TSN_MODULUS if d > _TSN_HALF else d


def ssn_lt(a: int, b: int) -> bool:
    """Whether SSN ``a`` comes before SSN ``b`` (16-bit serial arithmetic)."""
    return 0 < ((b - a) & _SSN_MASK) < _SSN_HALF


def ssn_le(a: int, b: int) -> bool:
    """Whether SSN ``a`` is ``b`` or comes before it."""
    return ((b - a) & _SSN_MASK) < _SSN_HALF


def ssn_add(a: int, n: int) -> int:
    """SSN ``a`` advanced by ``n``, modulo 2**16."""
    return (a + n) & _SSN_MASK


def ssn_diff(a: int, b: int) -> int:
    """Signed serial distance ``b - a`` between SSNs, in ``(-2**15, 2**15]``."""
    d = (b - a) & _SSN_MASK
    return d - SSN_MODULUS if d > _SSN_HALF else d
