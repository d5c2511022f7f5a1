"""Per-destination transmission state: RTO, congestion window, error count, reachability.

Each peer transport address has its own RTO (RFC 9260 section 6.3), its own congestion control
variables (section 7.2) and its own error counter (section 8.2). A :class:`Destination` holds
them and applies the RFC's update rules; it never decides when to send or when a timer runs.

Who changes what: the :class:`~sctpmh.core.sender.Sender` owns :attr:`Destination.flight_size`
(it alone knows which chunk went where). A SACK reaches the destinations through
:meth:`~sctpmh.core.sender.SackResult.update_destinations` (RTT samples,
:meth:`Destination.on_fast_retransmit`, :meth:`Destination.on_acked`), which the association
calls once per SACK. The association itself handles T3 expiry (:meth:`Destination.back_off`,
:meth:`Destination.on_t3_expired`), HEARTBEAT RTT samples, and keeps
:attr:`Destination.error_count` and :attr:`Destination.state`.
"""

from __future__ import annotations

from sctpmh.config import Config
from sctpmh.events import PathState

__all__ = ["DEFAULT_MTU", "INITIAL_CWND_CAP", "Destination"]

DEFAULT_MTU = 1280
"""Path MTU assumed when nothing better is known: the IPv6 minimum (RFC 8200 section 5)."""

INITIAL_CWND_CAP = 4404
"""The byte constant of the initial cwnd, min(4*MTU, max(2*MTU, 4404)) (RFC 9260 section 7.2.1;
RFC 4960 had 4380)."""

# RFC 9260 section 6.3.1 / 16: RTO.Alpha = 1/8, RTO.Beta = 1/4.
_RTO_ALPHA = 0.125
_RTO_BETA = 0.25


class Destination:
    """Transmission state of one peer transport address (RFC 9260 sections 6.3, 7.2, 8.2).

    Byte counts (``cwnd``, ``ssthresh``, ``flight_size``, ``partial_bytes_acked``) count DATA
    payload bytes.
    """

    __slots__ = (
        "address",
        "cwnd",
        "error_count",
        "flight_size",
        "mtu",
        "partial_bytes_acked",
        "rto",
        "rto_max",
        "rto_min",
        "rttvar",
        "srtt",
        "ssthresh",
        "state",
    )

    address: tuple[str, int]
    """The peer address, ``(host, port)``."""
    srtt: float | None
    """Smoothed round-trip time in seconds, ``None`` before the first sample (section 6.3.1)."""
    rttvar: float
    """Round-trip time variation in seconds (section 6.3.1)."""
    rto: float
    """Retransmission timeout in seconds, always within ``[rto_min, rto_max]``."""
    rto_min: float
    """RTO.Min from the association's :class:`~sctpmh.config.Config`."""
    rto_max: float
    """RTO.Max from the association's :class:`~sctpmh.config.Config`."""
    cwnd: int
    """Congestion window in bytes (section 7.2)."""
    ssthresh: int
    """Slow-start threshold in bytes; the association sets it to the peer's a_rwnd (7.2.1)."""
    partial_bytes_acked: int
    """Bytes acknowledged during congestion avoidance not yet turned into cwnd (7.2.2)."""
    flight_size: int
    """Payload bytes sent to this address and not yet acknowledged nor marked for
    retransmission; maintained by the sender."""
    error_count: int
    """Consecutive timeouts / unanswered heartbeats on this address (section 8.2)."""
    state: PathState
    """Reachability of the address, kept by the association."""
    mtu: int
    """Path MTU in bytes (IP packet size)."""

    def __init__(
        self,
        address: tuple[str, int],
        config: Config,
        mtu: int = DEFAULT_MTU,
        *,
        state: PathState = PathState.ACTIVE,
    ) -> None:
        self.address = address
        self.mtu = mtu
        self.rto_min = config.rto_min
        self.rto_max = config.rto_max
        # RFC 9260 section 6.3.1 C1: before any measurement RTO = RTO.Initial.
        self.srtt = None
        self.rttvar = 0.0
        self.rto = config.rto_initial
        # RFC 9260 section 7.2.1: initial cwnd; ssthresh "MAY be arbitrarily high", the
        # association lowers it to the peer's a_rwnd once known.
        self.cwnd = min(4 * mtu, max(2 * mtu, INITIAL_CWND_CAP))
        self.ssthresh = 1 << 30
        self.partial_bytes_acked = 0
        self.flight_size = 0
        self.error_count = 0
        self.state = state

    def __repr__(self) -> str:
        return (
            f"Destination({self.address!r}, state={self.state.value}, rto={self.rto:.3f}, "
            f"cwnd={self.cwnd}, ssthresh={self.ssthresh}, flight={self.flight_size})"
        )

    def reset_congestion_control(self) -> None:
        """Return cwnd, ssthresh and partial_bytes_acked to their initial values (RFC 9260
        section 5.2.4 action A: the peer restarted)."""
        mtu = self.mtu
        self.cwnd = min(4 * mtu, max(2 * mtu, INITIAL_CWND_CAP))
        self.ssthresh = 1 << 30
        self.partial_bytes_acked = 0

    def rtt_sample(self, rtt: float) -> None:
        """Fold in one round-trip measurement, in seconds (RFC 9260 section 6.3.1 C2/C3).

        The caller applies Karn's rule (C5): only chunks sent once, and HEARTBEAT ACKs.
        """
        rtt = max(rtt, 0.0)
        srtt = self.srtt
        if srtt is None:
            # C2: the first measurement.
            self.srtt = srtt = rtt
            self.rttvar = rtt / 2
        else:
            # C3: RTTVAR is updated with the old SRTT before SRTT itself moves.
            self.rttvar = (1 - _RTO_BETA) * self.rttvar + _RTO_BETA * abs(srtt - rtt)
            self.srtt = srtt = (1 - _RTO_ALPHA) * srtt + _RTO_ALPHA * rtt
        # C3/C6/C7 (clock granularity G taken as 0): RTO = SRTT + 4*RTTVAR within [min, max].
        self.rto = min(max(srtt + 4 * self.rttvar, self.rto_min), self.rto_max)

    def back_off(self) -> None:
        """Double the RTO after a T3-rtx (or heartbeat) timeout (RFC 9260 section 6.3.3 E2)."""
        self.rto = min(2 * self.rto, self.rto_max)

    def on_acked(
        self,
        acked_bytes: int,
        cum_ack_advanced: bool,
        fully_utilized: bool,
        *,
        in_fast_recovery: bool = False,
    ) -> None:
        """Grow cwnd for ``acked_bytes`` newly acknowledged on this address by one SACK.

        Slow start (RFC 9260 section 7.2.1) while ``cwnd <= ssthresh``: only when the window
        was fully used before the SACK and the sender is not in Fast Recovery; cwnd grows by
        at most one MTU per SACK (L = 1, Appropriate Byte Counting). RFC 4960 also required
        the SACK to advance the Cumulative TSN Ack Point; RFC 8540 section 3.22 dropped that,
        and so does RFC 9260, so ``cum_ack_advanced`` does not matter here. Congestion
        avoidance (7.2.2) otherwise: count bytes in ``partial_bytes_acked`` and add one MTU
        once they reach cwnd, on a SACK that advances the cumulative ack while the window was
        fully used (the conservative reading).
        """
        if acked_bytes <= 0:
            return
        if self.cwnd <= self.ssthresh:
            if fully_utilized and not in_fast_recovery:
                self.cwnd += min(acked_bytes, self.mtu)
            return
        self.partial_bytes_acked += acked_bytes
        if self.partial_bytes_acked >= self.cwnd and fully_utilized and cum_ack_advanced:
            self.partial_bytes_acked -= self.cwnd
            self.cwnd += self.mtu

    def on_all_acked(self) -> None:
        """Everything sent to this address is acknowledged: partial_bytes_acked restarts at 0
        (RFC 9260 section 7.2.2)."""
        self.partial_bytes_acked = 0

    def on_t3_expired(self) -> None:
        """Collapse the window after a T3-rtx timeout (RFC 9260 section 7.2.3)."""
        self.ssthresh = max(self.cwnd // 2, 4 * self.mtu)
        self.cwnd = self.mtu
        self.partial_bytes_acked = 0

    def on_fast_retransmit(self) -> None:
        """Halve the window on entering Fast Recovery (RFC 9260 section 7.2.4 step 4)."""
        self.ssthresh = max(self.cwnd // 2, 4 * self.mtu)
        self.cwnd = self.ssthresh
        self.partial_bytes_acked = 0
