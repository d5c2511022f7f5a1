"""Peer addresses of an association: per-path timers, heartbeats and failure detection.

Each peer address is a :class:`PeerPath`: its :class:`~sctpmh.core.destination.Destination`
(RTO, congestion window, error count, state) and the timers that belong to it. The functions
below are private methods of :class:`~sctpmh.core.association.Association` (bound in its class
body under the same names); they take the association as ``self``. They cover:

* 8.3: HEARTBEATs on idle paths, their acknowledgement and RTT samples.
* 8.1, 8.2 (and RFC 7829's Potentially Failed state): error counting per destination and for
  the association, path state changes (reported as ``PathStateChanged``), association failure.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from sctpmh.core import causes
from sctpmh.core.chunks import HeartbeatAckChunk, HeartbeatChunk
from sctpmh.core.destination import Destination
from sctpmh.core.states import HEARTBEATING
from sctpmh.core.timers import Timer
from sctpmh.events import PathState, PathStateChanged

if TYPE_CHECKING:
    from sctpmh.core.association import Association
    from sctpmh.core.intake import Inbound

__all__ = ["Address", "PeerPath"]

Address = tuple[str, int]
"""An SCTP transport address: (host, port)."""

# Heartbeat Info (opaque to the peer, RFC 9260 section 8.3): nonce, send time, host.
_HEARTBEAT_INFO = struct.Struct("!Qd")


class PeerPath:
    """One peer address: its :class:`Destination` and the timers that belong to it."""

    __slots__ = (
        "destination",
        "heartbeat",
        "heartbeat_nonce",
        "heartbeat_sent_at",
        "last_sent",
        "t3",
    )

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self.t3 = Timer()
        """T3-rtx (RFC 9260 section 6.3.2)."""
        self.heartbeat = Timer()
        """Next HEARTBEAT, or the deadline of the one outstanding (section 8.3)."""
        self.heartbeat_nonce: int | None = None
        self.heartbeat_sent_at = 0.0
        self.last_sent = 0.0


def _add_path(self: Association, address: Address) -> PeerPath:
    path = self._paths.get(address[0])
    if path is None:
        path = PeerPath(Destination(address, self.config, self.core.mtu))
        self._paths[address[0]] = path
    return path


def _primary_path(self: Association) -> PeerPath:
    assert self._primary is not None
    return self._paths[self._primary]


def _on_heartbeat_timer(self: Association, path: PeerPath, now: float) -> None:
    if self.state not in HEARTBEATING:
        path.heartbeat_nonce = None
        return
    destination = path.destination
    if path.heartbeat_nonce is not None:
        # RFC 9260 section 8.3: a HEARTBEAT unanswered within one RTO counts as an error
        # of the destination and the association; back off like a T3 timeout.
        path.heartbeat_nonce = None
        destination.back_off()
        if self._count_error(path, now):
            return
        path.heartbeat.start(now, self._heartbeat_interval(destination))
        return
    if path.t3.running:
        # Data is outstanding there: its acknowledgements (or T3) watch the path.
        path.heartbeat.start(now, self._heartbeat_delay(path))
        return
    idle_since = path.last_sent + destination.rto + self.config.heartbeat_interval
    if now < idle_since:
        # Data went there recently; the path is idle only from then on.
        path.heartbeat.deadline = idle_since
        return
    self._send_heartbeat(path, now)


def _send_heartbeat(self: Association, path: PeerPath, now: float) -> None:
    nonce = self._rng.getrandbits(64)
    path.heartbeat_nonce = nonce
    path.heartbeat_sent_at = now
    info = _HEARTBEAT_INFO.pack(nonce, now) + path.destination.address[0].encode()
    self._control.append((HeartbeatChunk(info), path.destination.address))
    self.stats.heartbeats_sent += 1
    # Section 8.3: the answer is due within one RTO.
    path.heartbeat.start(now, path.destination.rto)


def _on_heartbeat(self: Association, chunk: HeartbeatChunk, inbound: Inbound) -> bool:
    # RFC 9260 section 8.3: echo the info back to where it came from.
    self._control.append((HeartbeatAckChunk(chunk.info), inbound.source))
    return True


def _on_heartbeat_ack(self: Association, chunk: HeartbeatAckChunk, inbound: Inbound) -> bool:
    info = chunk.info
    if len(info) < _HEARTBEAT_INFO.size:
        return True
    # The send time we trust is our own record, not the echoed copy.
    nonce, _echoed_time = _HEARTBEAT_INFO.unpack_from(info)
    try:
        host = info[_HEARTBEAT_INFO.size :].decode()
    except UnicodeDecodeError:
        return True
    path = self._paths.get(host)
    if path is None or path.heartbeat_nonce != nonce:
        return True  # not one we sent, or already answered: no RTT sample from it
    self.stats.heartbeat_acks_received += 1
    path.heartbeat_nonce = None
    destination = path.destination
    # Section 8.3: the HEARTBEAT ACK gives an RTT sample and clears the error counters.
    destination.rtt_sample(inbound.now - path.heartbeat_sent_at)
    self._error_count = 0
    self._path_reachable(path)
    path.heartbeat.start(inbound.now, self._heartbeat_delay(path))
    return True


def _heartbeat_delay(self: Association, path: PeerPath) -> float:
    return path.destination.rto + self._heartbeat_interval(path.destination)


def _heartbeat_interval(self: Association, destination: Destination) -> float:
    return max(0.0, self.config.heartbeat_interval + self._jitter(destination))


def _jitter(self: Association, destination: Destination) -> float:
    # RFC 9260 section 8.3: spread heartbeats by +-50% of the RTO.
    return (self._rng.random() - 0.5) * destination.rto


def _count_error(self: Association, path: PeerPath, now: float) -> bool:
    # RFC 9260 sections 8.1, 8.2 (and RFC 7829): one more timeout on ``path``. Returns True
    # when the association failed.
    destination = path.destination
    destination.error_count += 1
    self._error_count += 1
    pf_threshold = self.config.potentially_failed_threshold
    if destination.error_count > self.config.path_max_retransmissions:
        self._set_path_state(path, PathState.INACTIVE)
    elif pf_threshold is not None and destination.error_count > pf_threshold:
        self._set_path_state(path, PathState.POTENTIALLY_FAILED)
    if self._error_count > self.config.association_max_retransmissions:
        # Section 8.1: the peer is unreachable. Tell it, in case only one direction died.
        self._send_abort(
            now, (causes.protocol_violation(b"Association exceeded its max_retrans count"),)
        )
        self._close(now, None, aborted=True, lost=True)
        return True
    return False


def _path_reachable(self: Association, path: PeerPath) -> None:
    path.destination.error_count = 0
    self._set_path_state(path, PathState.ACTIVE)


def _set_path_state(self: Association, path: PeerPath, state: PathState) -> None:
    destination = path.destination
    if destination.state is not state:
        destination.state = state
        self._events.append(PathStateChanged(destination.address, state))
