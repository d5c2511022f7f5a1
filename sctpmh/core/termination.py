"""Ending the association: the graceful SHUTDOWN sequence and ABORT (RFC 9260 section 9).

:class:`Termination` owns the shutdown timers of one association:

* 9.2: SHUTDOWN / SHUTDOWN ACK / SHUTDOWN COMPLETE once all data is acknowledged, with the
  T2-shutdown timer and the T5-shutdown-guard.
* 9.1: receiving ABORT (tag rules of 8.5.1 B, C). Closing itself, with the undelivered messages
  handed back, is :meth:`~sctpmh.core.tcb.Tcb.close`.
"""

from __future__ import annotations

from sctpmh.core.chunks import (
    AbortChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
)
from sctpmh.core.intake import Inbound
from sctpmh.core.serial import tsn_lt
from sctpmh.core.states import HANDSHAKE, State
from sctpmh.core.tcb import Tcb
from sctpmh.core.timers import Timer
from sctpmh.core.transfer import Transfer
from sctpmh.events import PeerShutdown

__all__ = ["T5_FACTOR", "Termination"]

T5_FACTOR = 5
"""RFC 9260 section 9.2: T5-shutdown-guard, suggested 5 times RTO.Max."""


class Termination:
    """SHUTDOWN and ABORT handling of one association."""

    __slots__ = ("_tcb", "_transfer", "t2", "t5")

    def __init__(self, tcb: Tcb, transfer: Transfer) -> None:
        self._tcb = tcb
        self._transfer = transfer
        self.t2 = Timer()
        """T2-shutdown (RFC 9260 section 9.2)."""
        self.t5 = Timer()
        """T5-shutdown-guard (RFC 9260 section 9.2)."""

    def on_t2(self, now: float) -> None:
        """RFC 9260 section 9.2: resend SHUTDOWN / SHUTDOWN ACK, counting the timeout as an
        error of the destination and of the association."""
        tcb = self._tcb
        path = tcb.paths.data_path()
        path.destination.back_off()
        if tcb.paths.count_error(path):
            tcb.fail(now)
            return
        if tcb.state is State.SHUTDOWN_SENT:
            self._queue_shutdown()
        elif tcb.state is State.SHUTDOWN_ACK_SENT:
            tcb.outbox.queue(ShutdownAckChunk())
        else:
            return
        # Resent to the data path, which may now be another one (section 6.4.1).
        self.t2.start(now, tcb.paths.data_path().destination.rto)

    def on_t5(self, now: float) -> None:
        """RFC 9260 section 9.2: the shutdown took too long; give up with an ABORT."""
        self._tcb.send_abort(())
        self._tcb.close(now, None, aborted=True)

    def on_shutdown(self, chunk: ShutdownChunk, inbound: Inbound) -> bool:
        """A SHUTDOWN chunk (RFC 9260 section 9.2)."""
        tcb = self._tcb
        now = inbound.now
        sender = tcb.sender
        # RFC 9260 section 9.2: the SHUTDOWN's Cumulative TSN Ack acknowledges like a SACK.
        if sender is not None and tsn_lt(sender.cumulative_tsn_ack, chunk.cumulative_tsn_ack):
            self._transfer.process_ack(
                SackChunk(chunk.cumulative_tsn_ack, tcb.peer_a_rwnd), now, gaps_reported=False
            )
            if tcb.finished:
                return False
        if tcb.state in (State.ESTABLISHED, State.SHUTDOWN_PENDING):
            tcb.state = State.SHUTDOWN_RECEIVED
            tcb.events.append(PeerShutdown())
        elif tcb.state is State.SHUTDOWN_SENT:
            # Both sides shut down at once: answer with SHUTDOWN ACK (section 9.2).
            tcb.events.append(PeerShutdown())
            tcb.state = State.SHUTDOWN_ACK_SENT
            tcb.outbox.queue(ShutdownAckChunk())
            self.t2.start(now, tcb.paths.data_path().destination.rto)
        # The Cumulative TSN Ack may have acknowledged the last outstanding data.
        self.check_progress(now)
        return True

    def on_shutdown_ack(self, chunk: ShutdownAckChunk, inbound: Inbound) -> bool:
        """A SHUTDOWN ACK chunk (RFC 9260 section 9.2, 8.5.1 E)."""
        tcb = self._tcb
        if tcb.state in HANDSHAKE:
            # RFC 9260 section 8.5.1 E: out of the blue (8.4 rule 5).
            tcb.reply_raw(
                inbound.source,
                inbound.destination,
                inbound.source_port,
                inbound.tag,
                (ShutdownCompleteChunk(reflected_tag=True),),
            )
            return False
        # Section 9.2: SHUTDOWN COMPLETE ends it.
        tcb.send_raw_to(
            tcb.paths.reply_path(inbound.source[0]), tcb.peer_tag, (ShutdownCompleteChunk(),)
        )
        tcb.close(inbound.now, None, aborted=False)
        return False

    def on_shutdown_complete(self, chunk: ShutdownCompleteChunk, inbound: Inbound) -> bool:
        """A SHUTDOWN COMPLETE chunk (RFC 9260 section 9.2, 8.5.1 C)."""
        tcb = self._tcb
        if not tcb.reflected_tag_ok(chunk.reflected_tag, inbound.tag):
            tcb.stats.vtag_mismatch += 1
            return False
        tcb.close(inbound.now, None, aborted=False)
        return False

    def on_abort(self, chunk: AbortChunk, inbound: Inbound) -> bool:
        """An ABORT chunk (RFC 9260 section 9.1, 8.5.1 B)."""
        tcb = self._tcb
        if not tcb.reflected_tag_ok(chunk.reflected_tag, inbound.tag):
            tcb.stats.vtag_mismatch += 1
            return False
        tcb.stats.aborts_received += 1
        cause = chunk.causes[0].code if chunk.causes else None
        tcb.peer_aborted = True
        tcb.close(inbound.now, cause, aborted=True)
        return False

    def check_progress(self, now: float) -> None:
        """RFC 9260 section 9.2: once everything queued is acknowledged, SHUTDOWN-PENDING sends
        SHUTDOWN and SHUTDOWN-RECEIVED sends SHUTDOWN ACK."""
        tcb = self._tcb
        sender = tcb.sender
        if tcb.finished or sender is None or not sender.all_acked:
            return
        if tcb.state is State.SHUTDOWN_PENDING:
            tcb.state = State.SHUTDOWN_SENT
            self._queue_shutdown()
            self.t2.start(now, tcb.paths.data_path().destination.rto)
            self.t5.start(now, T5_FACTOR * tcb.config.rto_max)
        elif tcb.state is State.SHUTDOWN_RECEIVED:
            tcb.state = State.SHUTDOWN_ACK_SENT
            tcb.outbox.queue(ShutdownAckChunk())
            self.t2.start(now, tcb.paths.data_path().destination.rto)

    def data_while_shutdown_sent(self, now: float) -> None:
        """RFC 9260 section 9.2: in SHUTDOWN-SENT, answer every packet with DATA with a
        SHUTDOWN and restart T2-shutdown."""
        self._queue_shutdown()
        self.t2.start(now, self._tcb.paths.data_path().destination.rto)

    def _queue_shutdown(self) -> None:
        tracker = self._tcb.tracker
        assert tracker is not None
        self._tcb.outbox.queue(ShutdownChunk(tracker.cumulative_tsn))
