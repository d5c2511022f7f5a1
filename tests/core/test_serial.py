"""Serial number arithmetic (RFC 1982; RFC 9260 section 1.6), wrap-around included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sctpmh.core.serial import (
    ssn_add,
    ssn_diff,
    ssn_le,
    ssn_lt,
    tsn_add,
    tsn_diff,
    tsn_le,
    tsn_lt,
)

TOP = 2**32 - 1


def test_tsn_lt_plain_and_across_the_wrap() -> None:
    assert tsn_lt(1, 2)
    assert not tsn_lt(2, 1)
    assert not tsn_lt(5, 5)
    # 2**32 - 1 is just before 0: the number space wraps.
    assert tsn_lt(TOP, 0)
    assert tsn_lt(TOP - 10, 5)
    assert not tsn_lt(0, TOP)
    assert not tsn_lt(5, TOP - 10)


def test_tsn_lt_half_space_apart_is_incomparable() -> None:
    # RFC 1982 section 3.2: exactly 2**31 apart is undefined; neither is less.
    assert not tsn_lt(0, 2**31)
    assert not tsn_lt(2**31, 0)
    # One less than half the space is still "ahead".
    assert tsn_lt(0, 2**31 - 1)
    assert not tsn_lt(0, 2**31 + 1)
    assert tsn_lt(2**31 + 1, 0)


def test_tsn_le() -> None:
    assert tsn_le(7, 7)
    assert tsn_le(TOP, 0)
    assert tsn_le(TOP, TOP)
    assert not tsn_le(0, TOP)


def test_tsn_add_wraps_modulo_2_32() -> None:
    assert tsn_add(TOP, 1) == 0
    assert tsn_add(TOP, 3) == 2
    assert tsn_add(0, -1) == TOP
    assert tsn_add(10, 5) == 15


def test_tsn_diff_is_signed_distance() -> None:
    assert tsn_diff(10, 15) == 5
    assert tsn_diff(15, 10) == -5
    assert tsn_diff(TOP, 1) == 2
    assert tsn_diff(1, TOP) == -2
    assert tsn_diff(0, 2**31) == 2**31  # the boundary is reported as positive
    assert tsn_diff(2**31, 0) == 2**31
    assert tsn_diff(0, 2**31 + 1) == -(2**31) + 1


def test_ssn_16_bit_arithmetic() -> None:
    assert ssn_add(65535, 1) == 0
    assert ssn_add(65534, 5) == 3
    assert ssn_lt(65535, 0)
    assert ssn_lt(65000, 100)
    assert not ssn_lt(100, 65000)
    assert not ssn_lt(3, 3)
    assert ssn_le(3, 3)
    assert not ssn_lt(0, 32768)
    assert ssn_diff(65535, 2) == 3
    assert ssn_diff(2, 65535) == -3


@given(st.integers(0, TOP), st.integers(1, 2**31 - 1))
def test_tsn_ahead_by_less_than_half_is_greater(a: int, n: int) -> None:
    b = tsn_add(a, n)
    assert tsn_lt(a, b)
    assert not tsn_lt(b, a)
    assert tsn_diff(a, b) == n
    assert tsn_diff(b, a) == -n


@given(st.integers(0, 65535), st.integers(1, 2**15 - 1))
def test_ssn_ahead_by_less_than_half_is_greater(a: int, n: int) -> None:
    b = ssn_add(a, n)
    assert ssn_lt(a, b)
    assert not ssn_lt(b, a)
    assert ssn_diff(a, b) == n
