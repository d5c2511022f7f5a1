"""The wire format of a small key-value protocol over SCTP (examples/kv_server.py, kv_client.py).

A client sends requests (GET, PUT, DELETE) and the server answers each with one response (OK,
VALUE or ERROR). Every SCTP message is exactly one protocol message: SCTP keeps message
boundaries, so there is no length framing. The message's PPID says its type (RFC 9260 section
3.3.1 leaves the PPID opaque to SCTP, for the application), and the payload carries a request
id, so that many requests can be outstanding at once and their answers can come back in any
order. All integers are big-endian (network order)::

    type    PPID        payload
    GET     0x4B560001  request_id:u32  key_length:u16  key
    PUT     0x4B560002  request_id:u32  key_length:u16  key  value (the rest; may be empty)
    DELETE  0x4B560003  request_id:u32  key_length:u16  key
    OK      0x4B560081  request_id:u32                       (PUT done, or DELETE done)
    VALUE   0x4B560082  request_id:u32  value (the rest; may be empty)
    ERROR   0x4B5600FF  request_id:u32  code:u16  reason (the rest, UTF-8)

Rules:

- A request id is 1 to 2**32 - 1, chosen by the client and unique among its outstanding
  requests; a response carries the id of the request it answers. Id 0 appears only in an
  ERROR answering a message too short to hold an id.
- A key is 1 to ``MAX_KEY_SIZE`` bytes, a value at most ``MAX_VALUE_SIZE`` bytes, a reason at
  most ``MAX_REASON_SIZE`` bytes. Both are opaque bytes.
- A request about key K travels on stream ``stream_for(K, n)``: crc32(K) modulo n, the number
  of streams the client uses (see :func:`usable_streams`). So every request about one key takes
  the same stream, and SCTP delivers the messages of a stream in the order they were sent
  (RFC 9260 section 6.6): a PUT and then a GET of the same key, sent without waiting for the
  first answer, are served in that order. Requests about different keys spread over the
  streams, and a stream waiting for a lost packet holds back only its own messages while the
  others are delivered (RFC 9260 section 1.5.2): no head-of-line blocking between keys, where
  one TCP connection would stall them all.
- A response travels on the stream of its request, so the answers about one key come back in
  order too.
- Decoding is strict: an unknown PPID, a message that is short, has bytes left over, carries
  id 0 in a request, an empty or oversized key, an oversized value, an unknown error code or a
  reason that is not UTF-8 raises :class:`ProtocolError`. The server answers such a request
  with ERROR (and keeps serving); the client treats such a response as the server breaking
  the protocol.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

__all__ = [
    "MAX_KEY_SIZE",
    "MAX_REASON_SIZE",
    "MAX_REQUEST_ID",
    "MAX_VALUE_SIZE",
    "Delete",
    "Error",
    "ErrorCode",
    "Get",
    "MessageType",
    "Ok",
    "ProtocolError",
    "Put",
    "Request",
    "Response",
    "Value",
    "decode_request",
    "decode_response",
    "encode",
    "stream_for",
    "usable_streams",
]

MAX_REQUEST_ID = 0xFFFFFFFF
MAX_KEY_SIZE = 1024
MAX_VALUE_SIZE = 64 * 1024
MAX_REASON_SIZE = 1024

_ID = struct.Struct("!I")
_ID_AND_KEY_LENGTH = struct.Struct("!IH")
_ID_AND_CODE = struct.Struct("!IH")


class MessageType(enum.IntEnum):
    """The PPID of each message type.

    These are private values made up for this example, not registered with IANA (its "SCTP
    Payload Protocol Identifiers" registry lists the assigned ones). A real protocol would
    register its own. The high bytes spell "KV"; bit 7 of the low byte marks a response.
    """

    GET = 0x4B560001
    PUT = 0x4B560002
    DELETE = 0x4B560003
    OK = 0x4B560081
    VALUE = 0x4B560082
    ERROR = 0x4B5600FF


class ErrorCode(enum.IntEnum):
    """Why a request failed, carried in an ERROR response."""

    NOT_FOUND = 1
    """GET or DELETE of a key that is not in the store."""

    BAD_MESSAGE = 2
    """The request could not be decoded (short, bytes left over, id 0, empty key)."""

    UNKNOWN_TYPE = 3
    """The PPID is not one of the request types."""

    TOO_LARGE = 4
    """The key or the value is longer than the protocol allows."""


class ProtocolError(ValueError):
    """A message that breaks the wire format.

    ``code`` says which rule it broke; ``request_id`` is the id the message carried when it was
    long enough to hold one, else 0, so that the server can address its ERROR response.
    """

    def __init__(self, reason: str, code: ErrorCode, request_id: int = 0) -> None:
        super().__init__(reason)
        self.code = code
        self.request_id = request_id


def _check_request_id(request_id: int, *, zero_allowed: bool = False) -> None:
    lowest = 0 if zero_allowed else 1
    if isinstance(request_id, bool) or not isinstance(request_id, int):
        raise TypeError(f"request id must be an int, not {request_id!r}")
    if not lowest <= request_id <= MAX_REQUEST_ID:
        raise ValueError(f"request id {request_id} is outside {lowest}..{MAX_REQUEST_ID}")


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes):
        raise TypeError(f"key must be bytes, not {type(key).__name__}")
    if not 1 <= len(key) <= MAX_KEY_SIZE:
        raise ValueError(f"key must be 1 to {MAX_KEY_SIZE} bytes, not {len(key)}")


def _check_value(value: bytes) -> None:
    if not isinstance(value, bytes):
        raise TypeError(f"value must be bytes, not {type(value).__name__}")
    if len(value) > MAX_VALUE_SIZE:
        raise ValueError(f"value must be at most {MAX_VALUE_SIZE} bytes, not {len(value)}")


# The message classes check their fields when built, so encode() never produces a message
# that decode_*() would refuse.


@dataclass(frozen=True, slots=True)
class Get:
    """Ask for the value of ``key``; answered by VALUE, or ERROR ``NOT_FOUND``."""

    request_id: int
    key: bytes

    def __post_init__(self) -> None:
        _check_request_id(self.request_id)
        _check_key(self.key)


@dataclass(frozen=True, slots=True)
class Put:
    """Store ``value`` under ``key``, replacing any value it had; answered by OK."""

    request_id: int
    key: bytes
    value: bytes

    def __post_init__(self) -> None:
        _check_request_id(self.request_id)
        _check_key(self.key)
        _check_value(self.value)


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove ``key``; answered by OK, or ERROR ``NOT_FOUND``."""

    request_id: int
    key: bytes

    def __post_init__(self) -> None:
        _check_request_id(self.request_id)
        _check_key(self.key)


@dataclass(frozen=True, slots=True)
class Ok:
    """The request ``request_id`` (a PUT or a DELETE) was done."""

    request_id: int

    def __post_init__(self) -> None:
        _check_request_id(self.request_id)


@dataclass(frozen=True, slots=True)
class Value:
    """The answer to the GET ``request_id``: the key's value."""

    request_id: int
    value: bytes

    def __post_init__(self) -> None:
        _check_request_id(self.request_id)
        _check_value(self.value)


@dataclass(frozen=True, slots=True)
class Error:
    """The request ``request_id`` failed (0: a message too short to carry an id)."""

    request_id: int
    code: ErrorCode
    reason: str

    def __post_init__(self) -> None:
        _check_request_id(self.request_id, zero_allowed=True)
        if not isinstance(self.code, ErrorCode):
            raise TypeError(f"code must be an ErrorCode, not {self.code!r}")
        if not isinstance(self.reason, str):
            raise TypeError(f"reason must be a str, not {type(self.reason).__name__}")
        size = len(self.reason.encode("utf-8"))
        if size > MAX_REASON_SIZE:
            raise ValueError(f"reason must be at most {MAX_REASON_SIZE} bytes, not {size}")


Request = Get | Put | Delete
Response = Ok | Value | Error


def encode(message: Request | Response) -> tuple[MessageType, bytes]:
    """The PPID and payload that carry ``message``."""
    match message:
        case Get(request_id, key):
            return MessageType.GET, _ID_AND_KEY_LENGTH.pack(request_id, len(key)) + key
        case Put(request_id, key, value):
            return MessageType.PUT, _ID_AND_KEY_LENGTH.pack(request_id, len(key)) + key + value
        case Delete(request_id, key):
            return MessageType.DELETE, _ID_AND_KEY_LENGTH.pack(request_id, len(key)) + key
        case Ok(request_id):
            return MessageType.OK, _ID.pack(request_id)
        case Value(request_id, value):
            return MessageType.VALUE, _ID.pack(request_id) + value
        case Error(request_id, code, reason):
            return MessageType.ERROR, _ID_AND_CODE.pack(request_id, code) + reason.encode()
    raise TypeError(f"not a protocol message: {message!r}")


def _request_id(name: str, data: bytes) -> int:
    """The id at the start of ``data``, or ProtocolError (with id 0) when it is too short."""
    if len(data) < _ID.size:
        raise ProtocolError(
            f"{name} of {len(data)} bytes is too short to hold a request id",
            ErrorCode.BAD_MESSAGE,
        )
    request_id: int = _ID.unpack_from(data)[0]
    return request_id


def decode_request(ppid: int, data: bytes) -> Request:
    """The request carried by one message, or :class:`ProtocolError` saying what is wrong."""
    try:
        kind = MessageType(ppid)
    except ValueError:
        kind = None
    if kind not in (MessageType.GET, MessageType.PUT, MessageType.DELETE):
        request_id = _ID.unpack_from(data)[0] if len(data) >= _ID.size else 0
        raise ProtocolError(
            f"PPID {ppid:#x} is not a request type", ErrorCode.UNKNOWN_TYPE, request_id
        )
    name = kind.name
    request_id = _request_id(name, data)
    if request_id == 0:
        raise ProtocolError(f"{name} has request id 0", ErrorCode.BAD_MESSAGE)
    if len(data) < _ID_AND_KEY_LENGTH.size:
        raise ProtocolError(
            f"{name} of {len(data)} bytes is too short to hold a key length",
            ErrorCode.BAD_MESSAGE,
            request_id,
        )
    key_length: int = _ID_AND_KEY_LENGTH.unpack_from(data)[1]
    if key_length == 0:
        raise ProtocolError(f"{name} has an empty key", ErrorCode.BAD_MESSAGE, request_id)
    if key_length > MAX_KEY_SIZE:
        raise ProtocolError(
            f"{name} key of {key_length} bytes is longer than {MAX_KEY_SIZE}",
            ErrorCode.TOO_LARGE,
            request_id,
        )
    key_end = _ID_AND_KEY_LENGTH.size + key_length
    if len(data) < key_end:
        raise ProtocolError(
            f"{name} announces a key of {key_length} bytes but holds only "
            f"{len(data) - _ID_AND_KEY_LENGTH.size}",
            ErrorCode.BAD_MESSAGE,
            request_id,
        )
    key = bytes(data[_ID_AND_KEY_LENGTH.size : key_end])
    rest = bytes(data[key_end:])
    if kind is MessageType.PUT:
        if len(rest) > MAX_VALUE_SIZE:
            raise ProtocolError(
                f"PUT value of {len(rest)} bytes is longer than {MAX_VALUE_SIZE}",
                ErrorCode.TOO_LARGE,
                request_id,
            )
        return Put(request_id, key, rest)
    if rest:
        raise ProtocolError(
            f"{name} has {len(rest)} bytes after its key", ErrorCode.BAD_MESSAGE, request_id
        )
    return Get(request_id, key) if kind is MessageType.GET else Delete(request_id, key)


def decode_response(ppid: int, data: bytes) -> Response:
    """The response carried by one message, or :class:`ProtocolError` saying what is wrong."""
    try:
        kind = MessageType(ppid)
    except ValueError:
        kind = None
    if kind not in (MessageType.OK, MessageType.VALUE, MessageType.ERROR):
        raise ProtocolError(f"PPID {ppid:#x} is not a response type", ErrorCode.UNKNOWN_TYPE)
    name = kind.name
    request_id = _request_id(name, data)
    if kind is MessageType.OK:
        if request_id == 0:
            raise ProtocolError("OK has request id 0", ErrorCode.BAD_MESSAGE)
        if len(data) != _ID.size:
            raise ProtocolError(
                f"OK has {len(data) - _ID.size} bytes after its request id",
                ErrorCode.BAD_MESSAGE,
                request_id,
            )
        return Ok(request_id)
    if kind is MessageType.VALUE:
        if request_id == 0:
            raise ProtocolError("VALUE has request id 0", ErrorCode.BAD_MESSAGE)
        value = bytes(data[_ID.size :])
        if len(value) > MAX_VALUE_SIZE:
            raise ProtocolError(
                f"VALUE of {len(value)} bytes is longer than {MAX_VALUE_SIZE}",
                ErrorCode.TOO_LARGE,
                request_id,
            )
        return Value(request_id, value)
    if len(data) < _ID_AND_CODE.size:
        raise ProtocolError(
            f"ERROR of {len(data)} bytes is too short to hold an error code",
            ErrorCode.BAD_MESSAGE,
            request_id,
        )
    raw_code: int = _ID_AND_CODE.unpack_from(data)[1]
    try:
        code = ErrorCode(raw_code)
    except ValueError:
        raise ProtocolError(
            f"ERROR has unknown error code {raw_code}", ErrorCode.BAD_MESSAGE, request_id
        ) from None
    raw_reason = bytes(data[_ID_AND_CODE.size :])
    if len(raw_reason) > MAX_REASON_SIZE:
        raise ProtocolError(
            f"ERROR reason of {len(raw_reason)} bytes is longer than {MAX_REASON_SIZE}",
            ErrorCode.TOO_LARGE,
            request_id,
        )
    try:
        reason = raw_reason.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(
            "ERROR reason is not UTF-8", ErrorCode.BAD_MESSAGE, request_id
        ) from None
    return Error(request_id, code, reason)


def stream_for(key: bytes, streams: int) -> int:
    """The stream that carries requests about ``key`` when ``streams`` streams are in use.

    crc32 rather than ``hash()``: Python randomises ``hash()`` of bytes per process, and the
    mapping has to stay the same for the whole life of a client (and is nicer when it is the
    same for every client, for debugging with a packet capture).
    """
    if streams < 1:
        raise ValueError(f"need at least one stream, not {streams}")
    return zlib.crc32(key) % streams


def usable_streams(outbound: int, inbound: int) -> int:
    """How many streams a client spreads its requests over: the fewer of the association's
    outbound and inbound stream counts. The peer's outbound count equals our inbound count
    (both are negotiated in the handshake, RFC 9260 section 5.1.1), so the server can always
    answer on the stream the request came by."""
    return min(outbound, inbound)
