"""Ending the association: the graceful SHUTDOWN sequence and ABORT (RFC 9260 section 9).

The functions below are private methods of :class:`~sctpmh.core.association.Association`
(bound in its class body under the same names); they take the association as ``self``:

* 9.2: SHUTDOWN / SHUTDOWN ACK / SHUTDOWN COMPLETE once all data is acknowledged, with the
  T2-shutdown timer (the T5-shutdown-guard expiry is in ``Association.handle_timer``).
* 9.1: sending and receiving ABORT (tag rules of 8.5.1 B, C), and closing: unsent and
  unacknowledged messages come back as ``SendFailed`` before ``AssociationClosed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sctpmh.core.bundling import fit_causes
from sctpmh.core.causes import ErrorCause
from sctpmh.core.chunks import (
    AbortChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
)
from sctpmh.core.serial import tsn_lt
from sctpmh.core.states import HANDSHAKE, State
from sctpmh.events import AssociationClosed, AssociationLost, PeerShutdown, SendFailed

if TYPE_CHECKING:
    from sctpmh.core.association import Association
    from sctpmh.core.intake import Inbound

__all__ = ["T5_FACTOR"]

T5_FACTOR = 5
"""RFC 9260 section 9.2: T5-shutdown-guard, suggested 5 times RTO.Max."""


def _on_t2(self: Association, now: float) -> None:
    # RFC 9260 section 9.2: resend SHUTDOWN / SHUTDOWN ACK, counting the timeout as an
    # error of the destination and of the association.
    path = self._primary_path()
    path.destination.back_off()
    if self._count_error(path, now):
        return
    if self.state is State.SHUTDOWN_SENT:
        self._queue_shutdown()
    elif self.state is State.SHUTDOWN_ACK_SENT:
        self._control.append((ShutdownAckChunk(), None))
    else:
        return
    self._t2.start(now, path.destination.rto)


def _on_shutdown(self: Association, chunk: ShutdownChunk, inbound: Inbound) -> bool:
    now = inbound.now
    sender = self._sender
    # RFC 9260 section 9.2: the SHUTDOWN's Cumulative TSN Ack acknowledges like a SACK.
    if sender is not None and tsn_lt(sender.cumulative_tsn_ack, chunk.cumulative_tsn_ack):
        self._process_ack(
            SackChunk(chunk.cumulative_tsn_ack, self._peer_a_rwnd), now, gaps_reported=False
        )
        if self._finished:
            return False
    if self.state in (State.ESTABLISHED, State.SHUTDOWN_PENDING):
        self.state = State.SHUTDOWN_RECEIVED
        self._events.append(PeerShutdown())
        self._check_shutdown_progress(now)
    elif self.state is State.SHUTDOWN_SENT:
        # Both sides shut down at once: answer with SHUTDOWN ACK (section 9.2).
        self._events.append(PeerShutdown())
        self.state = State.SHUTDOWN_ACK_SENT
        self._control.append((ShutdownAckChunk(), None))
        self._t2.start(now, self._primary_path().destination.rto)
    return True


def _on_shutdown_ack(self: Association, chunk: ShutdownAckChunk, inbound: Inbound) -> bool:
    if self.state in HANDSHAKE:
        # RFC 9260 section 8.5.1 E: out of the blue (8.4 rule 5).
        self._send_raw(
            inbound.source,
            inbound.source_port,
            inbound.tag,
            (ShutdownCompleteChunk(reflected_tag=True),),
        )
        return False
    # Section 9.2: SHUTDOWN COMPLETE ends it.
    self._send_raw(
        self._primary_path().destination.address,
        self._remote_port,
        self._peer_tag,
        (ShutdownCompleteChunk(),),
    )
    self._close(inbound.now, None, aborted=False)
    return False


def _on_shutdown_complete(
    self: Association, chunk: ShutdownCompleteChunk, inbound: Inbound
) -> bool:
    if not self._reflected_tag_ok(chunk.reflected_tag, inbound.tag):
        self.stats.vtag_mismatch += 1
        return False
    self._close(inbound.now, None, aborted=False)
    return False


def _check_shutdown_progress(self: Association, now: float) -> None:
    # RFC 9260 section 9.2: once everything queued is acknowledged, SHUTDOWN-PENDING sends
    # SHUTDOWN and SHUTDOWN-RECEIVED sends SHUTDOWN ACK.
    sender = self._sender
    if sender is None or not sender.all_acked:
        return
    rto = self._primary_path().destination.rto
    if self.state is State.SHUTDOWN_PENDING:
        self.state = State.SHUTDOWN_SENT
        self._queue_shutdown()
        self._t2.start(now, rto)
        self._t5.start(now, T5_FACTOR * self.config.rto_max)
    elif self.state is State.SHUTDOWN_RECEIVED:
        self.state = State.SHUTDOWN_ACK_SENT
        self._control.append((ShutdownAckChunk(), None))
        self._t2.start(now, rto)


def _queue_shutdown(self: Association) -> None:
    tracker = self._tracker
    assert tracker is not None
    self._control.append((ShutdownChunk(tracker.cumulative_tsn), None))


def _on_abort(self: Association, chunk: AbortChunk, inbound: Inbound) -> bool:
    if not self._reflected_tag_ok(chunk.reflected_tag, inbound.tag):
        # RFC 9260 section 8.5.1 B.
        self.stats.vtag_mismatch += 1
        return False
    self.stats.aborts_received += 1
    cause = chunk.causes[0].code if chunk.causes else None
    self._close(inbound.now, cause, aborted=True)
    return False


def _send_abort(self: Association, now: float, abort_causes: tuple[ErrorCause, ...]) -> None:
    if not self._peer_tag or self._primary is None:
        return
    self.stats.aborts_sent += 1
    chunk = AbortChunk(tuple(fit_causes(abort_causes, self.core.mtu)))
    self._send_raw(
        self._primary_path().destination.address, self._remote_port, self._peer_tag, (chunk,)
    )


def _close(
    self: Association, now: float, cause: int | None, *, aborted: bool, lost: bool = False
) -> None:
    if self._finished:
        return
    self._finished = True
    self._close_cause = cause
    self._aborted = aborted
    self._deliver(None)
    error = cause if cause is not None else 0
    for data, stream, ppid, _unordered in self._pending:
        self._events.append(SendFailed(data, stream, ppid, error, False))
    self._pending.clear()
    if self._sender is not None:
        for data, stream, ppid, sent in self._sender.drain_unsent():
            self._events.append(SendFailed(data, stream, ppid, error, sent))
    if lost:
        self._events.append(AssociationLost(self.association_id, cause))
    self._events.append(AssociationClosed(cause, aborted))
    self.state = State.CLOSED
    self._control.clear()
    for timer in (self._t1, self._t2, self._t5, self._sack_timer):
        timer.stop()
    for path in self._paths.values():
        path.t3.stop()
        path.heartbeat.stop()
