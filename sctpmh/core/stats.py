"""Counters kept by an association: what arrived, what was dropped and why, what was sent.

Bad input from the wire never raises out of the core (it is dropped, or answered with ABORT
or ERROR as RFC 9260 says); these counters are how a test or an operator sees that it
happened.
"""

from __future__ import annotations

import dataclasses

__all__ = ["Stats"]


@dataclasses.dataclass(slots=True)
class Stats:
    """Per-association counters; every field is a count that only grows."""

    packets_received: int = 0
    """Datagrams handed to ``receive_datagram``."""
    packets_sent: int = 0
    """Packets handed out by ``datagrams_to_send``."""
    packets_dropped: int = 0
    """Packets discarded whole, for any reason (the counters below say which)."""
    bad_checksum: int = 0
    """Packets whose CRC32c did not match (RFC 9260 section 6.8: discarded silently)."""
    malformed: int = 0
    """Packets the codec could not parse (bad lengths, truncated chunks)."""
    wrong_port: int = 0
    """Packets for another SCTP port pair."""
    vtag_mismatch: int = 0
    """Packets whose verification tag did not match (RFC 9260 sections 8.5, 8.5.1)."""
    ootb: int = 0
    """Out-of-the-blue packets: no association they belong to (RFC 9260 section 8.4)."""
    chunks_ignored: int = 0
    """Chunks discarded because the state does not allow them (RFC 9260 sections 5.2, 9.2)."""
    unknown_chunks: int = 0
    """Chunks of a type this stack does not know (RFC 9260 section 3.2)."""
    bad_cookies: int = 0
    """COOKIE ECHOs with a bad MAC or a wrong tag (RFC 9260 section 5.1.5)."""
    stale_cookies: int = 0
    """COOKIE ECHOs whose cookie had expired (RFC 9260 section 5.1.5 step 3)."""
    data_chunks_received: int = 0
    """DATA chunks received, duplicates included."""
    data_chunks_dropped: int = 0
    """DATA chunks dropped for want of receive window (RFC 9260 section 6.2)."""
    duplicate_tsns: int = 0
    """DATA chunks whose TSN had already arrived."""
    data_chunks_sent: int = 0
    """DATA chunks sent, retransmissions included."""
    sacks_received: int = 0
    """SACK chunks received."""
    sacks_sent: int = 0
    """SACK chunks sent."""
    t3_expirations: int = 0
    """T3-rtx timeouts (RFC 9260 section 6.3.3)."""
    fast_retransmits: int = 0
    """Entries into fast retransmit (RFC 9260 section 7.2.4)."""
    heartbeats_sent: int = 0
    """HEARTBEATs sent (RFC 9260 section 8.3)."""
    heartbeat_acks_received: int = 0
    """HEARTBEAT ACKs that matched an outstanding HEARTBEAT."""
    init_retransmissions: int = 0
    """INIT and COOKIE ECHO retransmissions (T1-init, T1-cookie)."""
    aborts_sent: int = 0
    """ABORT chunks sent, OOTB answers included."""
    aborts_received: int = 0
    """ABORT chunks accepted."""
    errors_sent: int = 0
    """ERROR chunks sent."""
    errors_received: int = 0
    """ERROR chunks received."""
    restarts: int = 0
    """Peer restarts detected (RFC 9260 section 5.2.4 action A)."""
    foreign_source: int = 0
    """Packets with our tag from an address that is not one of the peer's: dropped, not taken
    as a new path (blind spoofing, RFC 9260 sections 5.4, 8.5)."""
    reassembly_overflows: int = 0
    """Messages that grew beyond ``Config.max_message_size`` while being reassembled: the
    association was aborted (Out of Resource)."""
    messages_abandoned: int = 0
    """Messages abandoned when their PR-SCTP lifetime ended (RFC 3758 section 3.5)."""
    forward_tsns_sent: int = 0
    """FORWARD TSN chunks sent (RFC 3758 section 3.5)."""
    forward_tsns_received: int = 0
    """FORWARD TSN chunks received (RFC 3758 section 3.6)."""

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
