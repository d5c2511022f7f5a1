"""Which received packets reach the association's chunk dispatcher (RFC 9260 sections 8.4, 8.5).

:class:`Inbound` carries the facts about the packet being processed to the chunk handlers.
The functions taking ``self`` are private methods of
:class:`~sctpmh.core.association.Association` (bound in its class body under the same names):
they check the destination and source ports, the rule that INIT travels alone with tag 0
(6.10, 8.5.1 A), the verification tag and its exceptions (8.5.1 B, C, D, E), and answer
out-of-the-blue packets (8.4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sctpmh.core.causes import CauseCode, ErrorCause
from sctpmh.core.chunks import (
    AbortChunk,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    InitChunk,
    ShutdownAckChunk,
    ShutdownCompleteChunk,
)
from sctpmh.core.packet import Packet
from sctpmh.core.states import HANDSHAKE, State

if TYPE_CHECKING:
    from sctpmh.core.association import Association
    from sctpmh.core.paths import Address

__all__ = ["Inbound"]


class Inbound:
    """Facts about the packet being processed, shared by the chunk handlers."""

    __slots__ = ("data_seen", "errors", "index", "now", "sack_now", "source", "source_port", "tag")

    def __init__(self, source: Address, source_port: int, tag: int, now: float) -> None:
        self.source = source
        self.source_port = source_port
        self.tag = tag
        self.now = now
        self.index = 0
        self.data_seen = False
        self.sack_now = False
        self.errors: list[ErrorCause] = []


def _receive_packet(self: Association, packet: Packet, source: Address, now: float) -> None:
    stats = self.stats
    chunks = packet.chunks
    if packet.destination_port != self.core.local_port or not chunks:
        stats.packets_dropped += 1
        stats.wrong_port += packet.destination_port != self.core.local_port
        return
    if self.state is not State.CLOSED and packet.source_port != self._remote_port:
        # Another peer port: another association, none of ours.
        stats.packets_dropped += 1
        stats.wrong_port += 1
        return
    inbound = Inbound(source, packet.source_port, packet.verification_tag, now)
    if any(type(chunk) is InitChunk for chunk in chunks):
        # RFC 9260 sections 6.10 and 8.5.1 A: INIT travels alone with verification tag 0.
        if len(chunks) != 1 or packet.verification_tag != 0:
            stats.packets_dropped += 1
            stats.vtag_mismatch += 1
            return
        init = chunks[0]
        assert type(init) is InitChunk
        self._on_init(init, inbound)
        return
    tag = packet.verification_tag
    if tag == 0:
        # RFC 9260 section 8.5.1 A: "When an endpoint receives an SCTP packet with the
        # Verification Tag set to 0, it should verify that the packet contains only an INIT
        # chunk. Otherwise, MUST silently discard the packet." No tag of ours is 0 (5.3.1),
        # so this also keeps a zero-tag packet from drawing an out-of-the-blue ABORT (8.4).
        stats.packets_dropped += 1
        stats.vtag_mismatch += 1
        return
    if self.state is State.CLOSED:
        self._receive_ootb(packet, inbound)
        return
    first = chunks[0]
    if tag != self._local_tag and type(first) is not CookieEchoChunk:
        self._receive_foreign_tag(packet, inbound)
        return
    self._dispatch(chunks, inbound)


def _receive_ootb(self: Association, packet: Packet, inbound: Inbound) -> None:
    # RFC 9260 section 8.4: a packet no association of ours owns.
    chunks = packet.chunks
    first = chunks[0]
    if type(first) is CookieEchoChunk and not self._finished:
        # Rule 4: a COOKIE ECHO may establish a listening association (section 5.1.5).
        self._dispatch(chunks, inbound)
        return
    self.stats.ootb += 1
    self.stats.packets_dropped += 1
    kinds = {type(chunk) for chunk in chunks}
    if AbortChunk in kinds:
        return  # rule 2: never answer an ABORT
    if ShutdownAckChunk in kinds:
        # Rule 5: SHUTDOWN COMPLETE with the T bit, reflecting the packet's tag.
        self._send_raw(
            inbound.source,
            packet.source_port,
            packet.verification_tag,
            (ShutdownCompleteChunk(reflected_tag=True),),
        )
        return
    if ShutdownCompleteChunk in kinds or CookieAckChunk in kinds:
        return  # rules 6 and 7
    for chunk in chunks:
        if type(chunk) is ErrorChunk and any(
            cause.code == CauseCode.STALE_COOKIE for cause in chunk.causes
        ):
            return  # rule 7
    # Rule 8: ABORT with the T bit.
    self.stats.aborts_sent += 1
    self._send_raw(
        inbound.source,
        packet.source_port,
        packet.verification_tag,
        (AbortChunk(reflected_tag=True),),
    )


def _receive_foreign_tag(self: Association, packet: Packet, inbound: Inbound) -> None:
    # The tag is not ours: RFC 9260 section 8.5 drops the packet, with the exceptions of
    # 8.5.1 B, C and E.
    first = packet.chunks[0]
    tag = packet.verification_tag
    if (
        isinstance(first, AbortChunk | ShutdownCompleteChunk)
        and first.reflected_tag
        and self._peer_tag
        and tag == self._peer_tag
    ):
        self._dispatch(packet.chunks[:1], inbound)
        return
    if type(first) is ShutdownAckChunk and self.state in HANDSHAKE:
        # 8.5.1 E: treated as out of the blue (8.4 rule 5).
        self.stats.ootb += 1
        self._send_raw(
            inbound.source,
            packet.source_port,
            tag,
            (ShutdownCompleteChunk(reflected_tag=True),),
        )
        return
    self.stats.packets_dropped += 1
    self.stats.vtag_mismatch += 1


def _reflected_tag_ok(self: Association, reflected: bool, tag: int) -> bool:
    # RFC 9260 section 8.5.1 B/C: our own tag without the T bit, the peer's with it.
    if reflected:
        return bool(self._peer_tag) and tag == self._peer_tag
    return tag == self._local_tag
