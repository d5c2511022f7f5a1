"""User data transfer for the association (RFC 9260 section 6): DATA in, SACKs in and out.

The functions below are private methods of :class:`~sctpmh.core.association.Association`
(bound in its class body under the same names); they take the association as ``self``. The
TSN bookkeeping, reassembly, retransmission queue and congestion control live in
:mod:`sctpmh.core.receiver`, :mod:`sctpmh.core.sender` and :mod:`sctpmh.core.destination`;
this is the glue between them and the state machine:

* 6.1, 6.2, 6.5, 6.7: receiving DATA (window, duplicates, invalid streams, empty DATA), the
  delayed SACK and when it goes at once, delivery to the application, window updates.
* 6.2.1, 6.3.2, 6.3.3, 7.2: processing SACKs, the T3-rtx timer and its expiry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sctpmh.core import causes
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import DataChunk, ErrorChunk, SackChunk
from sctpmh.core.receiver import MessageTooLarge, Reassembler, TsnTracker
from sctpmh.core.sender import Sender
from sctpmh.core.serial import tsn_add, tsn_lt
from sctpmh.core.states import DATA_FLOWS, WITH_TCB, State
from sctpmh.events import SenderDry, received_message

if TYPE_CHECKING:
    from sctpmh.core.association import Association
    from sctpmh.core.intake import Inbound
    from sctpmh.core.paths import Address, PeerPath

__all__: list[str] = []


def _after_packet(self: Association, inbound: Inbound, had_gaps: bool) -> None:
    if inbound.errors and self.state in WITH_TCB and self._peer_tag:
        self.stats.errors_sent += 1
        self._control.append((ErrorChunk(tuple(inbound.errors)), inbound.source))
    if not inbound.data_seen or self._tracker is None:
        return
    tracker = self._tracker
    duplicates = tracker.take_duplicates()
    if duplicates:
        self._duplicates.extend(duplicates[: 64 - len(self._duplicates)])
    self._deliver(inbound.source)
    self._sack_address = inbound.source
    self._data_packets_unacked += 1
    if self.state is State.SHUTDOWN_SENT:
        # RFC 9260 section 9.2: answer every packet with DATA with a SHUTDOWN and restart
        # T2-shutdown.
        self._queue_shutdown()
        self._t2.start(inbound.now, self._primary_path().destination.rto)
    # RFC 9260 section 6.2: SACK at least every second packet, at once on duplicates or
    # when gaps appear or close (6.7), otherwise within the delay.
    if (
        inbound.sack_now
        or had_gaps
        or tracker.has_gaps
        or self._data_packets_unacked >= 2
        or self.core.sack_delay == 0
        or self.state is not State.ESTABLISHED
    ):
        self._sack_due = True
        self._sack_timer.stop()
    elif not self._sack_timer.running:
        self._sack_timer.start(inbound.now, self.core.sack_delay)


def _on_data(self: Association, chunk: DataChunk, inbound: Inbound) -> bool:
    tracker = self._tracker
    reassembler = self._reassembler
    assert tracker is not None  # DATA is allowed only once established
    assert reassembler is not None
    stats = self.stats
    stats.data_chunks_received += 1
    inbound.data_seen = True
    tsn = chunk.tsn
    if not chunk.data:
        # RFC 9260 section 6.2: DATA without user data ends the association.
        self._send_abort(inbound.now, (causes.no_user_data(tsn),))
        self._close(inbound.now, CauseCode.NO_USER_DATA, aborted=True)
        return False
    if chunk.immediate:
        inbound.sack_now = True  # the I bit (RFC 9260 section 3.3.1)
    if not tracker.is_new(tsn):
        tracker.receive(tsn)  # recorded for the SACK's Duplicate TSNs (section 6.2)
        stats.duplicate_tsns += 1
        inbound.sack_now = True
        return True
    if not self._fits_window(tsn):
        # Section 6.2: the chunk is dropped without being recorded and a SACK goes at
        # once; the peer resends it once the window opens.
        stats.data_chunks_dropped += 1
        inbound.sack_now = True
        return True
    tracker.receive(tsn)
    if chunk.stream >= self._inbound_streams:
        # Section 6.5: acknowledge it, report the stream, discard the data.
        inbound.errors.append(causes.invalid_stream(chunk.stream))
        inbound.sack_now = True
        return True
    try:
        reassembler.add(chunk)
    except MessageTooLarge:
        # Nothing could ever deliver the message (Config.max_message_size).
        self._send_abort(inbound.now, (causes.out_of_resource(),))
        self._close(inbound.now, CauseCode.OUT_OF_RESOURCE, aborted=True)
        return False
    return True


def _fits_window(self: Association, tsn: int) -> bool:
    # RFC 9260 section 6.2: with the window at 0, new DATA beyond the highest TSN received
    # is dropped; DATA filling a gap below it is still taken. One exception keeps a message
    # larger than the window from deadlocking: the next in-order chunk is taken while the
    # window is held by reassembly (not by messages the application has yet to read).
    # Whatever happens, buffered bytes stay below the window plus one maximum message.
    tracker = self._tracker
    reassembler = self._reassembler
    assert tracker is not None
    assert reassembler is not None
    window = self.core.receive_window
    held = reassembler.buffered_bytes + self._undelivered
    if held >= window + self.config.max_message_size:
        return False
    if held < window or tsn_lt(tsn, tracker.highest_tsn):
        return True
    return (
        tsn == tsn_add(tracker.cumulative_tsn, 1)
        and not tracker.has_gaps
        and self._undelivered < window
    )


def _on_sack(self: Association, chunk: SackChunk, inbound: Inbound) -> bool:
    self.stats.sacks_received += 1
    self._last_sack_at = inbound.now
    self._process_ack(chunk, inbound.now, gaps_reported=True)
    return True


def _process_ack(
    self: Association, chunk: SackChunk, now: float, *, gaps_reported: bool = False
) -> None:
    # ``gaps_reported`` is True for a real SACK only. The other caller passes the Cumulative
    # TSN Ack of a SHUTDOWN, which cannot carry Gap Ack Blocks, so their absence there is no
    # reneging (RFC 9260 section 9.2); hence the default.
    sender = self._sender
    if sender is None:
        return
    result = sender.on_sack(chunk, now, gaps_reported=gaps_reported)
    if result.ignored:
        return
    self._peer_a_rwnd = chunk.a_rwnd
    self._peer_rwnd = result.peer_rwnd
    result.update_destinations()
    if result.fast_retransmit:
        self.stats.fast_retransmits += 1
    if result.newly_acked_bytes:
        # RFC 9260 sections 8.1, 8.2: an acknowledgement clears the error counters of the
        # association and of the destinations the acknowledged data went to.
        self._error_count = 0
        for ack in result.destinations:
            path = self._paths.get(ack.destination.address[0])
            if path is not None and ack.acked_bytes:
                self._path_reachable(path)
    # Section 6.3.2 R2/R3: stop T3 when nothing is outstanding, restart it when the
    # earliest outstanding TSN was acknowledged.
    for path in self._paths.values():
        if not sender.outstanding_bytes:
            path.t3.stop()
        elif result.cum_ack_advanced and path.t3.running:
            path.t3.start(now, path.destination.rto)
    for destination in result.reneged:
        # Section 6.3.2 R4: the peer reneged on chunks sent there, which are outstanding
        # again; T3 must run for them even if nothing else is outstanding (R2 may just
        # have stopped it), or nothing would ever resend them.
        reneged_on = self._paths.get(destination.address[0])
        if reneged_on is not None and not reneged_on.t3.running:
            reneged_on.t3.start(now, destination.rto)
    if result.newly_acked_bytes and self.config.sender_dry_events and sender.all_acked:
        self._events.append(SenderDry())
    self._check_shutdown_progress(now)


def _make_sack(self: Association) -> SackChunk:
    tracker = self._tracker
    assert tracker is not None
    duplicates = tuple(self._duplicates)
    self._duplicates.clear()
    window = self._window_left()
    self._last_advertised = window
    self._sack_due = False
    self._sack_timer.stop()
    self._data_packets_unacked = 0
    self.stats.sacks_sent += 1
    return SackChunk(tracker.cumulative_tsn, window, tracker.gap_blocks(), duplicates)


def _on_t3(self: Association, path: PeerPath, now: float) -> None:
    sender = self._sender
    if sender is None or self.state not in DATA_FLOWS or not sender.outstanding_bytes:
        return
    self.stats.t3_expirations += 1
    destination = path.destination
    # RFC 9260 section 6.3.3: E1 cut the window (7.2.3), E2 back off the RTO, E3 mark
    # everything in flight there for retransmission; T3 restarts when it goes out (R1).
    destination.on_t3_expired()
    destination.back_off()
    sender.on_t3_expired(destination)
    if self._peer_a_rwnd == 0 and self._last_sack_at >= path.last_sent:
        # Section 6.1 A: a zero window probe the peer keeps answering with SACKs is not
        # an error; the receiver may hold its window closed indefinitely.
        return
    self._count_error(path, now)


def _start_data_plane(self: Association) -> None:
    max_size = self.config.max_message_size
    self._sender = Sender(self._local_initial_tsn, self._outbound_streams, max_size)
    self._sender.set_peer_rwnd(self._peer_rwnd)
    self._tracker = TsnTracker(self._peer_initial_tsn)
    self._reassembler = Reassembler(self._inbound_streams, max_size)
    self._duplicates.clear()
    self._data_packets_unacked = 0
    self._sack_due = False
    self._sack_timer.stop()
    for path in self._paths.values():
        # RFC 9260 section 7.2.1: ssthresh starts at the peer's receive window.
        path.destination.ssthresh = max(self._peer_rwnd, 4 * path.destination.mtu)
        path.t3.stop()


def _deliver(self: Association, source: Address | None) -> None:
    reassembler = self._reassembler
    if reassembler is None:
        return
    for message in reassembler.pop_messages():
        self._undelivered += len(message.data)
        self._events.append(
            received_message(
                message.data,
                message.stream,
                message.ppid,
                message.unordered,
                None if message.unordered else message.ssn,
                message.tsn,
                source,
            )
        )


def _window_left(self: Association) -> int:
    held = self._undelivered
    if self._reassembler is not None:
        held += self._reassembler.buffered_bytes
    return max(0, self.core.receive_window - held)


def _maybe_window_update(self: Association) -> None:
    # RFC 9260 section 6.2: a SACK may go out just to reopen the window once the
    # application has taken enough data (receiver-side silly window avoidance).
    if self._tracker is None or self.state not in DATA_FLOWS:
        return
    if self._window_left() - self._last_advertised >= max(
        self.core.mtu, self.core.receive_window // 4
    ):
        self._sack_due = True
