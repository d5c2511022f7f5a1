"""User data transfer (RFC 9260 section 6): DATA in, SACKs in and out, T3-rtx.

:class:`Transfer` owns the acknowledgement state of one association (the delayed SACK timer,
the packets not yet acknowledged, the duplicates to report, where the SACK goes) and ties the
data plane (:mod:`sctpmh.core.sender`, :mod:`sctpmh.core.receiver`,
:mod:`sctpmh.core.destination`) to the state machine:

* 6.1, 6.2, 6.5, 6.7: receiving DATA (window, duplicates, invalid streams, empty DATA), the
  delayed SACK and when it goes at once, delivery to the application, window updates.
* 6.2.1, 6.3.2, 6.3.3, 7.2: processing SACKs, the T3-rtx timer and its expiry (6.4.1: the
  retransmissions then go to an alternate path, see :mod:`sctpmh.core.bundling`).
* RFC 3758 (PR-SCTP): abandoning messages whose lifetime ended (``SendFailed`` with errno
  ``ETIMEDOUT``), sending FORWARD TSN until the peer's cumulative ack passes them, and
  receiving FORWARD TSN.
"""

from __future__ import annotations

import errno

from sctpmh.core import causes
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import DataChunk, ErrorChunk, ForwardTsnChunk, SackChunk
from sctpmh.core.intake import Inbound
from sctpmh.core.paths import PeerPath
from sctpmh.core.receiver import MessageTooLarge, Reassembler, TsnTracker
from sctpmh.core.sender import Sender
from sctpmh.core.serial import tsn_add, tsn_lt
from sctpmh.core.states import DATA_FLOWS, WITH_TCB, State
from sctpmh.core.tcb import Tcb
from sctpmh.core.timers import Timer
from sctpmh.events import SenderDry, SendFailed

__all__ = ["Transfer"]

# RFC 3758 section 3.5: SendFailed.error of a message abandoned when its lifetime ended.
_ABANDONED = errno.ETIMEDOUT


class Transfer:
    """DATA and SACK handling of one association."""

    __slots__ = (
        "_data_packets_unacked",
        "_duplicates",
        "_forward_due",
        "_last_advertised",
        "_last_sack_at",
        "_sack_due",
        "_sack_path",
        "_tcb",
        "sack_timer",
    )

    def __init__(self, tcb: Tcb) -> None:
        self._tcb = tcb
        self.sack_timer = Timer()
        """The delayed SACK timer (RFC 9260 section 6.2)."""
        self._sack_due = False
        self._data_packets_unacked = 0
        self._duplicates: list[int] = []
        self._sack_path: PeerPath | None = None
        self._last_sack_at = -1.0  # when the peer's last SACK arrived
        self._last_advertised = tcb.core.receive_window
        self._forward_due = False  # a FORWARD TSN is to be (re)sent (RFC 3758 section 3.5)

    # --- the data plane ----------------------------------------------------------------------

    def start_data_plane(self) -> None:
        """Create the sender and receiver from the negotiated parameters."""
        tcb = self._tcb
        max_size = tcb.config.max_message_size
        tcb.sender = Sender(tcb.local_initial_tsn, tcb.outbound_streams, max_size)
        tcb.sender.set_peer_rwnd(tcb.peer_rwnd)
        tcb.tracker = TsnTracker(tcb.peer_initial_tsn)
        tcb.reassembler = Reassembler(tcb.inbound_streams, max_size)
        self._duplicates.clear()
        self._data_packets_unacked = 0
        self._sack_due = False
        self.sack_timer.stop()
        for path in tcb.paths:
            # RFC 9260 section 7.2.1: ssthresh starts at the peer's receive window.
            path.destination.ssthresh = max(tcb.peer_rwnd, 4 * path.destination.mtu)
            path.t3.stop()

    # --- receiving DATA ----------------------------------------------------------------------

    def after_packet(self, inbound: Inbound, had_gaps: bool) -> bool:
        """Finish a packet: report errors, deliver, decide on the SACK. Returns whether the
        packet carried DATA."""
        tcb = self._tcb
        if inbound.errors and tcb.state in WITH_TCB and tcb.peer_tag:
            tcb.stats.errors_sent += 1
            tcb.outbox.queue(ErrorChunk(tuple(inbound.errors)), inbound.path)
        tracker = tcb.tracker
        if not inbound.data_seen or tracker is None:
            return False
        duplicates = tracker.take_duplicates()
        if duplicates:
            self._duplicates.extend(duplicates[: 64 - len(self._duplicates)])
        tcb.deliver(inbound.source)
        self._sack_path = inbound.path
        self._data_packets_unacked += 1
        # RFC 9260 section 6.2: SACK at least every second packet, at once on duplicates or
        # when gaps appear or close (6.7), otherwise within the delay.
        if (
            inbound.sack_now
            or had_gaps
            or tracker.has_gaps
            or self._data_packets_unacked >= 2
            or tcb.core.sack_delay == 0
            or tcb.state is not State.ESTABLISHED
        ):
            self._sack_due = True
            self.sack_timer.stop()
        elif not self.sack_timer.running:
            self.sack_timer.start(inbound.now, tcb.core.sack_delay)
        return True

    def on_data(self, chunk: DataChunk, inbound: Inbound) -> bool:
        """A DATA chunk (RFC 9260 section 6.2)."""
        tcb = self._tcb
        tracker = tcb.tracker
        reassembler = tcb.reassembler
        assert tracker is not None  # DATA is allowed only once established
        assert reassembler is not None
        stats = tcb.stats
        stats.data_chunks_received += 1
        inbound.data_seen = True
        tsn = chunk.tsn
        if not chunk.data:
            # RFC 9260 section 6.2: DATA without user data ends the association.
            tcb.send_abort((causes.no_user_data(tsn),))
            tcb.close(inbound.now, CauseCode.NO_USER_DATA, aborted=True)
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
        if chunk.stream >= tcb.inbound_streams:
            # Section 6.5: acknowledge it, report the stream, discard the data.
            inbound.errors.append(causes.invalid_stream(chunk.stream))
            inbound.sack_now = True
            return True
        try:
            reassembler.add(chunk)
        except MessageTooLarge as exc:
            # Nothing could ever deliver the message (Config.max_message_size), and the
            # fragments held for it would only grow.
            stats.reassembly_overflows += 1
            info = f"reassembly of {exc.size} bytes exceeds the limit of {exc.limit}".encode()
            tcb.send_abort((causes.out_of_resource(), causes.protocol_violation(info)))
            tcb.close(inbound.now, CauseCode.OUT_OF_RESOURCE, aborted=True)
            return False
        return True

    def _fits_window(self, tsn: int) -> bool:
        # RFC 9260 section 6.2: with the window at 0, new DATA beyond the highest TSN received
        # is dropped; DATA filling a gap below it is still taken. One exception keeps a message
        # larger than the window from deadlocking: the next in-order chunk is taken while the
        # window is held by reassembly (not by messages the application has yet to read).
        # Whatever happens, buffered bytes stay below the window plus one maximum message.
        tcb = self._tcb
        tracker = tcb.tracker
        reassembler = tcb.reassembler
        assert tracker is not None
        assert reassembler is not None
        window = tcb.core.receive_window
        held = reassembler.buffered_bytes + tcb.undelivered
        if held >= window + tcb.config.max_message_size:
            return False
        if held < window or tsn_lt(tsn, tracker.highest_tsn):
            return True
        return (
            tsn == tsn_add(tracker.cumulative_tsn, 1)
            and not tracker.has_gaps
            and tcb.undelivered < window
        )

    # --- SACKs out ---------------------------------------------------------------------------

    @property
    def sack_due(self) -> bool:
        """Whether a SACK is due now, not waiting for its delay (RFC 9260 section 6.2)."""
        return self._sack_due

    def sack_wanted(self, data_goes: bool) -> bool:
        """Whether a SACK goes with the next packets: it is due, or it waits for its delay
        and DATA goes anyway (RFC 9260 section 6.2)."""
        if self._tcb.tracker is None:
            return False
        return self._sack_due or (data_goes and self.sack_timer.running)

    @property
    def sack_path(self) -> PeerPath | None:
        """Where the SACK goes: the path the last DATA came from, while it is usable."""
        path = self._sack_path
        if path is None or not path.usable:
            return None
        return path

    def sack_timer_expired(self) -> None:
        """The delayed SACK timer fired: the SACK goes with the next packets."""
        self._sack_due = True

    def make_sack(self) -> SackChunk:
        """The SACK to send now (RFC 9260 section 6.2)."""
        tcb = self._tcb
        tracker = tcb.tracker
        assert tracker is not None
        duplicates = tuple(self._duplicates)
        self._duplicates.clear()
        window = tcb.window_left()
        self._last_advertised = window
        self._sack_due = False
        self.sack_timer.stop()
        self._data_packets_unacked = 0
        tcb.stats.sacks_sent += 1
        return SackChunk(tracker.cumulative_tsn, window, tracker.gap_blocks(), duplicates)

    def maybe_window_update(self) -> None:
        """RFC 9260 section 6.2: a SACK may go out just to reopen the window once the
        application has taken enough data (receiver-side silly window avoidance)."""
        tcb = self._tcb
        if tcb.tracker is None or tcb.state not in DATA_FLOWS:
            return
        if tcb.window_left() - self._last_advertised >= max(
            tcb.core.mtu, tcb.core.receive_window // 4
        ):
            self._sack_due = True

    # --- SACKs in ----------------------------------------------------------------------------

    def on_sack(self, chunk: SackChunk, inbound: Inbound) -> bool:
        """A SACK chunk (RFC 9260 section 6.2.1)."""
        self._tcb.stats.sacks_received += 1
        self._last_sack_at = inbound.now
        self.process_ack(chunk, inbound.now, gaps_reported=True)
        sender = self._tcb.sender
        if sender is not None and sender.has_abandoned:
            # RFC 3758 section 3.5 C3: a SACK still behind the Advanced.Peer.Ack.Point means
            # the FORWARD TSN was lost, or crossed this SACK: send it again.
            self._forward_due = True
        return True

    def process_ack(self, chunk: SackChunk, now: float, *, gaps_reported: bool = False) -> None:
        """Apply an acknowledgement. ``gaps_reported`` is True for a real SACK only; the other
        caller passes the Cumulative TSN Ack of a SHUTDOWN, which cannot carry Gap Ack
        Blocks, so their absence there is no reneging (RFC 9260 section 9.2)."""
        tcb = self._tcb
        sender = tcb.sender
        if sender is None:
            return
        result = sender.on_sack(chunk, now, gaps_reported=gaps_reported)
        if result.ignored:
            return
        tcb.peer_a_rwnd = chunk.a_rwnd
        tcb.peer_rwnd = result.peer_rwnd
        result.update_destinations()
        paths = tcb.paths
        if result.fast_retransmit:
            tcb.stats.fast_retransmits += 1
        if result.newly_acked_bytes:
            # RFC 9260 sections 8.1, 8.2: an acknowledgement clears the error counters of the
            # association and of the destinations the acknowledged data went to.
            paths.acknowledged(ack.destination for ack in result.destinations if ack.acked_bytes)
        # Section 6.3.2 R2/R3: stop T3 when nothing is outstanding (there), restart it when
        # the earliest outstanding TSN sent to that address was acknowledged (data acked there
        # while the cumulative ack moves: acks of other paths must not put it off).
        outstanding = sender.outstanding_bytes
        data_path = paths.data_path()
        acked_on = {ack.destination for ack in result.destinations if ack.acked_bytes}
        for path in paths:
            if not outstanding or (path.destination.flight_size == 0 and path is not data_path):
                path.t3.stop()
            elif result.cum_ack_advanced and path.t3.running and path.destination in acked_on:
                path.t3.start(now, path.destination.rto)
        for destination in result.reneged:
            # Section 6.3.2 R4: the peer reneged on chunks sent there, which are outstanding
            # again; T3 must run for them even if nothing else is outstanding (R2 may just
            # have stopped it), or nothing would ever resend them.
            reneged_on = paths.path_of(destination)
            if reneged_on is not None and not reneged_on.t3.running:
                reneged_on.t3.start(now, destination.rto)
        if result.newly_acked_bytes and tcb.config.sender_dry_events and sender.all_acked:
            tcb.events.append(SenderDry())

    # --- T3-rtx ------------------------------------------------------------------------------

    def on_t3(self, path: PeerPath, now: float) -> None:
        """T3-rtx of ``path`` expired (RFC 9260 section 6.3.3)."""
        tcb = self._tcb
        sender = tcb.sender
        if sender is None or tcb.state not in DATA_FLOWS or not sender.outstanding_bytes:
            return
        tcb.stats.t3_expirations += 1
        destination = path.destination
        # RFC 9260 section 6.3.3: E1 cut the window (7.2.3), E2 back off the RTO, E3 mark
        # everything in flight there for retransmission; T3 restarts when it goes out (R1),
        # to an alternate path if there is one (6.4.1).
        destination.on_t3_expired()
        destination.back_off()
        sender.on_t3_expired(destination)
        if tcb.peer_a_rwnd == 0 and self._last_sack_at >= path.last_sent:
            # Section 6.1 A: a zero window probe the peer keeps answering with SACKs is not
            # an error; the receiver may hold its window closed indefinitely.
            return
        self._forward_due = True  # RFC 3758 section 3.5: a lost FORWARD TSN is resent too
        if tcb.paths.count_error(path):
            tcb.fail(now)

    # --- PR-SCTP (RFC 3758) ------------------------------------------------------------------

    def next_expiry(self) -> float | None:
        """When the next message's PR-SCTP lifetime ends, if one is live."""
        sender = self._tcb.sender
        return sender.next_expiry() if sender is not None else None

    def abandon_expired(self, now: float) -> None:
        """Abandon the messages whose lifetime ended (RFC 3758 section 3.5); each comes back
        as ``SendFailed`` with errno ``ETIMEDOUT``, and a FORWARD TSN is due."""
        tcb = self._tcb
        sender = tcb.sender
        if sender is None or not tcb.peer_prsctp or tcb.state not in DATA_FLOWS:
            return
        abandoned = sender.abandon_expired(now)
        if abandoned:
            tcb.stats.messages_abandoned += len(abandoned)
            for data, stream, ppid, sent in abandoned:
                tcb.events.append(SendFailed(data, stream, ppid, _ABANDONED, sent))
            self._forward_due = True

    def before_build(self, now: float) -> None:
        """Just before packets are built: abandon expired messages and queue the FORWARD
        TSN that is due (RFC 3758 section 3.5 C1-C5)."""
        tcb = self._tcb
        sender = tcb.sender
        if sender is None or not tcb.peer_prsctp:
            return
        self.abandon_expired(now)
        if not self._forward_due:
            return
        self._forward_due = False
        forward = sender.forward_tsn()
        if forward is None:
            return
        new_cumulative_tsn, streams = forward
        tcb.stats.forward_tsns_sent += 1
        data_path = tcb.paths.data_path()
        tcb.outbox.queue(ForwardTsnChunk(new_cumulative_tsn, streams), data_path)
        if not data_path.t3.running:
            # Its answer is a SACK; T3 watches for it like for DATA (the abandoned chunks stay
            # outstanding until the cumulative ack passes them).
            data_path.t3.start(now, data_path.destination.rto)

    def on_forward_tsn(self, chunk: ForwardTsnChunk, inbound: Inbound) -> bool:
        """A FORWARD TSN (RFC 3758 section 3.6): skip the abandoned TSNs and SSNs, deliver
        what became deliverable, and acknowledge at once."""
        tcb = self._tcb
        tracker = tcb.tracker
        reassembler = tcb.reassembler
        assert tracker is not None
        assert reassembler is not None
        tcb.stats.forward_tsns_received += 1
        if tracker.forward(chunk.new_cumulative_tsn):
            reassembler.forward(chunk.new_cumulative_tsn, chunk.streams)
        # Section 3.6: a SACK goes back at once (also for an old FORWARD TSN, whose SACK may
        # have been lost).
        inbound.data_seen = True
        inbound.sack_now = True
        return True
