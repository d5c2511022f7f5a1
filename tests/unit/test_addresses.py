"""Tests for sctpmh.addresses: parsing, validation and resolution of endpoint addresses."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import inspect
import ipaddress
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sctpmh.addresses as addresses_module
from sctpmh.addresses import (
    Endpoint,
    HostPort,
    parse_addresses,
    parse_and_resolve,
    resolve,
    resolve_numeric,
)
from sctpmh.errors import AddressError, SctpmhError

# No example database: the tests must not leave files behind in the checkout.
quick = settings(database=None, deadline=None, max_examples=300)


def rejects(addrs: Any, item: object, port: Any = None, *, local: bool = False) -> AddressError:
    """Assert parse_addresses refuses ``addrs`` and blames ``item``; return the error."""
    with pytest.raises(AddressError) as info:
        parse_addresses(addrs, port, local=local)
    error = info.value
    assert isinstance(error, ValueError)
    assert isinstance(error, SctpmhError)
    assert error.item == item
    assert type(error.item) is type(item)
    assert repr(item) in str(error)
    return error


def pairs(items: list[HostPort]) -> list[tuple[str, int]]:
    return [(item.host, item.port) for item in items]


MAPPED = str(ipaddress.ip_address("::ffff:1.2.3.4"))  # the spelling differs between Pythons

# --- accepted forms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addrs", "port", "expected"),
    [
        # one string, ";" or "," between items, stray whitespace anywhere around them
        (
            "192.168.35.10;192.168.45.10",
            4444,
            [("192.168.35.10", 4444), ("192.168.45.10", 4444)],
        ),
        ("10.0.0.1,10.0.0.2", 4444, [("10.0.0.1", 4444), ("10.0.0.2", 4444)]),
        (" 127.0.0.1 ; 127.0.0.2 ", 4444, [("127.0.0.1", 4444), ("127.0.0.2", 4444)]),
        ("127.0.0.1,  127.0.0.2", 4444, [("127.0.0.1", 4444), ("127.0.0.2", 4444)]),
        ("\t127.0.0.1\n", 4444, [("127.0.0.1", 4444)]),
        (
            "127.0.0.1;\n127.0.0.2,127.0.0.3",
            1,
            [("127.0.0.1", 1), ("127.0.0.2", 1), ("127.0.0.3", 1)],
        ),
        # trailing separators
        ("127.0.0.1;127.0.0.2;", 4444, [("127.0.0.1", 4444), ("127.0.0.2", 4444)]),
        ("127.0.0.1, ", 4444, [("127.0.0.1", 4444)]),
        ("a;b;; ,", 4444, [("a", 4444), ("b", 4444)]),
        # IPv4 with and without a port of its own
        ("1.2.3.4", 80, [("1.2.3.4", 80)]),
        ("1.2.3.4:4444", None, [("1.2.3.4", 4444)]),
        ("1.2.3.4:4444", 5555, [("1.2.3.4", 4444)]),  # the item's own port wins
        ("1.2.3.4 : 4444", None, [("1.2.3.4", 4444)]),
        ("1.2.3.4:0080", None, [("1.2.3.4", 80)]),
        ("1.2.3.4:1;1.2.3.5", 1, [("1.2.3.4", 1), ("1.2.3.5", 1)]),
        # IPv6: bare (never a port), bracketed, with zones, canonicalised
        ("::1", 4444, [("::1", 4444)]),
        ("2001:DB8:0::0001", 4444, [("2001:db8::1", 4444)]),
        ("2001:db8::1:2", 4444, [("2001:db8::1:2", 4444)]),  # last group is not a port
        ("fe80::1%eth0", 4444, [("fe80::1%eth0", 4444)]),
        ("fe80::1%2", 4444, [("fe80::1%2", 4444)]),
        ("[::1]", 4444, [("::1", 4444)]),
        ("[::1]:4444", None, [("::1", 4444)]),
        ("[ ::1 ]:4444", None, [("::1", 4444)]),
        ("[::1] : 4444", None, [("::1", 4444)]),
        ("[fe80::1%eth0]:4444", None, [("fe80::1%eth0", 4444)]),
        (
            "[fe80::1%eth0]:4444;[fe80::1%eth1]:4444",
            None,
            [("fe80::1%eth0", 4444), ("fe80::1%eth1", 4444)],
        ),
        ("::ffff:1.2.3.4", 4444, [(MAPPED, 4444)]),  # IPv4-mapped stays IPv6
        ("[::ffff:1.2.3.4]:9", None, [(MAPPED, 9)]),
        # hostnames, lower-cased, trailing dot kept
        ("localhost", 4444, [("localhost", 4444)]),
        ("LocalHost", 4444, [("localhost", 4444)]),
        ("host.example:4444", None, [("host.example", 4444)]),
        ("example.com.", 4444, [("example.com.", 4444)]),
        ("a-b.c1.example", 4444, [("a-b.c1.example", 4444)]),
        ("3com.example", 4444, [("3com.example", 4444)]),  # digits first in a label is fine
        ("xn--bcher-kva.example", 4444, [("xn--bcher-kva.example", 4444)]),
        ("a" * 63 + ".example", 4444, [("a" * 63 + ".example", 4444)]),
        (".".join(["a" * 63] * 3 + ["b" * 61]), 1, [(".".join(["a" * 63] * 3 + ["b" * 61]), 1)]),
        # mixed
        (
            "10.0.0.1:7, [2001:db8::1]:7 ; peer.example",
            7,
            [("10.0.0.1", 7), ("2001:db8::1", 7), ("peer.example", 7)],
        ),
        # ports at the edges of the range
        ("1.2.3.4", 1, [("1.2.3.4", 1)]),
        ("1.2.3.4", 65535, [("1.2.3.4", 65535)]),
        ("1.2.3.4:65535", None, [("1.2.3.4", 65535)]),
    ],
)
def test_string_forms(addrs: str, port: int | None, expected: list[tuple[str, int]]) -> None:
    assert pairs(parse_addresses(addrs, port)) == expected


@pytest.mark.parametrize(
    ("addrs", "port", "expected"),
    [
        # a single (host, port) socket address
        (("1.2.3.4", 4444), None, [("1.2.3.4", 4444)]),
        (("1.2.3.4", 4444), 5555, [("1.2.3.4", 4444)]),
        (("::1", 4444, 0, 0), None, [("::1", 4444)]),
        (("fe80::1", 4444, 0, 3), None, [("fe80::1%3", 4444)]),
        (("localhost", 4444), None, [("localhost", 4444)]),
        # a tuple of strings is a list
        (("1.2.3.4", "1.2.3.5"), 4444, [("1.2.3.4", 4444), ("1.2.3.5", 4444)]),
        (("1.2.3.4",), 4444, [("1.2.3.4", 4444)]),
        # lists of strings and tuples
        (["1.2.3.4"], 4444, [("1.2.3.4", 4444)]),
        (["1.2.3.4", " 1.2.3.5 "], 4444, [("1.2.3.4", 4444), ("1.2.3.5", 4444)]),
        (
            ["1.2.3.4", ("1.2.3.5", 4444), "[::1]:4444", ("::2", 4444, 0, 0)],
            4444,
            [("1.2.3.4", 4444), ("1.2.3.5", 4444), ("::1", 4444), ("::2", 4444)],
        ),
        ([("fe80::1", 4444, 0, 7)], None, [("fe80::1%7", 4444)]),
        ([("fe80::1%eth0", 4444, 0, 7)], None, [("fe80::1%eth0", 4444)]),  # written zone wins
        ([("fe80::1", 4444, 0xFFFFF, 0)], None, [("fe80::1", 4444)]),  # flowinfo ignored
        ([(" 1.2.3.4 ", 4444)], None, [("1.2.3.4", 4444)]),
        ([("2001:DB8::1", 4444)], None, [("2001:db8::1", 4444)]),
        # already parsed addresses are accepted back
        (HostPort("1.2.3.4", 4444), None, [("1.2.3.4", 4444)]),
        (Endpoint("::1", 4444), None, [("::1", 4444)]),
        (
            [HostPort("Host.Example", 4444), Endpoint("1.2.3.4", 4444)],
            None,
            [("host.example", 4444), ("1.2.3.4", 4444)],
        ),
    ],
)
def test_tuple_and_list_forms(
    addrs: Any, port: int | None, expected: list[tuple[str, int]]
) -> None:
    assert pairs(parse_addresses(addrs, port)) == expected


def test_any_iterable_is_accepted() -> None:
    def generate() -> Iterator[str]:
        yield "1.2.3.4"
        yield "1.2.3.5"

    assert pairs(parse_addresses(generate(), 9)) == [("1.2.3.4", 9), ("1.2.3.5", 9)]


def test_result_type() -> None:
    result = parse_addresses("1.2.3.4;localhost", 9)
    assert all(type(item) is HostPort for item in result)
    assert [item.is_numeric for item in result] == [True, False]
    assert [str(item) for item in result] == ["1.2.3.4:9", "localhost:9"]
    assert str(HostPort("::1", 9)) == "[::1]:9"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result[0].port = 10  # type: ignore[misc]


# --- local-only forms: wildcards and port 0 ---------------------------------------------------


@pytest.mark.parametrize(
    ("addrs", "port", "expected"),
    [
        ("0.0.0.0", 4444, [("0.0.0.0", 4444)]),
        ("::", 4444, [("::", 4444)]),
        ("[::]:4444", None, [("::", 4444)]),
        ("0:0::0", 4444, [("::", 4444)]),
        (("0.0.0.0", 4444), None, [("0.0.0.0", 4444)]),
        ("1.2.3.4", 0, [("1.2.3.4", 0)]),
        ("1.2.3.4:0", None, [("1.2.3.4", 0)]),
        ("[::]:0", None, [("::", 0)]),
        (("1.2.3.4", 0), None, [("1.2.3.4", 0)]),
        ("1.2.3.4;1.2.3.5", 0, [("1.2.3.4", 0), ("1.2.3.5", 0)]),
    ],
)
def test_local_only_forms(addrs: Any, port: int | None, expected: list[tuple[str, int]]) -> None:
    assert pairs(parse_addresses(addrs, port, local=True)) == expected


@pytest.mark.parametrize(
    ("addrs", "port", "item"),
    [
        ("0.0.0.0", 4444, "0.0.0.0"),
        ("::", 4444, "::"),
        ("[::]:4444", None, "[::]:4444"),
        ("1.2.3.4;0:0::0", 4444, "0:0::0"),
        (("0.0.0.0", 4444), None, ("0.0.0.0", 4444)),
        ("1.2.3.4:0", None, "1.2.3.4:0"),
        ("1.2.3.4", 0, 0),
        (("1.2.3.4", 0), None, ("1.2.3.4", 0)),
    ],
)
def test_local_only_forms_are_refused_for_remote(addrs: Any, port: Any, item: object) -> None:
    rejects(addrs, item, port)


def test_wildcard_message_says_why() -> None:
    assert "wildcard" in str(rejects("0.0.0.0", "0.0.0.0", 1))
    assert "local" in str(rejects("1.2.3.4", 0, 0))


# --- rejected items -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",
        "123",
        "127.1",
        "0x7f000001",
        "0x7f.0.0.1",
        "::g",
        "1::2::3",
        "[1.2.3.4]",
        "[1.2.3.4]:80",
        "[localhost]",
        "[localhost]:80",
        "[]",
        "[::1",
        "::1]",
        "[::1]x",
        "[::1]]",
        "[[::1]]",
        "[::1]:",
        "[::1]:x",
        "1.2.3.4:",
        "1.2.3.4:abc",
        "1.2.3.4:+80",
        "1.2.3.4:-80",
        "1.2.3.4:8 0",
        "1.2.3.4:\u0668\u0660",  # Arabic-Indic digits are digits to str.isdigit, not to us
        "1.2.3.4:\u00b2",
        ":80",
        "1.2.3.4%eth0",
        "fe80::1%",
        "fe80::1%a b",
        "fe80::1%eth/0",
        "fe80::1%" + "e" * 16,
        "fe80::1%99999999999",
        "fe80::1%4294967296",
        "fe80::1%eth0:4444",  # a bare IPv6 address cannot carry a port
        "a b",
        "a_b.example",
        "-a.example",
        "a-.example",
        "a..b",
        ".a",
        "..",
        "a" * 64 + ".example",
        ".".join(["a" * 63] * 3 + ["b" * 62]),
        "b\u00fccher.example",
        "host\x00.example",
        "host.example:4444:1",
        "1.2.3.4;1.2.3.5",  # separators only split a single string, not list items
        "",
        "   ",
    ],
)
def test_bad_strings_in_a_list(bad: str) -> None:
    # Inside a list the item is the string exactly as given.
    rejects(["10.9.8.7", bad], bad, 4444, local=True)


@pytest.mark.parametrize(
    "bad",
    [
        "1.2.3",
        "256.1.1.1",
        "::g",
        "[1.2.3.4]",
        "a b",
        "[::1",
        "1.2.3.4:abc",
        "fe80::1%eth0:4444",
    ],
)
def test_bad_items_in_a_string(bad: str) -> None:
    # Inside a separated string the item is the stripped piece.
    rejects(f"10.9.8.7; {bad} ;10.9.8.6", bad, 4444, local=True)
    rejects(bad, bad, 4444, local=True)


def test_numeric_dotted_names_are_bad_ipv4() -> None:
    assert "not a valid IPv4 address" in str(rejects("1.2.3", "1.2.3", 1))
    assert "not a valid IPv4 address" in str(rejects("256.1.1.1", "256.1.1.1", 1))


def test_unbracketed_ipv6_with_port_hints_at_brackets() -> None:
    assert "[address]:port" in str(rejects("2001:db8::1:4444x", "2001:db8::1:4444x", 1))


@pytest.mark.parametrize(
    "bad",
    [
        5,
        1.5,
        ["1.2.3.4", 80],
        {"1.2.3.4"},
        None,
        b"1.2.3.4",
        bytearray(b"1.2.3.4"),
        ("1.2.3.4",),
        ("1.2.3.4", 80, 0),
        ("1.2.3.4", 80, 0, 0, 0),
        (b"1.2.3.4", 80),
        (1234, 80),
        ("1.2.3.4", "80"),
        ("1.2.3.4", 80.0),
        ("1.2.3.4", True),
        ("1.2.3.4", -1),
        ("1.2.3.4", 65536),
        ("1.2.3.4", 80, 0, 0),  # 4-tuples are IPv6 only
        ("localhost", 80, 0, 0),
        ("::1", 80, -1, 0),
        ("::1", 80, 0x100000, 0),
        ("::1", 80, 0, -1),
        ("::1", 80, 0, 2**32),
        ("::1", 80, 0, True),
        ("::1", 80, "0", 0),
        ("[::1]", 80),
        ("1.2.3.4:80", 80),
        HostPort("a b", 80),
        HostPort("1.2.3.4", 0),
    ],
)
def test_bad_objects_in_a_list(bad: object) -> None:
    rejects(["10.9.8.7", bad], bad, 80)


@pytest.mark.parametrize(
    "bad", [5, 1.5, b"1.2.3.4", bytearray(b"x"), memoryview(b"x"), object(), True]
)
def test_bad_top_level_objects(bad: object) -> None:
    rejects(bad, bad, 80)


@pytest.mark.parametrize("empty", [None, "", "   ", ";", " , ; ", [], (), iter([])])
def test_no_addresses(empty: object) -> None:
    with pytest.raises(AddressError, match="no addresses given") as info:
        parse_addresses(empty, 80)  # type: ignore[arg-type]
    assert info.value.item is empty


@pytest.mark.parametrize("addrs", ["a;;b", ";a", " ; a", "a,;b"])
def test_inner_empty_items_are_refused(addrs: str) -> None:
    assert "empty" in str(rejects(addrs, addrs, 80))


# --- ports ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "local", "ok"),
    [
        (0, False, False),
        (0, True, True),
        (1, False, True),
        (65535, False, True),
        (65535, True, True),
        (65536, False, False),
        (65536, True, False),
        (-1, False, False),
        (-1, True, False),
        (True, False, False),
        (False, True, False),
        ("80", False, False),
        ("80", True, False),
        (80.0, False, False),
    ],
)
def test_port_argument(port: Any, local: bool, ok: bool) -> None:
    if ok:
        assert pairs(parse_addresses("1.2.3.4", port, local=local)) == [("1.2.3.4", port)]
    else:
        rejects("1.2.3.4", port, port, local=local)


def test_port_argument_is_checked_even_when_unused() -> None:
    rejects("1.2.3.4:80", "80", "80")


def test_str_port_argument_must_be_int() -> None:
    assert "must be an int" in str(rejects("1.2.3.4", "80", "80"))


@pytest.mark.parametrize(
    ("item", "local", "ok"),
    [
        ("1.2.3.4:0", False, False),
        ("1.2.3.4:0", True, True),
        ("1.2.3.4:00000", True, True),
        ("1.2.3.4:1", False, True),
        ("1.2.3.4:65535", False, True),
        ("1.2.3.4:65536", True, False),
        ("1.2.3.4:99999999999999999999", True, False),
        ("1.2.3.4:" + "9" * 5000, True, False),  # longer than int()'s default digit limit
        ("1.2.3.4:" + "0" * 5000 + "80", False, True),
        ("[::1]:65536", True, False),
    ],
)
def test_item_ports(item: str, local: bool, ok: bool) -> None:
    if ok:
        assert len(parse_addresses(item, local=local)) == 1
    else:
        rejects(item, item, local=local)


def test_missing_port() -> None:
    assert "no port" in str(rejects("1.2.3.4", "1.2.3.4"))
    rejects("1.2.3.4:80;1.2.3.5", "1.2.3.5")
    rejects(["localhost"], "localhost")


def test_mismatched_ports() -> None:
    error = rejects("127.0.0.1:4444;127.0.0.2:5000", "127.0.0.2:5000")
    assert str(error) == (
        "'127.0.0.2:5000' has port 5000 but the other addresses use 4444; "
        "an SCTP endpoint has one port for all its addresses"
    )


@pytest.mark.parametrize(
    ("addrs", "port", "item"),
    [
        (["1.2.3.4:5000", "1.2.3.5"], 4444, "1.2.3.5"),
        (["1.2.3.4", "1.2.3.5:5000", "1.2.3.6:6000"], 4444, "1.2.3.5:5000"),
        (["[::1]:1", ("::2", 2)], None, ("::2", 2)),
        ([("1.2.3.4", 1), ("1.2.3.5", 2)], None, ("1.2.3.5", 2)),
        ([HostPort("1.2.3.4", 1), Endpoint("1.2.3.5", 2)], None, Endpoint("1.2.3.5", 2)),
    ],
)
def test_mismatched_ports_in_lists(addrs: Any, port: int | None, item: object) -> None:
    assert "one port" in str(rejects(addrs, item, port))


@pytest.mark.parametrize(
    ("addrs", "item"),
    [
        ("1.2.3.4;1.2.3.4", "1.2.3.4"),
        ("1.2.3.4;1.2.3.4:80", "1.2.3.4:80"),
        ("::1;[::1]", "[::1]"),
        ("::1;0:0::1", "0:0::1"),
        ("2001:db8::1,[2001:DB8::0001]:80", "[2001:DB8::0001]:80"),
        ("fe80::1%eth0;fe80::1%eth0", "fe80::1%eth0"),
        ("localhost;LOCALHOST", "LOCALHOST"),
        ([("1.2.3.4", 80), "1.2.3.4:80"], "1.2.3.4:80"),
        (["a", "b", "a"], "a"),
    ],
)
def test_duplicates(addrs: Any, item: object) -> None:
    assert "duplicate" in str(rejects(addrs, item, 80))


def test_not_duplicates() -> None:
    # Different zones are different addresses; a hostname and a literal are told apart only
    # by resolve().
    assert len(parse_addresses("fe80::1%eth0;fe80::1%eth1;fe80::1", 80)) == 3
    assert len(parse_addresses("localhost;127.0.0.1", 80)) == 2


# --- Endpoint -------------------------------------------------------------------------------


def test_endpoint_ipv4() -> None:
    endpoint = Endpoint("1.2.3.4", 4444)
    assert endpoint.family is socket.AF_INET
    assert endpoint.sockaddr() == ("1.2.3.4", 4444)
    assert str(endpoint) == "1.2.3.4:4444"


def test_endpoint_ipv6() -> None:
    endpoint = Endpoint("::1", 4444)
    assert endpoint.family is socket.AF_INET6
    assert endpoint.sockaddr() == ("::1", 4444, 0, 0)
    assert str(endpoint) == "[::1]:4444"


def test_endpoint_canonicalises() -> None:
    assert Endpoint("2001:DB8:0::0001", 1).host == "2001:db8::1"
    assert Endpoint("::0001", 1) == Endpoint("::1", 1)
    assert hash(Endpoint("::0001", 1)) == hash(Endpoint("::1", 1))
    assert Endpoint("::ffff:1.2.3.4", 1).family is socket.AF_INET6


def test_endpoint_numeric_zone() -> None:
    endpoint = Endpoint("fe80::1%5", 80)
    assert endpoint.sockaddr() == ("fe80::1", 80, 0, 5)
    assert str(endpoint) == "[fe80::1%5]:80"


def test_endpoint_named_zone() -> None:
    index, name = socket.if_nameindex()[0]
    endpoint = Endpoint(f"fe80::1%{name}", 80)
    assert endpoint.host == f"fe80::1%{name}"
    assert endpoint.sockaddr() == ("fe80::1", 80, 0, index)
    assert str(endpoint) == f"[fe80::1%{name}]:80"


def test_endpoint_unknown_zone() -> None:
    endpoint = Endpoint("fe80::1%nosuchif0", 80)
    with pytest.raises(AddressError, match="nosuchif0") as info:
        endpoint.sockaddr()
    assert isinstance(info.value.__cause__, OSError)


def test_endpoint_port_zero_is_allowed() -> None:
    assert Endpoint("0.0.0.0", 0).sockaddr() == ("0.0.0.0", 0)


@pytest.mark.parametrize(
    ("host", "port", "item"),
    [
        ("localhost", 80, "localhost"),
        ("[::1]", 80, "[::1]"),
        ("1.2.3.4:80", 80, "1.2.3.4:80"),
        ("1.2.3.4%eth0", 80, "1.2.3.4%eth0"),
        ("fe80::1%a b", 80, "fe80::1%a b"),
        (b"1.2.3.4", 80, b"1.2.3.4"),
        ("1.2.3.4", 65536, 65536),
        ("1.2.3.4", -1, -1),
        ("1.2.3.4", True, True),
        ("1.2.3.4", "80", "80"),
    ],
)
def test_endpoint_rejects(host: Any, port: Any, item: object) -> None:
    with pytest.raises(AddressError) as info:
        Endpoint(host, port)
    assert info.value.item == item
    assert repr(item) in str(info.value)


def test_endpoint_is_frozen() -> None:
    endpoint = Endpoint("1.2.3.4", 80)
    with pytest.raises(dataclasses.FrozenInstanceError):
        endpoint.port = 81  # type: ignore[misc]


@pytest.mark.parametrize(
    ("sockaddr", "expected"),
    [
        (("1.2.3.4", 80), Endpoint("1.2.3.4", 80)),
        (("::1", 80), Endpoint("::1", 80)),
        (("::1", 80, 0, 0), Endpoint("::1", 80)),
        (("::1", 80, 12345, 0), Endpoint("::1", 80)),
        (("fe80::1", 80, 0, 3), Endpoint("fe80::1%3", 80)),
        (("fe80::1%eth0", 80, 0, 3), Endpoint("fe80::1%eth0", 80)),
        (("2001:DB8::0001", 80, 0, 0), Endpoint("2001:db8::1", 80)),
        (("0.0.0.0", 0), Endpoint("0.0.0.0", 0)),
    ],
)
def test_from_sockaddr(sockaddr: Any, expected: Endpoint) -> None:
    assert Endpoint.from_sockaddr(sockaddr) == expected


@pytest.mark.parametrize(
    "sockaddr",
    [
        "1.2.3.4:80",
        ["1.2.3.4", 80],
        ("1.2.3.4",),
        ("1.2.3.4", 80, 0),
        ("1.2.3.4", 80, 0, 0),
        (b"1.2.3.4", 80),
        ("localhost", 80),
        ("::1", 80, 0, -1),
        ("::1", 80, None, 0),
        ("::1", "80"),
    ],
)
def test_from_sockaddr_rejects(sockaddr: Any) -> None:
    with pytest.raises(AddressError) as info:
        Endpoint.from_sockaddr(sockaddr)
    assert info.value.item is sockaddr
    assert repr(sockaddr) in str(info.value)


@pytest.mark.parametrize(
    "endpoint",
    [
        Endpoint("1.2.3.4", 80),
        Endpoint("::1", 80),
        Endpoint("fe80::1%7", 65535),
        Endpoint("0.0.0.0", 0),
    ],
)
def test_sockaddr_round_trip(endpoint: Endpoint) -> None:
    assert Endpoint.from_sockaddr(endpoint.sockaddr()) == endpoint


@pytest.mark.parametrize(
    ("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]
)
def test_from_real_socket(family: socket.AddressFamily, host: str) -> None:
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, 0))
        except OSError as exc:  # pragma: no cover - depends on the host's IPv6 setup
            pytest.skip(f"cannot bind {host}: {exc}")
        endpoint = Endpoint.from_sockaddr(sock.getsockname())
    assert endpoint.host == host
    assert endpoint.family is family
    assert endpoint.port > 0


# --- resolve_numeric ------------------------------------------------------------------------


def test_resolve_numeric() -> None:
    items = parse_addresses("1.2.3.4;[fe80::1%2]", 80)
    assert resolve_numeric(items) == [Endpoint("1.2.3.4", 80), Endpoint("fe80::1%2", 80)]


def test_resolve_numeric_local() -> None:
    items = parse_addresses("0.0.0.0", 0, local=True)
    assert resolve_numeric(items, local=True) == [Endpoint("0.0.0.0", 0)]
    with pytest.raises(AddressError):
        resolve_numeric(items)


def test_resolve_numeric_refuses_hostnames() -> None:
    with pytest.raises(AddressError, match="needs DNS resolution") as info:
        resolve_numeric(parse_addresses("1.2.3.4;localhost", 80))
    assert info.value.item == "localhost"
    assert repr("localhost") in str(info.value)


def test_resolve_numeric_rechecks_hand_made_items() -> None:
    with pytest.raises(AddressError, match="no addresses given"):
        resolve_numeric([])
    with pytest.raises(AddressError, match="duplicate"):
        resolve_numeric([HostPort("::1", 1), HostPort("0::1", 1)])
    with pytest.raises(AddressError, match="one port"):
        resolve_numeric([HostPort("::1", 1), HostPort("::2", 2)])


# --- resolve --------------------------------------------------------------------------------

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]


def info(host: str, port: int, family: int | None = None, scope_id: int = 0) -> AddrInfo:
    if family is None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockaddr: tuple[Any, ...] = (
        (host, port, 0, scope_id) if family == socket.AF_INET6 else (host, port)
    )
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)


class FakeLoop:
    """Stands in for an event loop: answers getaddrinfo from a table, records the calls."""

    def __init__(self, table: dict[str, list[AddrInfo] | OSError]) -> None:
        self.table = table
        self.calls: list[tuple[str, int, int]] = []

    async def getaddrinfo(
        self, host: str, port: int, *, type: int = 0, **kwargs: object
    ) -> list[AddrInfo]:
        self.calls.append((host, port, type))
        await asyncio.sleep(0)
        answer = self.table[host]
        if isinstance(answer, OSError):
            raise answer
        return answer


def as_loop(fake: FakeLoop) -> asyncio.AbstractEventLoop:
    return cast(asyncio.AbstractEventLoop, fake)


def test_resolve_is_async() -> None:
    assert inspect.iscoroutinefunction(resolve)
    assert inspect.iscoroutinefunction(parse_and_resolve)


async def test_resolve_localhost() -> None:
    endpoints = await resolve(parse_addresses("localhost", 4444))
    assert endpoints
    assert len(set(endpoints)) == len(endpoints)
    for endpoint in endpoints:
        assert ipaddress.ip_address(endpoint.host).is_loopback
        assert endpoint.port == 4444


async def test_parse_and_resolve_localhost_with_literal() -> None:
    endpoints = await parse_and_resolve("localhost;127.0.0.1", 4444)
    # Whatever localhost expands to, the literal it repeats is dropped silently.
    assert endpoints.count(Endpoint("127.0.0.1", 4444)) == 1
    assert all(ipaddress.ip_address(e.host).is_loopback for e in endpoints)


async def test_resolve_unknown_host() -> None:
    # .invalid never resolves (RFC 6761 section 6.4); without DNS it fails all the same.
    with pytest.raises(AddressError) as info_:
        await parse_and_resolve("no-such-host.invalid", 4444)
    assert info_.value.item == "no-such-host.invalid"
    assert repr("no-such-host.invalid") in str(info_.value)
    assert isinstance(info_.value.__cause__, OSError)


async def test_resolve_numeric_items_need_no_dns() -> None:
    fake = FakeLoop({})
    items = parse_addresses("1.2.3.4;[::1]", 80)
    assert await resolve(items, loop=as_loop(fake)) == [
        Endpoint("1.2.3.4", 80),
        Endpoint("::1", 80),
    ]
    assert fake.calls == []


async def test_resolve_expands_every_address_in_order() -> None:
    fake = FakeLoop(
        {
            "multi.example": [
                info("10.0.0.2", 80),
                info("2001:db8::2", 80),
                info("10.0.0.2", 80),  # getaddrinfo repeats addresses across socket types
                info("10.0.0.3", 80),
                (socket.AF_UNIX, socket.SOCK_STREAM, 0, "", ("/x",)),  # ignored
            ],
            "other.example": [info("10.0.0.3", 80), info("10.0.0.4", 80)],
        }
    )
    items = parse_addresses("10.0.0.1;multi.example;10.0.0.2;other.example", 80)
    endpoints = await resolve(items, loop=as_loop(fake))
    assert [str(e) for e in endpoints] == [
        "10.0.0.1:80",
        "10.0.0.2:80",
        "[2001:db8::2]:80",
        "10.0.0.3:80",
        "10.0.0.4:80",
    ]
    assert sorted(fake.calls) == [
        ("multi.example", 80, socket.SOCK_STREAM),
        ("other.example", 80, socket.SOCK_STREAM),
    ]


async def test_resolve_literal_before_hostname() -> None:
    fake = FakeLoop({"a.example": [info("10.0.0.1", 80), info("10.0.0.2", 80)]})
    items = parse_addresses("10.0.0.2;a.example", 80)
    endpoints = await resolve(items, loop=as_loop(fake))
    assert endpoints == [Endpoint("10.0.0.2", 80), Endpoint("10.0.0.1", 80)]


async def test_resolve_keeps_zone_of_link_local_answers() -> None:
    fake = FakeLoop({"ll.example": [info("fe80::1", 80, scope_id=3)]})
    endpoints = await resolve([HostPort("ll.example", 80)], loop=as_loop(fake))
    assert endpoints == [Endpoint("fe80::1%3", 80)]
    assert endpoints[0].sockaddr() == ("fe80::1", 80, 0, 3)


async def test_resolve_wildcard_answer() -> None:
    fake = FakeLoop({"blocked.example": [info("0.0.0.0", 80)]})
    items = [HostPort("blocked.example", 80)]
    with pytest.raises(AddressError, match="wildcard") as info_:
        await resolve(items, loop=as_loop(fake))
    assert info_.value.item == "blocked.example"
    assert await resolve(items, local=True, loop=as_loop(fake)) == [Endpoint("0.0.0.0", 80)]


async def test_resolve_empty_answer() -> None:
    fake = FakeLoop({"empty.example": [(socket.AF_UNIX, socket.SOCK_STREAM, 0, "", ("/x",))]})
    with pytest.raises(AddressError, match="no IPv4 or IPv6") as info_:
        await resolve([HostPort("empty.example", 80)], loop=as_loop(fake))
    assert info_.value.item == "empty.example"


async def test_resolve_reports_first_failure_in_item_order() -> None:
    fake = FakeLoop(
        {
            "ok.example": [info("10.0.0.1", 80)],
            "bad1.example": socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "bad2.example": socket.gaierror(socket.EAI_AGAIN, "Temporary failure"),
        }
    )
    items = parse_addresses("ok.example;bad1.example;bad2.example", 80)
    with pytest.raises(AddressError, match="Name or service not known") as info_:
        await resolve(items, loop=as_loop(fake))
    assert info_.value.item == "bad1.example"
    assert isinstance(info_.value.__cause__, socket.gaierror)


async def test_resolve_rechecks_hand_made_items() -> None:
    fake = FakeLoop({})
    with pytest.raises(AddressError, match="no addresses given"):
        await resolve([], loop=as_loop(fake))
    with pytest.raises(AddressError) as info_:
        await resolve([HostPort("a b", 80)], loop=as_loop(fake))
    assert info_.value.item == HostPort("a b", 80)
    with pytest.raises(AddressError):
        await resolve([HostPort("1.2.3.4", 0)], loop=as_loop(fake))
    assert await resolve([HostPort("1.2.3.4", 0)], local=True, loop=as_loop(fake)) == [
        Endpoint("1.2.3.4", 0)
    ]
    assert fake.calls == []


async def test_parse_and_resolve_numeric() -> None:
    assert await parse_and_resolve(("::1", 9)) == [Endpoint("::1", 9)]
    assert await parse_and_resolve("[::]:0", local=True) == [Endpoint("::", 0)]
    with pytest.raises(AddressError):
        await parse_and_resolve("[::]:0")


# --- module hygiene -------------------------------------------------------------------------


def test_public_names() -> None:
    for name in addresses_module.__all__:
        assert hasattr(addresses_module, name), name
    for name in ("Endpoint", "HostPort", "parse_addresses", "resolve", "resolve_numeric"):
        assert name in addresses_module.__all__
        assert inspect.getdoc(getattr(addresses_module, name))


def test_is_a_leaf_module() -> None:
    tree = ast.parse(Path(addresses_module.__file__ or "").read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    outside = {
        name
        for name in imported
        if name.split(".")[0] not in sys.stdlib_module_names and name != "sctpmh.errors"
    }
    assert outside == set()


# --- properties -----------------------------------------------------------------------------

whitespace = st.sampled_from(["", " ", "  ", "\t", "\n", " \t "])


@st.composite
def address_lists(draw: st.DrawFn) -> tuple[str, int | None, bool, list[tuple[str, int]]]:
    """A separated string of distinct addresses, with the port and result it should give."""
    local = draw(st.booleans())
    ips = draw(
        st.lists(
            st.ip_addresses().filter(lambda ip: local or not ip.is_unspecified),
            min_size=1,
            max_size=8,
            unique_by=str,
        )
    )
    port = draw(st.integers(1, 65535))
    pass_port = draw(st.booleans())
    pieces = []
    for ip in ips:
        forms = ["own port"] + (["bare"] if pass_port else [])
        if ip.version == 6:
            forms.append("brackets with own port")
            if pass_port:
                forms.append("brackets")
        form = draw(st.sampled_from(forms))
        text = {
            "bare": str(ip),
            "own port": f"{ip}:{port}" if ip.version == 4 else f"[{ip}]:{port}",
            "brackets": f"[{draw(whitespace)}{ip}{draw(whitespace)}]",
            "brackets with own port": f"[{ip}]{draw(whitespace)}:{draw(whitespace)}{port}",
        }[form]
        pieces.append(draw(whitespace) + text + draw(whitespace))
    joined = ""
    for index, piece in enumerate(pieces):
        if index:
            joined += draw(st.sampled_from([";", ","]))
        joined += piece
    if draw(st.booleans()):
        joined += draw(st.sampled_from([";", ","])) + draw(whitespace)
    expected = [(str(ip), port) for ip in ips]
    return joined, port if pass_port else None, local, expected


@quick
@given(case=address_lists())
def test_property_separated_strings_parse_back(
    case: tuple[str, int | None, bool, list[tuple[str, int]]],
) -> None:
    text, port, local, expected = case
    assert pairs(parse_addresses(text, port, local=local)) == expected


def check_outcome(addrs: object, port: object, local: bool) -> None:
    """parse_addresses either succeeds sensibly or raises AddressError naming the item."""
    error: AddressError | None
    try:
        result = parse_addresses(addrs, port, local=local)  # type: ignore[arg-type]
    except AddressError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        assert repr(error.item) in str(error)
        return
    assert result
    assert all(type(item) is HostPort for item in result)
    assert len({item.port for item in result}) == 1
    assert len(set(result)) == len(result)
    # What comes out is canonical: it parses back to itself.
    assert parse_addresses([str(item) for item in result], local=local) == result


@quick
@given(
    text=st.text() | st.text(alphabet="0123456789abcdefx:.[]%;, \t-_"),
    port=st.none() | st.integers(-2, 70000),
    local=st.booleans(),
)
def test_property_random_text_only_raises_address_error(
    text: str, port: int | None, local: bool
) -> None:
    check_outcome(text, port, local)


junk = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789abcdef:.[]%", max_size=20),
    st.integers(),
    st.none(),
    st.binary(max_size=4),
    st.booleans(),
    st.floats(allow_nan=False),
    st.tuples(st.text(max_size=10), st.integers(-1, 70000)),
    st.tuples(st.text(alphabet="0123456789abcdef:.%", max_size=12), st.integers(-1, 70000)),
    st.tuples(st.text(max_size=10), st.integers(), st.integers(), st.integers()),
    st.lists(st.integers(), max_size=3).map(tuple),
)


@quick
@given(
    addrs=junk | st.lists(junk, max_size=5) | st.lists(junk, max_size=5).map(tuple),
    port=st.one_of(st.none(), st.integers(-2, 70000), st.text(max_size=3), st.booleans()),
    local=st.booleans(),
)
def test_property_random_objects_only_raise_address_error(
    addrs: object, port: object, local: bool
) -> None:
    check_outcome(addrs, port, local)


zones = (
    st.none()
    | st.integers(1, 2**32 - 1).map(str)
    | st.from_regex(r"[a-z][a-z0-9]{0,14}", fullmatch=True)
)


@quick
@given(ip=st.ip_addresses(), port=st.integers(1, 65535), zone=zones)
def test_property_endpoint_str_round_trip(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, zone: str | None
) -> None:
    host = f"{ip}%{zone}" if ip.version == 6 and zone is not None else str(ip)
    endpoint = Endpoint(host, port)
    parsed = parse_addresses(str(endpoint), local=True)
    assert parsed == [HostPort(endpoint.host, port)]
    assert resolve_numeric(parsed, local=True) == [endpoint]
    if zone is None or zone.isdigit():
        assert Endpoint.from_sockaddr(endpoint.sockaddr()) == endpoint
