"""Which received packets reach the association's chunk dispatcher (RFC 9260 sections 8.4, 8.5).

:func:`screen` checks a decoded packet before any chunk handler sees it: the destination and
source ports, the rule that INIT travels alone with tag 0 (6.10, 8.5.1 A), the verification tag
and its exceptions (8.5.1 B, C, D, E), that the packet comes from one of the peer's addresses
(so that a blind attacker cannot add a path), and it answers out-of-the-blue packets (8.4).
:class:`Inbound` carries the facts about the packet being processed to the chunk handlers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sctpmh.core.causes import CauseCode, ErrorCause
from sctpmh.core.chunks import (
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    ErrorChunk,
    InitAckChunk,
    InitChunk,
    ShutdownAckChunk,
    ShutdownCompleteChunk,
)
from sctpmh.core.packet import Packet
from sctpmh.core.paths import Address, PeerPath
from sctpmh.core.states import HANDSHAKE, State
from sctpmh.core.tcb import Tcb

__all__ = ["Inbound", "screen"]


class Inbound:
    """Facts about the packet being processed, shared by the chunk handlers."""

    __slots__ = (
        "data_seen",
        "destination",
        "errors",
        "index",
        "now",
        "path",
        "sack_now",
        "source",
        "source_port",
        "tag",
    )

    def __init__(
        self,
        source: Address,
        destination: Address | None,
        path: PeerPath | None,
        source_port: int,
        tag: int,
        now: float,
    ) -> None:
        self.source = source
        """The peer address it came from."""
        self.destination = destination
        """Our address it arrived on, None when the caller did not say."""
        self.path = path
        """The path of ``source``, None when it is not (yet) a peer address."""
        self.source_port = source_port
        self.tag = tag
        self.now = now
        self.index = 0
        self.data_seen = False
        self.sack_now = False
        self.errors: list[ErrorCause] = []


def screen(tcb: Tcb, packet: Packet, inbound: Inbound) -> Sequence[Chunk] | None:
    """The chunks of ``packet`` to dispatch, or None when it is dropped or already answered."""
    stats = tcb.stats
    chunks = packet.chunks
    if packet.destination_port != tcb.core.local_port or not chunks:
        stats.packets_dropped += 1
        stats.wrong_port += packet.destination_port != tcb.core.local_port
        return None
    if tcb.state is not State.CLOSED and packet.source_port != tcb.remote_port:
        # Another peer port: another association, none of ours.
        stats.packets_dropped += 1
        stats.wrong_port += 1
        return None
    first = chunks[0]
    if any(type(chunk) is InitChunk for chunk in chunks):
        # RFC 9260 sections 6.10 and 8.5.1 A: INIT travels alone with verification tag 0.
        if len(chunks) != 1 or packet.verification_tag != 0:
            stats.packets_dropped += 1
            stats.vtag_mismatch += 1
            return None
        return chunks
    tag = packet.verification_tag
    if tag == 0:
        # RFC 9260 section 8.5.1 A: "When an endpoint receives an SCTP packet with the
        # Verification Tag set to 0, it should verify that the packet contains only an INIT
        # chunk. Otherwise, MUST silently discard the packet." No tag of ours is 0 (5.3.1),
        # so this also keeps a zero-tag packet from drawing an out-of-the-blue ABORT (8.4).
        stats.packets_dropped += 1
        stats.vtag_mismatch += 1
        return None
    if tcb.state is State.CLOSED:
        return _ootb(tcb, packet, inbound)
    if inbound.path is None and len(tcb.paths) and not _lone_init_ack(tcb, chunks):
        # Not one of the peer's addresses (RFC 9260 section 8.5 asks the tag to match; the
        # address must too, or anyone who learned the tag could add a path, and over UDP
        # blind spoofing of addresses is easy). An INIT ACK may come from any address of the
        # peer (section 5.1.2); its tag is checked against ours below.
        stats.packets_dropped += 1
        stats.foreign_source += 1
        return None
    if tag != tcb.local_tag and type(first) is not CookieEchoChunk:
        return _foreign_tag(tcb, packet, inbound)
    return chunks


def _lone_init_ack(tcb: Tcb, chunks: Sequence[Chunk]) -> bool:
    # The one exception to the source check: an INIT ACK while we wait for it, alone in its
    # packet as section 6.10 has it. Anything bundled with it, or an INIT ACK in any other
    # state, would let a stranger who knows the tag reach the association's chunk handlers.
    return len(chunks) == 1 and type(chunks[0]) is InitAckChunk and tcb.state is State.COOKIE_WAIT


def _ootb(tcb: Tcb, packet: Packet, inbound: Inbound) -> Sequence[Chunk] | None:
    # RFC 9260 section 8.4: a packet no association of ours owns.
    chunks = packet.chunks
    first = chunks[0]
    if type(first) is CookieEchoChunk and not tcb.finished:
        # Rule 4: a COOKIE ECHO may establish a listening association (section 5.1.5).
        return chunks
    tcb.stats.ootb += 1
    tcb.stats.packets_dropped += 1
    kinds = {type(chunk) for chunk in chunks}
    if AbortChunk in kinds:
        return None  # rule 2: never answer an ABORT
    if ShutdownAckChunk in kinds:
        # Rule 5: SHUTDOWN COMPLETE with the T bit, reflecting the packet's tag.
        _reply(tcb, packet, inbound, ShutdownCompleteChunk(reflected_tag=True))
        return None
    if ShutdownCompleteChunk in kinds or CookieAckChunk in kinds:
        return None  # rules 6 and 7
    for chunk in chunks:
        if type(chunk) is ErrorChunk and any(
            cause.code == CauseCode.STALE_COOKIE for cause in chunk.causes
        ):
            return None  # rule 7
    # Rule 8: ABORT with the T bit.
    tcb.stats.aborts_sent += 1
    _reply(tcb, packet, inbound, AbortChunk(reflected_tag=True))
    return None


def _foreign_tag(tcb: Tcb, packet: Packet, inbound: Inbound) -> Sequence[Chunk] | None:
    # The tag is not ours: RFC 9260 section 8.5 drops the packet, with the exceptions of
    # 8.5.1 B, C and E.
    first = packet.chunks[0]
    tag = packet.verification_tag
    if (
        isinstance(first, AbortChunk | ShutdownCompleteChunk)
        and first.reflected_tag
        and tcb.peer_tag
        and tag == tcb.peer_tag
    ):
        return packet.chunks[:1]
    if type(first) is ShutdownAckChunk and tcb.state in HANDSHAKE:
        # 8.5.1 E: treated as out of the blue (8.4 rule 5).
        tcb.stats.ootb += 1
        _reply(tcb, packet, inbound, ShutdownCompleteChunk(reflected_tag=True))
        return None
    tcb.stats.packets_dropped += 1
    tcb.stats.vtag_mismatch += 1
    return None


def _reply(tcb: Tcb, packet: Packet, inbound: Inbound, chunk: Chunk) -> None:
    tcb.reply_raw(
        inbound.source,
        inbound.destination,
        packet.source_port,
        packet.verification_tag,
        (chunk,),
    )
