"""The State Cookie: round trip, MAC checks, lifetime (RFC 9260 sections 5.1.3, 5.1.5)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sctpmh.core.cookie import MAC_SIZE, CookieJar, CookieState, Stale

SECRET = bytes(range(32))


def make_state(**changes: object) -> CookieState:
    fields: dict[str, object] = {
        "local_tag": 0x11223344,
        "peer_tag": 0xAABBCCDD,
        "local_initial_tsn": 7,
        "peer_initial_tsn": 0xFFFFFFFF,
        "outbound_streams": 10,
        "inbound_streams": 65535,
        "peer_rwnd": 131072,
        "created": 100.0,
        "lifetime": 60.0,
        "peer_addresses": ("10.0.0.1", "fd00::1"),
        "local_tie_tag": 5,
        "peer_tie_tag": 6,
        "peer_port": 5001,
    }
    fields.update(changes)
    return CookieState(**fields)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    jar = CookieJar(SECRET)
    state = make_state()
    assert jar.open(jar.make(state), now=100.5) == state


def test_any_flipped_bit_is_refused() -> None:
    # RFC 9260 section 5.1.5 step 1: the MAC covers every byte of the cookie.
    jar = CookieJar(SECRET)
    cookie = jar.make(make_state())
    for index in range(len(cookie)):
        tampered = bytearray(cookie)
        tampered[index] ^= 0x01
        assert jar.open(bytes(tampered), now=100.5) is None, f"byte {index}"


def test_another_secret_does_not_open_it() -> None:
    cookie = CookieJar(SECRET).make(make_state())
    assert CookieJar(bytes(32)).open(cookie, now=100.5) is None


@pytest.mark.parametrize("cookie", [b"", b"\x01" * 10, b"\x00" * MAC_SIZE, b"x" * 200])
def test_garbage_is_refused(cookie: bytes) -> None:
    assert CookieJar(SECRET).open(cookie, now=0.0) is None


def test_expired_cookie_reports_its_staleness() -> None:
    # RFC 9260 section 5.1.5 step 3: Stale Cookie carries how late it was, in microseconds.
    jar = CookieJar(SECRET)
    state = make_state(created=100.0, lifetime=60.0)
    cookie = jar.make(state)
    assert jar.open(cookie, now=160.0) == state  # the last valid instant
    stale = jar.open(cookie, now=162.5)
    assert isinstance(stale, Stale)
    assert stale.staleness_us == 2_500_000
    assert stale.state == state


def test_short_secret_is_rejected() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        CookieJar(b"short")


@settings(max_examples=60, deadline=None)
@given(
    tags=st.tuples(*[st.integers(0, 2**32 - 1)] * 4),
    streams=st.tuples(st.integers(1, 65535), st.integers(1, 65535)),
    addresses=st.lists(st.text(max_size=40), max_size=5),
    garbage=st.binary(max_size=80),
)
def test_round_trip_and_garbage_properties(
    tags: tuple[int, int, int, int],
    streams: tuple[int, int],
    addresses: list[str],
    garbage: bytes,
) -> None:
    jar = CookieJar(SECRET)
    state = make_state(
        local_tag=tags[0],
        peer_tag=tags[1],
        local_initial_tsn=tags[2],
        peer_initial_tsn=tags[3],
        outbound_streams=streams[0],
        inbound_streams=streams[1],
        peer_addresses=tuple(a for a in addresses if len(a.encode()) <= 255),
    )
    assert jar.open(jar.make(state), now=101.0) == state
    # Anything that is not one of ours is refused without raising.
    assert jar.open(garbage, now=101.0) is None
