"""The key-value example's wire format (examples/kvproto.py): encodings, round trips and the
strict decoding that bad messages meet."""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

# examples/ is not a package: kv_server.py and kv_client.py import kvproto as a top-level
# module because Python puts the script's directory on sys.path. Do the same here.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

import kvproto
from kvproto import (
    Delete,
    Error,
    ErrorCode,
    Get,
    MessageType,
    Ok,
    ProtocolError,
    Put,
    Value,
    decode_request,
    decode_response,
    encode,
)

# --- the wire format, byte for byte ----------------------------------------------------------

# Each message with its PPID and payload exactly as kvproto's docstring lays them out.
ENCODINGS: list[tuple[kvproto.Request | kvproto.Response, int, bytes]] = [
    (Get(1, b"colour"), 0x4B560001, b"\x00\x00\x00\x01\x00\x06colour"),
    (Put(2, b"k", b"v\x00w"), 0x4B560002, b"\x00\x00\x00\x02\x00\x01kv\x00w"),
    (Put(0xFFFFFFFF, b"k", b""), 0x4B560002, b"\xff\xff\xff\xff\x00\x01k"),
    (Delete(0x01020304, b"k"), 0x4B560003, b"\x01\x02\x03\x04\x00\x01k"),
    (Ok(7), 0x4B560081, b"\x00\x00\x00\x07"),
    (Value(8, b"blue"), 0x4B560082, b"\x00\x00\x00\x08blue"),
    (Value(9, b""), 0x4B560082, b"\x00\x00\x00\x09"),
    (
        Error(10, ErrorCode.NOT_FOUND, "no such key"),
        0x4B5600FF,
        b"\x00\x00\x00\x0a\x00\x01no such key",
    ),
    (Error(0, ErrorCode.BAD_MESSAGE, "é"), 0x4B5600FF, b"\x00\x00\x00\x00\x00\x02\xc3\xa9"),
]


@pytest.mark.parametrize(("message", "ppid", "payload"), ENCODINGS)
def test_messages_encode_as_documented_and_decode_back(
    message: kvproto.Request | kvproto.Response, ppid: int, payload: bytes
) -> None:
    assert encode(message) == (ppid, payload)
    decode = decode_request if isinstance(message, Get | Put | Delete) else decode_response
    assert decode(ppid, payload) == message


def test_every_type_has_its_own_ppid_and_responses_have_bit_7() -> None:
    assert len({int(kind) for kind in MessageType}) == len(MessageType)
    requests = {MessageType.GET, MessageType.PUT, MessageType.DELETE}
    for kind in MessageType:
        assert bool(kind & 0x80) == (kind not in requests), kind


# --- round trips of any valid message ----------------------------------------------------------

request_ids = st.integers(1, kvproto.MAX_REQUEST_ID)
keys = st.binary(min_size=1, max_size=kvproto.MAX_KEY_SIZE)
values = st.binary(max_size=2048) | st.binary(
    min_size=kvproto.MAX_VALUE_SIZE - 1, max_size=kvproto.MAX_VALUE_SIZE
)
requests = st.one_of(
    st.builds(Get, request_ids, keys),
    st.builds(Put, request_ids, keys, values),
    st.builds(Delete, request_ids, keys),
)
responses = st.one_of(
    st.builds(Ok, request_ids),
    st.builds(Value, request_ids, values),
    st.builds(
        Error,
        st.integers(0, kvproto.MAX_REQUEST_ID),
        st.sampled_from(ErrorCode),
        st.text(max_size=kvproto.MAX_REASON_SIZE // 4),
    ),
)


@given(requests)
def test_any_request_round_trips(request: kvproto.Request) -> None:
    ppid, payload = encode(request)
    assert decode_request(ppid, payload) == request
    with pytest.raises(ProtocolError) as caught:
        decode_response(ppid, payload)
    assert caught.value.code is ErrorCode.UNKNOWN_TYPE


@given(responses)
def test_any_response_round_trips(response: kvproto.Response) -> None:
    ppid, payload = encode(response)
    assert decode_response(ppid, payload) == response
    with pytest.raises(ProtocolError) as caught:
        decode_request(ppid, payload)
    assert caught.value.code is ErrorCode.UNKNOWN_TYPE


ppids = st.sampled_from(MessageType) | st.integers(0, 0xFFFFFFFF)


@given(ppids, st.binary(max_size=64))
def test_decoding_any_bytes_gives_the_one_message_they_encode_or_a_protocol_error(
    ppid: int, payload: bytes
) -> None:
    # Strictness: what decodes re-encodes to exactly the same bytes (one encoding per
    # message, nothing ignored), and nothing else than ProtocolError ever escapes.
    for decode in (decode_request, decode_response):
        error: ProtocolError | None = None
        try:
            message = decode(ppid, payload)
        except ProtocolError as exc:
            error = exc
        else:
            assert encode(message) == (ppid, payload)
        if error is not None:
            assert error.code in ErrorCode
            assert str(error)


# --- bad messages: a clear ProtocolError, with the id when there is one ------------------------

GET, PUT, DELETE = MessageType.GET, MessageType.PUT, MessageType.DELETE
OK, VALUE, ERROR = MessageType.OK, MessageType.VALUE, MessageType.ERROR
ID5 = b"\x00\x00\x00\x05"


@pytest.mark.parametrize(
    ("ppid", "payload", "code", "request_id", "words"),
    [
        (46, ID5 + b"\x00\x01k", ErrorCode.UNKNOWN_TYPE, 5, "PPID 0x2e is not a request type"),
        (OK, ID5, ErrorCode.UNKNOWN_TYPE, 5, "not a request type"),
        (999, b"", ErrorCode.UNKNOWN_TYPE, 0, "not a request type"),
        (GET, b"", ErrorCode.BAD_MESSAGE, 0, "GET of 0 bytes is too short to hold a request id"),
        (PUT, b"\x00\x00\x01", ErrorCode.BAD_MESSAGE, 0, "too short to hold a request id"),
        (GET, b"\x00\x00\x00\x00\x00\x01k", ErrorCode.BAD_MESSAGE, 0, "GET has request id 0"),
        (DELETE, ID5 + b"\x00", ErrorCode.BAD_MESSAGE, 5, "too short to hold a key length"),
        (GET, ID5 + b"\x00\x00", ErrorCode.BAD_MESSAGE, 5, "GET has an empty key"),
        (PUT, ID5 + b"\x00\x00value", ErrorCode.BAD_MESSAGE, 5, "PUT has an empty key"),
        (GET, ID5 + b"\x00\x05abc", ErrorCode.BAD_MESSAGE, 5, "a key of 5 bytes but holds only 3"),
        (GET, ID5 + b"\x00\x01kX", ErrorCode.BAD_MESSAGE, 5, "GET has 1 bytes after its key"),
        (DELETE, ID5 + b"\x00\x01kXY", ErrorCode.BAD_MESSAGE, 5, "DELETE has 2 bytes after"),
        (GET, ID5 + b"\x04\x01" + b"k" * 1025, ErrorCode.TOO_LARGE, 5, "longer than 1024"),
        (
            PUT,
            ID5 + b"\x00\x01k" + b"v" * (kvproto.MAX_VALUE_SIZE + 1),
            ErrorCode.TOO_LARGE,
            5,
            "PUT value of 65537 bytes is longer than 65536",
        ),
    ],
)
def test_bad_requests_raise_protocol_error(
    ppid: int, payload: bytes, code: ErrorCode, request_id: int, words: str
) -> None:
    with pytest.raises(ProtocolError, match=words) as caught:
        decode_request(ppid, payload)
    assert caught.value.code is code
    assert caught.value.request_id == request_id
    # The server answers with exactly this, so it has to be a valid response itself.
    answer = Error(caught.value.request_id, caught.value.code, str(caught.value))
    assert decode_response(*encode(answer)) == answer


@pytest.mark.parametrize(
    ("ppid", "payload", "code", "words"),
    [
        (GET, ID5 + b"\x00\x01k", ErrorCode.UNKNOWN_TYPE, "PPID 0x4b560001 is not a response"),
        (0, ID5, ErrorCode.UNKNOWN_TYPE, "PPID 0x0 is not a response type"),
        (OK, b"\x00\x00\x05", ErrorCode.BAD_MESSAGE, "OK of 3 bytes is too short"),
        (OK, b"\x00\x00\x00\x00", ErrorCode.BAD_MESSAGE, "OK has request id 0"),
        (OK, ID5 + b"x", ErrorCode.BAD_MESSAGE, "OK has 1 bytes after its request id"),
        (VALUE, b"\x00\x00\x00\x00v", ErrorCode.BAD_MESSAGE, "VALUE has request id 0"),
        (VALUE, b"", ErrorCode.BAD_MESSAGE, "VALUE of 0 bytes is too short"),
        (VALUE, ID5 + b"v" * 65537, ErrorCode.TOO_LARGE, "VALUE of 65537 bytes is longer"),
        (ERROR, ID5 + b"\x00", ErrorCode.BAD_MESSAGE, "too short to hold an error code"),
        (ERROR, ID5 + b"\x00\x63oops", ErrorCode.BAD_MESSAGE, "unknown error code 99"),
        (ERROR, ID5 + b"\x00\x01\xff\xfe", ErrorCode.BAD_MESSAGE, "reason is not UTF-8"),
        (ERROR, ID5 + b"\x00\x01" + b"r" * 1025, ErrorCode.TOO_LARGE, "reason of 1025 bytes"),
    ],
)
def test_bad_responses_raise_protocol_error(
    ppid: int, payload: bytes, code: ErrorCode, words: str
) -> None:
    with pytest.raises(ProtocolError, match=words) as caught:
        decode_response(ppid, payload)
    assert caught.value.code is code


def test_protocol_error_is_a_value_error() -> None:
    assert issubclass(ProtocolError, ValueError)


# --- messages that cannot be built, so that encode() never emits a bad one ---------------------


@pytest.mark.parametrize(
    ("build", "error", "words"),
    [
        (lambda: Get(0, b"k"), ValueError, r"request id 0 is outside 1\.\.4294967295"),
        (lambda: Put(2**32, b"k", b""), ValueError, "request id 4294967296 is outside"),
        (lambda: Delete(True, b"k"), TypeError, "request id must be an int"),
        (lambda: Get(1, b""), ValueError, "key must be 1 to 1024 bytes, not 0"),
        (lambda: Get(1, b"k" * 1025), ValueError, "key must be 1 to 1024 bytes, not 1025"),
        (lambda: Get(1, "k"), TypeError, "key must be bytes, not str"),  # type: ignore[arg-type]
        (lambda: Put(1, b"k", b"v" * 65537), ValueError, "value must be at most 65536 bytes"),
        (lambda: Value(1, "v"), TypeError, "value must be bytes, not str"),  # type: ignore[arg-type]
        (lambda: Ok(0), ValueError, "request id 0 is outside"),
        (lambda: Error(-1, ErrorCode.NOT_FOUND, ""), ValueError, r"outside 0\.\.4294967295"),
        (lambda: Error(1, 1, "x"), TypeError, "code must be an ErrorCode"),  # type: ignore[arg-type]
        (lambda: Error(1, ErrorCode.NOT_FOUND, b"x"), TypeError, "reason must be a str"),  # type: ignore[arg-type]
        (lambda: Error(1, ErrorCode.NOT_FOUND, "é" * 513), ValueError, "at most 1024 bytes"),
    ],
)
def test_invalid_messages_cannot_be_built(
    build: Callable[[], object], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        build()


# --- streams -----------------------------------------------------------------------------------


def test_a_key_always_takes_the_same_stream_crc32_modulo_the_count() -> None:
    # Pinned values: the mapping must not depend on the process (hash() would).
    assert kvproto.stream_for(b"colour", 16) == zlib.crc32(b"colour") % 16 == 14
    assert kvproto.stream_for(b"a", 16) == 3
    assert kvproto.stream_for(b"a", 1) == 0


@given(keys, st.integers(1, 0xFFFF))
def test_streams_stay_in_range(key: bytes, streams: int) -> None:
    assert 0 <= kvproto.stream_for(key, streams) < streams


def test_keys_spread_over_every_stream() -> None:
    assert {kvproto.stream_for(b"pipeline-%d" % i, 16) for i in range(200)} == set(range(16))


def test_stream_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="need at least one stream, not 0"):
        kvproto.stream_for(b"k", 0)


def test_a_client_uses_no_more_streams_than_the_server_can_answer_on() -> None:
    assert kvproto.usable_streams(16, 10) == 10
    assert kvproto.usable_streams(5, 16) == 5
