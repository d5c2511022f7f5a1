"""The sending half of the data plane: queue, fragment, transmit, retransmit, process SACKs.

A :class:`Sender` turns user messages into DATA chunks (fragmentation and SSNs, RFC 9260
sections 6.5, 6.6, 6.9), numbers them with TSNs, decides which chunks may go now under the
peer's receive window and the destination's congestion window (section 6.1 rules A-D),
processes SACKs (section 6.2.1), detects loss by miss indications (section 7.2.4) and marks
chunks for retransmission after a T3-rtx timeout (section 6.3.3 E3).

A chunk acknowledged by a Gap Ack Block is not delivered for good: the receiver may drop it
again (renege, section 6.2) until its Cumulative TSN Ack passes it. Such chunks stay in the
sender, and a SACK that no longer reports one puts it back in flight, unacknowledged (6.2.1 D
iii); :attr:`SackResult.reneged` names the destinations whose T3-rtx must then run (6.3.2 R4).

Division of work with the association and :class:`~sctpmh.core.destination.Destination`:

* The sender keeps ``Destination.flight_size`` of every destination it sent to (it alone knows
  which chunk went where). Nobody else changes it.
* :meth:`Sender.on_sack` returns a :class:`SackResult`. The association applies it to the
  destinations with :meth:`SackResult.update_destinations` (RTT samples, cwnd growth, the
  Fast Recovery reduction), then restarts/stops T3-rtx timers and clears error counters.
* On a T3-rtx expiry the association calls :meth:`Sender.on_t3_expired` and the destination's
  own ``back_off()`` and ``on_t3_expired()``.

TSNs are assigned when a message is queued, so queued chunks already carry their final TSN and
leave the queue in TSN order. Byte counts are payload bytes (the peer's a_rwnd counts payload
bytes held, section 6.2), except ``budget_bytes`` of :meth:`Sender.chunks_to_send`, which counts
DATA chunk bytes on the wire.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from heapq import heappop, heappush
from itertools import chain

from sctpmh.core.chunks import DATA_HEADER_SIZE, DataChunk, SackChunk
from sctpmh.core.destination import Destination
from sctpmh.events import PathState

__all__ = ["FAST_RETRANSMIT_THRESHOLD", "DestinationAck", "OutboundChunk", "SackResult", "Sender"]

FAST_RETRANSMIT_THRESHOLD = 3
"""Miss indications after which a chunk is fast retransmitted (RFC 9260 section 7.2.4)."""

_MASK = 0xFFFFFFFF
_HALF = 0x80000000
# The common header that every packet carries (RFC 9260 section 3.1).
_COMMON_HEADER_SIZE = 12


def _wire_size(payload: int) -> int:
    # A DATA chunk on the wire: header plus payload padded to 4 bytes (RFC 9260 section 3.2).
    return (DATA_HEADER_SIZE + payload + 3) & ~3


@dataclass(slots=True, eq=False)
class OutboundChunk:
    """One DATA chunk waiting to be sent, or sent and not yet cumulatively acknowledged."""

    chunk: DataChunk
    """The chunk as it goes on the wire (TSN assigned)."""
    message_id: int
    """Which queued message it belongs to (sequential per sender)."""
    sent_at: float | None = None
    """When it was last transmitted, ``None`` before its first transmission."""
    destination: Destination | None = None
    """Where it was last transmitted."""
    transmissions: int = 0
    """How many times it went on the wire."""
    acked: bool = False
    """Acknowledged (by a Gap Ack Block, or cumulatively) and no longer in flight; a Gap Ack
    Block's acknowledgement is withdrawn if a later SACK no longer reports it (reneging,
    RFC 9260 section 6.2.1 D iii)."""
    miss_indications: int = 0
    """SACKs that reported it missing since it was last sent (RFC 9260 section 7.2.4)."""
    retransmit: bool = False
    """Marked for retransmission (by T3-rtx or fast retransmit); not in flight meanwhile."""
    fast_retransmitted: bool = False
    """Already fast retransmitted once; later losses of it are left to T3-rtx, so a SACK
    crossing the retransmission in flight cannot trigger another one."""
    timed: bool = False
    """The chunk whose acknowledgement gives its destination's next RTT sample."""
    to: Destination | None = None
    """Where the application asked the message to go (None: the association's choice)."""
    expires: float | None = None
    """When the message's PR-SCTP lifetime ends (RFC 3758 section 3.5), None: never."""
    abandoned: bool = False
    """Abandoned under PR-SCTP: counted as acknowledged, skipped by a FORWARD TSN."""


@dataclass(frozen=True, slots=True)
class DestinationAck:
    """What one SACK means for one destination (see :meth:`SackResult.update_destinations`)."""

    destination: Destination
    """The destination the acknowledged chunks were last sent to."""
    acked_bytes: int
    """Payload bytes sent there and newly acknowledged."""
    fully_utilized: bool
    """Whether its cwnd was fully used before the SACK, to within one MTU (RFC 9260 section
    7.2.1)."""
    rtt_sample: float | None
    """A round-trip time measured on it, obeying Karn's rule (section 6.3.1 C5)."""
    enter_fast_recovery: bool
    """Whether this SACK put the association into Fast Recovery with chunks lost on this
    destination: its cwnd is to be cut (section 7.2.4 step 4)."""


@dataclass(frozen=True, slots=True)
class SackResult:
    """What processing one SACK found (RFC 9260 sections 6.2.1, 7.2)."""

    newly_acked_bytes: int
    """Payload bytes acknowledged for the first time, cumulatively or by Gap Ack Blocks."""
    cum_ack_advanced: bool
    """Whether the Cumulative TSN Ack Point moved forward (restart T3-rtx, section 6.3.2 R3;
    clear the error counters, section 8.1/8.2)."""
    rtt_samples: tuple[float, ...]
    """Round-trip times measured, at most one per destination, by Karn's rule (6.3.1 C5)."""
    fast_retransmit: bool
    """Whether this SACK entered Fast Recovery with chunks marked for fast retransmission
    (section 7.2.4); they are handed out by the next :meth:`Sender.chunks_to_send`."""
    peer_rwnd: int
    """The peer's receive window: its a_rwnd minus the bytes still in flight (6.2.1)."""
    destinations: tuple[DestinationAck, ...] = ()
    """The per-destination breakdown that :meth:`update_destinations` applies."""
    in_fast_recovery: bool = False
    """Whether the sender is in Fast Recovery after this SACK."""
    ignored: bool = False
    """The SACK was out of date (its Cumulative TSN Ack is behind the current one, 6.2.1 D)
    or acknowledged a TSN never sent; nothing changed."""
    reneged: tuple[Destination, ...] = ()
    """Destinations of chunks that an earlier SACK acknowledged by a Gap Ack Block and this
    one no longer reports: the peer reneged on them (6.2.1 D iii). They are outstanding
    again, and T3-rtx is to be started on these destinations if not running (6.3.2 R4)."""

    def update_destinations(self) -> None:
        """Apply this SACK to the destinations: RTT samples (RFC 9260 section 6.3.1), the
        Fast Recovery cwnd cut (7.2.4), then cwnd growth (7.2.1, 7.2.2)."""
        for ack in self.destinations:
            destination = ack.destination
            if ack.rtt_sample is not None:
                destination.rtt_sample(ack.rtt_sample)
            if ack.enter_fast_recovery:
                destination.on_fast_retransmit()
            if ack.acked_bytes:
                destination.on_acked(
                    ack.acked_bytes,
                    self.cum_ack_advanced,
                    ack.fully_utilized,
                    in_fast_recovery=self.in_fast_recovery,
                )
                if destination.flight_size == 0:
                    destination.on_all_acked()


class _AckTally:
    # Per-destination accumulator while one SACK is processed.
    __slots__ = ("acked_bytes", "fast", "fully_utilized", "rtt")

    def __init__(self, fully_utilized: bool) -> None:
        self.acked_bytes = 0
        self.fully_utilized = fully_utilized
        self.rtt: float | None = None
        self.fast = False


class Sender:
    """Outbound DATA of one association (RFC 9260 sections 6.1-6.3, 6.5, 6.9, 7.2).

    ``Destination`` objects are compared by identity.
    """

    __slots__ = (
        "_abandoned",
        "_cum_ack",
        "_expiries",
        "_fast_rtx_allowance",
        "_flight_at_sack",
        "_flight_bytes",
        "_fragmented",
        "_gap_acked",
        "_highest_sent",
        "_marked",
        "_max_message_size",
        "_next_message_id",
        "_next_ssn",
        "_next_tsn",
        "_outstanding",
        "_outstanding_bytes",
        "_peer_rwnd",
        "_queue",
        "_queued_bytes",
        "_recovery_exit",
        "_restart_t3",
        "_rtx",
        "_rtx_dirty",
        "_timed",
        "_ttl_live",
    )

    def __init__(self, initial_tsn: int, outbound_streams: int, max_message_size: int) -> None:
        self._next_tsn = initial_tsn & _MASK
        # RFC 9260 section 6.2.1: the Cumulative TSN Ack Point starts just below our Initial TSN.
        self._cum_ack = (initial_tsn - 1) & _MASK
        self._highest_sent = self._cum_ack
        self._next_ssn = [0] * outbound_streams
        self._max_message_size = max_message_size
        self._next_message_id = 0
        self._queue: deque[OutboundChunk] = deque()
        self._queued_bytes = 0
        # Sent and not yet cumulatively acknowledged, by TSN; insertion order is TSN order.
        self._outstanding: dict[int, OutboundChunk] = {}
        self._outstanding_bytes = 0
        self._flight_bytes = 0
        # The outstanding chunks acknowledged by Gap Ack Blocks only, by TSN: the ones the
        # peer may still renege on (RFC 9260 section 6.2.1 D iii). Exactly the entries of
        # ``_outstanding`` with ``acked`` set.
        self._gap_acked: dict[int, OutboundChunk] = {}
        # Chunks marked for retransmission (lazily pruned; sorted by TSN when dirty).
        self._rtx: deque[OutboundChunk] = deque()
        self._rtx_dirty = False
        self._marked = 0
        # Original bytes of fragmented messages not yet wholly acknowledged, for drain_unsent()
        # (an unfragmented message's one chunk holds its data).
        self._fragmented: dict[int, bytes] = {}
        self._timed: dict[Destination, OutboundChunk] = {}
        self._recovery_exit: int | None = None
        self._fast_rtx_allowance = False
        self._restart_t3 = False
        self._peer_rwnd = 0
        self._flight_at_sack = 0
        # PR-SCTP (RFC 3758): message id -> expiry of the live messages that have one, and a
        # heap of (expiry, message id) to find the next one due.
        self._ttl_live: dict[int, float] = {}
        self._expiries: list[tuple[float, int]] = []
        self._abandoned = 0  # abandoned chunks the cumulative ack has not passed yet

    # --- state -----------------------------------------------------------------------------

    @property
    def outstanding_bytes(self) -> int:
        """Payload bytes sent and not yet acknowledged (marked-for-retransmission included)."""
        return self._outstanding_bytes

    @property
    def flight_bytes(self) -> int:
        """Payload bytes in flight: outstanding minus those marked for retransmission; the
        amount the peer's rwnd is reduced by (RFC 9260 section 6.2.1)."""
        return self._flight_bytes

    @property
    def queued_bytes(self) -> int:
        """Payload bytes queued and never sent."""
        return self._queued_bytes

    @property
    def has_data(self) -> bool:
        """Whether anything waits to be sent: new chunks or chunks marked for retransmission."""
        return bool(self._queue) or self._marked > 0

    @property
    def all_acked(self) -> bool:
        """Whether nothing is queued and everything sent is cumulatively acknowledged."""
        return not self._queue and not self._outstanding

    @property
    def cumulative_tsn_ack(self) -> int:
        """The peer's Cumulative TSN Ack Point as last seen in a SACK."""
        return self._cum_ack

    @property
    def next_tsn(self) -> int:
        """The TSN the next queued chunk will get."""
        return self._next_tsn

    @property
    def in_fast_recovery(self) -> bool:
        """Whether the sender is in Fast Recovery (RFC 9260 section 7.2.4)."""
        return self._recovery_exit is not None

    @property
    def peer_rwnd(self) -> int:
        """The peer's receive window as this sender tracks it: the last a_rwnd minus what is in
        flight now (RFC 9260 section 6.2.1 B-D); 0 before the first SACK unless
        :meth:`set_peer_rwnd` was called."""
        return max(0, self._peer_rwnd - (self._flight_bytes - self._flight_at_sack))

    def set_peer_rwnd(self, a_rwnd: int) -> None:
        """Take the a_rwnd of the peer's INIT / INIT ACK (RFC 9260 section 6.2.1 A)."""
        self._peer_rwnd = a_rwnd
        self._flight_at_sack = self._flight_bytes

    # --- input -----------------------------------------------------------------------------

    def enqueue(
        self,
        data: bytes,
        stream: int,
        ppid: int,
        unordered: bool,
        max_payload: int,
        to: Destination | None = None,
        expires: float | None = None,
    ) -> None:
        """Queue one message, fragmented into DATA chunks of at most ``max_payload`` bytes.

        Every fragment carries the message's SSN (RFC 9260 section 6.9); an unordered message
        takes no SSN and carries 0 (section 6.6). TSNs are assigned here, consecutively
        (section 6.9). ``to`` is the destination the application chose for the message, if
        any; ``expires`` ends its PR-SCTP lifetime (RFC 3758). Raises ``ValueError`` on local
        misuse (the association checks first and raises the public errors).
        """
        size = len(data)
        if not 0 < size <= self._max_message_size:
            raise ValueError(f"message size {size} not in 1..{self._max_message_size}")
        if not 0 <= stream < len(self._next_ssn):
            raise ValueError(f"stream {stream} not in 0..{len(self._next_ssn) - 1}")
        if max_payload < 1:
            raise ValueError(f"max_payload must be >= 1, got {max_payload}")
        if unordered:
            ssn = 0
        else:
            ssn = self._next_ssn[stream]
            self._next_ssn[stream] = (ssn + 1) & 0xFFFF
        message_id = self._next_message_id
        self._next_message_id = message_id + 1
        if expires is not None:
            self._ttl_live[message_id] = expires
            heappush(self._expiries, (expires, message_id))
        tsn = self._next_tsn
        self._queued_bytes += size
        if size <= max_payload:
            self._queue.append(
                OutboundChunk(
                    DataChunk(tsn, stream, ssn, ppid, data, unordered),
                    message_id,
                    to=to,
                    expires=expires,
                )
            )
            self._next_tsn = (tsn + 1) & _MASK
            return
        data = bytes(data)
        view = memoryview(data)
        for offset in range(0, size, max_payload):
            end = offset + max_payload
            chunk = DataChunk(
                tsn,
                stream,
                ssn,
                ppid,
                bytes(view[offset:end]),
                unordered,
                offset == 0,
                end >= size,
            )
            self._queue.append(OutboundChunk(chunk, message_id, to=to, expires=expires))
            tsn = (tsn + 1) & _MASK
        self._next_tsn = tsn
        self._fragmented[message_id] = data

    def next_route(self) -> tuple[bool, Destination | None]:
        """What goes next and where it asks to go: ``(True, where it was last sent)`` for a
        chunk marked for retransmission, ``(False, its message's destination or None)`` for
        new data (RFC 9260 section 6.4: retransmissions go to an alternate destination)."""
        if self._marked:
            for item in self._rtx:
                if item.retransmit and not item.acked:
                    return True, item.destination
        if self._queue:
            return False, self._queue[0].to
        return False, None

    def chunks_to_send(
        self,
        now: float,
        destination: Destination,
        peer_rwnd: int,
        budget_bytes: int,
        *,
        default: bool = True,
    ) -> list[DataChunk]:
        """The DATA chunks to transmit to ``destination`` now, in order.

        Chunks marked for retransmission go first (RFC 9260 section 6.1 rule C), limited by
        cwnd, except that the first packet after a fast retransmit ignores cwnd (section 7.2.4
        step 3). New chunks follow while the destination's flight size is below cwnd (rule B:
        the last chunk may overshoot cwnd by less than one chunk) and they fit the peer's
        window (rule A); with nothing in flight one chunk goes regardless of the window, to
        probe a zero window. ``peer_rwnd`` is the window from the last :class:`SackResult`
        (or the INIT's a_rwnd); what was sent since that SACK is taken off here.
        ``budget_bytes`` caps the DATA chunk bytes on the wire returned by this call.
        New chunks of a message sent with its own destination go only there, while that
        destination is active; ``default`` says ``destination`` is where all other new data
        goes, and so where such a message falls back to while its destination is not active.
        """
        out: list[DataChunk] = []
        budget = budget_bytes
        if self._marked:
            budget = self._send_retransmissions(now, destination, budget, out)
            if self._marked:
                # Rule C: no new data while retransmissions wait.
                return out
        queue = self._queue
        if not queue:
            return out
        rwnd = peer_rwnd - (self._flight_bytes - self._flight_at_sack)
        cwnd = destination.cwnd
        outstanding = self._outstanding
        timed = self._timed
        while queue and destination.flight_size < cwnd:
            item = queue[0]
            to = item.to
            if to is not destination and (
                (to is None and not default)
                or (to is not None and (not default or to.state is PathState.ACTIVE))
            ):
                break  # it goes elsewhere: the caller sends it there next
            size = len(item.chunk.data)
            wire = (DATA_HEADER_SIZE + size + 3) & ~3
            if wire > budget:
                break
            # Rule A: new data only within the peer's window, except one probing chunk when
            # nothing at all is in flight (zero window probe).
            if size > rwnd and self._flight_bytes:
                break
            queue.popleft()
            budget -= wire
            rwnd -= size
            self._queued_bytes -= size
            tsn = item.chunk.tsn
            outstanding[tsn] = item
            self._highest_sent = tsn
            self._outstanding_bytes += size
            self._flight_bytes += size
            destination.flight_size += size
            item.transmissions = 1
            item.sent_at = now
            item.destination = destination
            if destination not in timed:
                # RFC 9260 section 6.3.1 C4: time one chunk per round trip and destination.
                timed[destination] = item
                item.timed = True
            out.append(item.chunk)
        return out

    def _send_retransmissions(
        self, now: float, destination: Destination, budget: int, out: list[DataChunk]
    ) -> int:
        rtx = self._rtx
        if self._rtx_dirty:
            base = self._cum_ack
            self._rtx = rtx = deque(sorted(rtx, key=lambda item: (item.chunk.tsn - base) & _MASK))
            self._rtx_dirty = False
        # RFC 9260 section 7.2.4 step 3: one packet of fast retransmissions ignores cwnd.
        fast_allowance = 0
        if self._fast_rtx_allowance:
            fast_allowance = destination.mtu - _COMMON_HEADER_SIZE
            self._fast_rtx_allowance = False
        while rtx:
            item = rtx[0]
            if item.acked or not item.retransmit:
                rtx.popleft()  # acknowledged (or already resent) since it was marked
                continue
            size = len(item.chunk.data)
            wire = _wire_size(size)
            if wire > budget:
                break
            if item.fast_retransmitted and wire <= fast_allowance:
                fast_allowance -= wire
            elif destination.flight_size >= destination.cwnd:
                break
            rtx.popleft()
            budget -= wire
            item.retransmit = False
            self._marked -= 1
            self._flight_bytes += size
            destination.flight_size += size
            item.transmissions += 1
            item.sent_at = now
            item.destination = destination
            item.miss_indications = 0
            if item.timed:
                # Karn's rule (RFC 9260 section 6.3.1 C5): a retransmitted chunk gives no
                # RTT sample.
                self._untime(item)
            if item.fast_retransmitted and item.chunk.tsn == (self._cum_ack + 1) & _MASK:
                # RFC 9260 section 7.2.4 step 4: "Restart the T3-rtx timer only if the last
                # SACK chunk acknowledged the lowest outstanding TSN number sent to that
                # address, or the endpoint is retransmitting the first outstanding DATA chunk
                # sent to that address." This is the second case.
                self._restart_t3 = True
            out.append(item.chunk)
        return budget

    def take_t3_restart(self) -> bool:
        """Whether a fast retransmission since the last call resent the first outstanding
        DATA chunk, so that its destination's T3-rtx is to be restarted (RFC 9260 section
        7.2.4 step 4); the flag is cleared."""
        restart = self._restart_t3
        self._restart_t3 = False
        return restart

    def _untime(self, item: OutboundChunk) -> None:
        item.timed = False
        destination = item.destination
        if destination is not None and self._timed.get(destination) is item:
            del self._timed[destination]

    def on_sack(self, sack: SackChunk, now: float, *, gaps_reported: bool = True) -> SackResult:
        """Process one SACK (RFC 9260 sections 6.2.1, 7.2.4).

        A SACK whose Cumulative TSN Ack is behind the current Cumulative TSN Ack Point, or
        that acknowledges a TSN never sent, is ignored. Otherwise chunks up to the cumulative
        ack are released, chunks in Gap Ack Blocks are marked acknowledged, and chunks
        reported missing collect miss indications by the HTNA rule (7.2.4): only those
        below the highest TSN newly acknowledged, or, in Fast Recovery on a SACK advancing the
        cumulative ack, all reported missing. The third indication marks a chunk for fast
        retransmission; the first such SACK outside Fast Recovery enters it. Chunks gap
        acknowledged before and not reported now are reneged (6.2.1 D iii, see
        :attr:`SackResult.reneged`).

        ``gaps_reported=False`` is for the Cumulative TSN Ack of a SHUTDOWN, which has no
        room for Gap Ack Blocks, so their absence withdraws nothing (section 9.2).
        """
        cum = sack.cumulative_tsn_ack & _MASK
        old_cum = self._cum_ack
        advance = (cum - old_cum) & _MASK
        if advance >= _HALF or advance > ((self._highest_sent - old_cum) & _MASK):
            # Behind the current point (an old, reordered SACK), or beyond anything sent.
            return SackResult(0, False, (), False, self.peer_rwnd, ignored=True)

        outstanding = self._outstanding
        tallies: dict[Destination, _AckTally] = {}
        newly_acked = 0
        # Offset (from the new cum ack) of the highest TSN newly acknowledged; 0 if only the
        # cumulative ack moved (HTNA, RFC 9260 section 7.2.4).
        htna = 0

        # 1. The cumulative ack: release everything up to it.
        if advance:
            tsn = old_cum
            for _ in range(advance):
                tsn = (tsn + 1) & _MASK
                item = outstanding.pop(tsn, None)
                if item is None:
                    continue  # only after drain_unsent()
                if item.abandoned:
                    self._outstanding_bytes -= len(item.chunk.data)
                    self._abandoned -= 1
                elif item.acked:
                    del self._gap_acked[tsn]
                else:
                    newly_acked += self._acknowledge(item, now, tallies)
                if item.chunk.ending:
                    if not item.chunk.beginning:
                        self._fragmented.pop(item.message_id, None)
                    if item.expires is not None:
                        self._ttl_live.pop(item.message_id, None)
            self._cum_ack = cum

        # 2. Gap Ack Blocks: ascending, non-overlapping blocks beyond the cumulative ack;
        # anything else is malformed and skipped, and blocks are clipped to what was sent so
        # a hostile SACK cannot make us walk 65535 TSNs per block.
        # Every outstanding chunk found in a block is gap acknowledged after it, and no TSN is
        # visited twice, so ``reported`` counts the entries of ``gap_acked`` this SACK reports:
        # fewer than all of them means the peer reneged (6.2.1 D iii), found without a pass
        # over the gap-acked chunks when it did not.
        gap_acked = self._gap_acked
        reported = 0
        highest_offset = (self._highest_sent - cum) & _MASK
        last_end = 0
        for start, end in sack.gap_blocks:
            if start <= last_end or end < start:
                continue
            last_end = end
            if start > highest_offset:
                break
            for offset in range(start, min(end, highest_offset) + 1):
                tsn = (cum + offset) & _MASK
                item = outstanding.get(tsn)
                if item is None or item.abandoned:
                    continue
                if not item.acked:
                    newly_acked += self._acknowledge(item, now, tallies)
                    gap_acked[tsn] = item
                    htna = offset
                reported += 1
        reported_end = min(last_end, highest_offset)

        # 3. Miss indications (RFC 9260 section 7.2.4) and Fast Recovery.
        in_recovery = self._recovery_exit is not None
        limit = reported_end if (in_recovery and advance) else htna
        newly_marked = False
        if limit > 1:
            for offset in range(1, limit):
                item = outstanding.get((cum + offset) & _MASK)
                if (
                    item is None
                    or item.acked
                    or item.retransmit
                    or item.fast_retransmitted
                    or not item.transmissions
                ):
                    continue
                item.miss_indications += 1
                if item.miss_indications >= FAST_RETRANSMIT_THRESHOLD:
                    tally = self._tally(item, tallies)
                    tally.fast = True
                    item.fast_retransmitted = True
                    self._mark(item)
                    newly_marked = True

        # 4. Reneging, after the miss indications so that a reneged chunk gets exactly the
        # one that 6.2.1 D iii counts for it.
        reneged: tuple[Destination, ...] = ()
        if gaps_reported and reported < len(gap_acked):
            reneged = self._renege(sack)

        entered = False
        if self._recovery_exit is not None and ((cum - self._recovery_exit) & _MASK) < _HALF:
            # Everything up to the exit point is acknowledged: Fast Recovery is over (7.2.4).
            self._recovery_exit = None
        if newly_marked and self._recovery_exit is None:
            # RFC 9260 section 7.2.4 steps 4-5: cut cwnd once, remember the exit point.
            self._recovery_exit = self._highest_sent
            self._fast_rtx_allowance = True
            entered = True

        # 5. The peer's window: a_rwnd less what is still in flight (6.2.1 B), reneged
        # chunks included.
        self._peer_rwnd = max(0, sack.a_rwnd - self._flight_bytes)
        self._flight_at_sack = self._flight_bytes

        samples: list[float] = []
        acks: list[DestinationAck] = []
        for destination, tally in tallies.items():
            if tally.rtt is not None:
                samples.append(tally.rtt)
            acks.append(
                DestinationAck(
                    destination,
                    tally.acked_bytes,
                    tally.fully_utilized,
                    tally.rtt,
                    entered and tally.fast,
                )
            )
        return SackResult(
            newly_acked,
            bool(advance),
            tuple(samples),
            entered,
            self._peer_rwnd,
            tuple(acks),
            self._recovery_exit is not None,
            reneged=reneged,
        )

    def _renege(self, sack: SackChunk) -> tuple[Destination, ...]:
        # RFC 9260 section 6.2.1 D iii: a TSN "previously acknowledged via a Gap Ack Block"
        # that this SACK is missing is "possibly missing": it is outstanding and in flight
        # again (its bytes count against the peer's window, 6.2.1 B), T3-rtx may mark it
        # (6.3.3 E3), and it gets "one miss indication towards fast retransmit" (7.2.4). Called
        # only when the SACK reports fewer gap-acked chunks than there are; the work is
        # proportional to their number. The blocks are read with the same rules as in
        # on_sack(), so a block skipped there reports nothing here either.
        cum = self._cum_ack
        starts: list[int] = []
        ends: list[int] = []
        last_end = 0
        for start, end in sack.gap_blocks:
            if start <= last_end or end < start:
                continue
            last_end = end
            starts.append(start)
            ends.append(end)
        reneged: dict[Destination, None] = {}
        withdrawn: list[int] = []
        for tsn, item in self._gap_acked.items():
            offset = (tsn - cum) & _MASK
            block = bisect_right(starts, offset) - 1
            if block >= 0 and offset <= ends[block]:
                continue  # still reported
            withdrawn.append(tsn)
            item.acked = False
            item.miss_indications = 1
            size = len(item.chunk.data)
            self._outstanding_bytes += size
            self._flight_bytes += size
            destination = item.destination
            assert destination is not None  # only sent chunks are acknowledged
            destination.flight_size += size
            reneged[destination] = None
        for tsn in withdrawn:
            del self._gap_acked[tsn]
        return tuple(reneged)

    def _tally(self, item: OutboundChunk, tallies: dict[Destination, _AckTally]) -> _AckTally:
        destination = item.destination
        assert destination is not None  # only sent chunks are acknowledged or marked
        tally = tallies.get(destination)
        if tally is None:
            # "Fully utilized" (RFC 9260 section 7.2.1), judged before this SACK changes the
            # flight size: less than one MTU of the window was unused. Rule B (6.1) lets the
            # last packet overshoot cwnd, and Max.Burst or packet boundaries can stop a sender
            # short of cwnd by up to a packet, so a window filled to within a packet is full.
            fully_utilized = destination.flight_size + destination.mtu > destination.cwnd
            tally = tallies[destination] = _AckTally(fully_utilized)
        return tally

    def _acknowledge(
        self, item: OutboundChunk, now: float, tallies: dict[Destination, _AckTally]
    ) -> int:
        # First acknowledgement of a sent chunk, cumulative or by a gap block.
        size = len(item.chunk.data)
        destination = item.destination
        assert destination is not None  # only sent chunks are acknowledged
        tally = self._tally(item, tallies)
        item.acked = True
        self._outstanding_bytes -= size
        if item.retransmit:
            # Marked, so not in flight; it needs no resending now.
            item.retransmit = False
            self._marked -= 1
        else:
            self._flight_bytes -= size
            destination.flight_size -= size
        tally.acked_bytes += size
        if item.timed:
            item.timed = False
            self._timed.pop(destination, None)
            if item.transmissions == 1 and item.sent_at is not None:
                # RFC 9260 section 6.3.1 C4/C5: a sample from a chunk sent once.
                tally.rtt = now - item.sent_at
        return size

    def _mark(self, item: OutboundChunk) -> None:
        # Mark for retransmission; a marked chunk leaves the flight (RFC 9260 section 6.2.1 D:
        # its bytes return to the peer's window) until it is resent.
        item.retransmit = True
        item.miss_indications = 0
        self._marked += 1
        size = len(item.chunk.data)
        self._flight_bytes -= size
        destination = item.destination
        if destination is not None:
            destination.flight_size -= size
        if item.timed:
            self._untime(item)
        self._rtx.append(item)
        self._rtx_dirty = True

    def on_t3_expired(self, destination: Destination) -> None:
        """Mark every chunk in flight to ``destination`` for retransmission (RFC 9260 section
        6.3.3 E3). The association also backs off the RTO and cuts cwnd on the destination
        (its ``back_off()`` and ``on_t3_expired()``)."""
        for item in self._outstanding.values():
            if item.destination is destination and not item.acked and not item.retransmit:
                self._mark(item)

    # --- PR-SCTP (RFC 3758) ----------------------------------------------------------------

    @property
    def has_abandoned(self) -> bool:
        """Whether abandoned chunks wait for the peer's cumulative ack to pass them."""
        return self._abandoned > 0

    def next_expiry(self) -> float | None:
        """When the next message's lifetime ends, while one with a lifetime is live."""
        expiries = self._expiries
        while expiries and expiries[0][1] not in self._ttl_live:
            heappop(expiries)
        return expiries[0][0] if expiries else None

    def abandon_expired(self, now: float) -> list[tuple[bytes, int, int, bool]]:
        """Abandon the messages whose lifetime ended and that wait for a transmission: the
        next to send for the first time, and those marked for retransmission (RFC 3758
        section 3.5 A1-A3; a chunk in flight is abandoned once it is marked). Returns
        ``(data, stream, ppid, sent)`` for each; :meth:`forward_tsn` then says what to skip."""
        if not self._ttl_live:
            return []
        abandoned: list[tuple[bytes, int, int, bool]] = []
        for item in list(self._rtx):
            if (
                item.retransmit
                and not item.acked
                and item.expires is not None
                and item.expires <= now
                and item.message_id in self._ttl_live
            ):
                abandoned.append(self._abandon(item))
        queue = self._queue
        while queue and queue[0].expires is not None and queue[0].expires <= now:
            abandoned.append(self._abandon(queue[0]))
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            # Due: abandoned now, or in flight (abandoned once marked), or done.
            heappop(expiries)
        return abandoned

    def _abandon(self, item: OutboundChunk) -> tuple[bytes, int, int, bool]:
        # Every unacknowledged chunk of the message is abandoned: counted as acknowledged
        # (its bytes stay outstanding until the cumulative ack passes them) and skipped by the
        # next FORWARD TSN. A message's chunks carry consecutive TSNs: in the outstanding
        # dict, then at the head of the queue.
        message_id = item.message_id
        del self._ttl_live[message_id]
        outstanding = self._outstanding
        tsn = item.chunk.tsn
        while (before := outstanding.get((tsn - 1) & _MASK)) is not None and (
            before.message_id == message_id
        ):
            tsn = before.chunk.tsn
        first = outstanding.get(tsn, item)
        sent = False
        while (current := outstanding.get(tsn)) is not None and current.message_id == message_id:
            sent = sent or current.transmissions > 0
            self._abandon_chunk(current)
            tsn = (tsn + 1) & _MASK
        queue = self._queue
        while queue and queue[0].message_id == message_id:
            queued = queue.popleft()
            size = len(queued.chunk.data)
            self._queued_bytes -= size
            self._outstanding_bytes += size
            queued.acked = queued.abandoned = True
            self._abandoned += 1
            outstanding[queued.chunk.tsn] = queued
            self._highest_sent = queued.chunk.tsn
        chunk = first.chunk
        data = self._fragmented.pop(message_id, chunk.data)
        return data, chunk.stream, chunk.ppid, sent

    def _abandon_chunk(self, item: OutboundChunk) -> None:
        if item.acked:
            return  # the peer holds it already (a Gap Ack Block)
        size = len(item.chunk.data)
        if item.retransmit:
            item.retransmit = False
            self._marked -= 1
        else:
            self._flight_bytes -= size
            if item.destination is not None:
                item.destination.flight_size -= size
        if item.timed:
            self._untime(item)
        item.acked = item.abandoned = True
        self._abandoned += 1

    def forward_tsn(self) -> tuple[int, tuple[tuple[int, int], ...]] | None:
        """The FORWARD TSN to send (RFC 3758 section 3.5 C1-C4): the Advanced.Peer.Ack.Point
        (the highest TSN up to which every chunk is acknowledged or abandoned) and the last
        SSN skipped on each ordered stream; None while nothing abandoned lies beyond the
        cumulative ack."""
        if not self._abandoned:
            return None
        outstanding = self._outstanding
        tsn = self._cum_ack
        skipped: dict[int, int] = {}
        advanced = False
        while (item := outstanding.get((tsn + 1) & _MASK)) is not None and item.acked:
            tsn = item.chunk.tsn
            if item.abandoned:
                advanced = True
                if not item.chunk.unordered:
                    skipped[item.chunk.stream] = item.chunk.ssn
        if not advanced:
            return None
        return tsn, tuple(sorted(skipped.items()))

    def drain_unsent(self) -> list[tuple[bytes, int, int, bool]]:
        """Empty the sender (the association is over) and return ``(data, stream, ppid,
        sent)`` for every message the peer has not wholly acknowledged, in queue order;
        ``sent`` tells whether any of it went on the wire (RFC 6458 SCTP_DATA_SENT)."""
        # Messages occupy consecutive TSNs, and both the outstanding dict and the queue are in
        # TSN order, so a message's chunks are adjacent.
        groups: list[list[OutboundChunk]] = []
        for item in chain(self._outstanding.values(), self._queue):
            if groups and groups[-1][0].message_id == item.message_id:
                groups[-1].append(item)
            else:
                groups.append([item])
        result: list[tuple[bytes, int, int, bool]] = []
        for group in groups:
            if all(item.acked for item in group):
                continue  # the peer holds all of it
            first = group[0].chunk
            data = self._fragmented.get(group[0].message_id, first.data)
            sent = any(item.transmissions for item in group)
            result.append((data, first.stream, first.ppid, sent))
        for item in self._outstanding.values():
            if item.destination is not None and not item.acked and not item.retransmit:
                item.destination.flight_size -= len(item.chunk.data)
        self._queue.clear()
        self._outstanding.clear()
        self._rtx.clear()
        self._gap_acked.clear()
        self._fragmented.clear()
        self._timed.clear()
        self._ttl_live.clear()
        self._expiries.clear()
        self._abandoned = 0
        self._marked = 0
        self._queued_bytes = self._outstanding_bytes = self._flight_bytes = 0
        self._recovery_exit = None
        self._restart_t3 = False
        # Nothing is outstanding any more: a late SACK must find nothing to acknowledge.
        self._cum_ack = self._highest_sent = (self._next_tsn - 1) & _MASK
        return result
