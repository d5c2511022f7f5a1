"""The State Cookie: association state carried by the peer, authenticated with an HMAC.

An endpoint answering an INIT keeps no state (RFC 9260 section 5.1.3): everything it needs to
build the association later goes into the State Cookie of its INIT ACK, with a MAC computed
over it with a secret only this endpoint knows, and a creation time and lifetime. When the
cookie comes back in a COOKIE ECHO, :meth:`CookieJar.open` checks the MAC and the lifetime
(section 5.1.5) before anything in it is believed.

Layout (network byte order): a version byte, the fixed fields, the peer's addresses as
length-prefixed UTF-8 strings, then a 32-byte HMAC-SHA256 over everything before it.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

__all__ = ["MAC_SIZE", "CookieJar", "CookieState", "Stale"]

MAC_SIZE = 32
"""Bytes of the HMAC-SHA256 appended to every cookie."""

_VERSION = 2
# version, local tag, peer tag, local initial TSN, peer initial TSN, outbound streams,
# inbound streams, peer a_rwnd, local tie tag, peer tie tag, peer SCTP port, created, lifetime,
# flags, number of peer addresses.
_FIXED = struct.Struct("!BIIIIHHIIIHddBB")
_FLAG_PEER_PRSCTP = 1
_MAX_ADDRESSES = 255
_MAX_ADDRESS_LENGTH = 255


@dataclass(frozen=True, slots=True)
class CookieState:
    """Everything needed to build the association from a COOKIE ECHO (RFC 9260 section 5.1.3).

    Seen from the endpoint that made the cookie (the INIT ACK sender): "local" is itself,
    "peer" is the INIT sender.
    """

    local_tag: int
    """The Initiate Tag of our INIT ACK: the peer puts it on every packet it sends us."""
    peer_tag: int
    """The Initiate Tag of the peer's INIT: we put it on every packet we send."""
    local_initial_tsn: int
    """The Initial TSN of our INIT ACK."""
    peer_initial_tsn: int
    """The Initial TSN of the peer's INIT."""
    outbound_streams: int
    """Negotiated outbound streams: min(our OS, the peer's MIS) (RFC 9260 section 5.1.1)."""
    inbound_streams: int
    """Negotiated inbound streams: min(our MIS, the peer's OS)."""
    peer_rwnd: int
    """The peer's advertised receiver window from its INIT."""
    created: float
    """When the cookie was made (the core's clock, seconds)."""
    lifetime: float
    """How long the cookie stays valid after ``created``, seconds (Valid.Cookie.Life)."""
    peer_addresses: tuple[str, ...] = ()
    """The peer's addresses: the INIT's source first, then those listed in the INIT."""
    local_tie_tag: int = 0
    """Our tag of an existing association when the INIT was unexpected (RFC 9260 5.2.2)."""
    peer_tie_tag: int = 0
    """The peer's tag of an existing association when the INIT was unexpected (5.2.2)."""
    peer_port: int = 0
    """The SCTP source port of the peer's INIT."""
    peer_prsctp: bool = False
    """Whether the peer's INIT announced PR-SCTP (RFC 3758 section 3.3.1)."""


@dataclass(frozen=True, slots=True)
class Stale:
    """A cookie with a good MAC whose lifetime has passed (RFC 9260 section 5.1.5 step 3)."""

    staleness_us: int
    """How long ago the cookie expired, in microseconds (for the Stale Cookie cause)."""
    state: CookieState
    """The expired state: its ``peer_tag`` addresses the Stale Cookie ERROR."""


class CookieJar:
    """Makes and opens State Cookies with one secret key (RFC 9260 sections 5.1.3, 5.1.5)."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            # A short key makes the MAC guessable; the core draws 32 bytes by default.
            raise ValueError("the cookie secret must be at least 16 bytes")
        self._secret = bytes(secret)

    def make(self, state: CookieState) -> bytes:
        """Serialize ``state`` and append its HMAC-SHA256."""
        addresses = state.peer_addresses[:_MAX_ADDRESSES]
        parts = [
            _FIXED.pack(
                _VERSION,
                state.local_tag,
                state.peer_tag,
                state.local_initial_tsn,
                state.peer_initial_tsn,
                state.outbound_streams,
                state.inbound_streams,
                state.peer_rwnd,
                state.local_tie_tag,
                state.peer_tie_tag,
                state.peer_port,
                state.created,
                state.lifetime,
                _FLAG_PEER_PRSCTP if state.peer_prsctp else 0,
                len(addresses),
            )
        ]
        for address in addresses:
            encoded = address.encode()[:_MAX_ADDRESS_LENGTH]
            parts += (bytes((len(encoded),)), encoded)
        body = b"".join(parts)
        return body + self._mac(body)

    def open(self, cookie: bytes, now: float) -> CookieState | Stale | None:
        """The state inside ``cookie``; :class:`Stale` when it expired; ``None`` when the MAC
        is wrong or the cookie is malformed (RFC 9260 section 5.1.5 steps 1-3)."""
        if len(cookie) < _FIXED.size + MAC_SIZE:
            return None
        body, mac = cookie[:-MAC_SIZE], cookie[-MAC_SIZE:]
        # Compared in constant time, so the MAC cannot be learned byte by byte (5.1.5 step 1).
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        state = _parse(body)
        if state is None:
            return None
        expires = state.created + state.lifetime
        if now > expires:
            return Stale(int((now - expires) * 1_000_000), state)
        return state

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()


def _parse(body: bytes) -> CookieState | None:
    # Only bodies we made ourselves reach here (the MAC matched), but a secret shared with an
    # older layout must still not raise.
    try:
        (
            version,
            local_tag,
            peer_tag,
            local_tsn,
            peer_tsn,
            outbound,
            inbound,
            peer_rwnd,
            local_tie,
            peer_tie,
            peer_port,
            created,
            lifetime,
            flags,
            count,
        ) = _FIXED.unpack_from(body)
        if version != _VERSION:
            return None
        offset = _FIXED.size
        addresses: list[str] = []
        for _ in range(count):
            length = body[offset]
            address = body[offset + 1 : offset + 1 + length]
            if len(address) != length:
                return None
            addresses.append(address.decode())
            offset += 1 + length
    except (struct.error, IndexError, UnicodeDecodeError):
        return None
    if offset != len(body):
        return None
    return CookieState(
        local_tag=local_tag,
        peer_tag=peer_tag,
        local_initial_tsn=local_tsn,
        peer_initial_tsn=peer_tsn,
        outbound_streams=outbound,
        inbound_streams=inbound,
        peer_rwnd=peer_rwnd,
        created=created,
        lifetime=lifetime,
        peer_addresses=tuple(addresses),
        local_tie_tag=local_tie,
        peer_tie_tag=peer_tie,
        peer_port=peer_port,
        peer_prsctp=bool(flags & _FLAG_PEER_PRSCTP),
    )
