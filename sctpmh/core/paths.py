"""The paths of an association: local and peer addresses, their timers and path selection.

A :class:`PathManager` owns everything an association knows about where packets go: our local
addresses, the peer's addresses (each a :class:`PeerPath` with its
:class:`~sctpmh.core.destination.Destination` and timers), which local address each peer
address is reached from, which peer address is primary, and the association's overall error
counter. The association asks it where to send (:meth:`PathManager.data_path`,
:meth:`PathManager.alternate`, :meth:`PathManager.source_for`) and tells it what happened
(timeouts, acknowledgements, HEARTBEAT ACKs); it reports path changes as ``PathStateChanged``
and ``PrimaryChanged`` events, like the kernel backend does. What it covers:

* RFC 9260 5.4: addresses learned from INIT / INIT ACK start unconfirmed; they are probed with
  HEARTBEATs carrying a random nonce and confirmed only by the matching HEARTBEAT ACK. No DATA
  goes to an unconfirmed address and it is never primary. Its timeouts count against neither
  the path nor the association, so an address the peer lists but never answers for does not
  harm the association.
* 6.4, 6.4.1: the primary path, the data path (the primary while it is active, else another
  active path), and an alternate path for retransmissions.
* 8.1, 8.2 and RFC 7829: error counting per destination and for the association; the
  potentially-failed state (new data moves off a path at once, the path is probed every RTO);
  the inactive state; the return of a path once a HEARTBEAT ACK or a SACK shows it reachable.
* 8.3: HEARTBEATs on idle paths, their acknowledgement and RTT samples.

A path is a (local address, peer address) pair: each peer address is reached from a local
address of the same family, first the one sharing the longest prefix with it (what a routing
table on a multi-homed host most often chooses). While an address is unconfirmed, or after it
failed, each unanswered probe tries the next local address of the family; the pair a HEARTBEAT
ACK answered is kept.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from random import Random

from sctpmh.addresses import Address
from sctpmh.config import Config
from sctpmh.core.chunks import Chunk, HeartbeatAckChunk, HeartbeatChunk
from sctpmh.core.destination import Destination
from sctpmh.core.timers import Timer
from sctpmh.events import Event, Message, PathState, PathStateChanged, PrimaryChanged

__all__ = ["Address", "PathManager", "PeerPath"]


# Heartbeat Info (opaque to the peer, RFC 9260 section 8.3): nonce, send time, then the host.
_HEARTBEAT_INFO = struct.Struct("!Qd")

_ControlSink = Callable[[Chunk, "PeerPath"], None]


class PeerPath:
    """One peer address: its :class:`Destination`, the timers that belong to it and the local
    address it is reached from."""

    __slots__ = (
        "confirmed",
        "destination",
        "heartbeat",
        "heartbeat_nonce",
        "heartbeat_sent_at",
        "last_sent",
        "left_active",
        "source",
        "t3",
    )

    def __init__(self, destination: Destination, source: Address | None, confirmed: bool) -> None:
        self.destination = destination
        self.source = source
        """The local address packets to this peer address leave from (None: no local
        address of its family)."""
        self.confirmed = confirmed
        """Whether the address is confirmed (RFC 9260 section 5.4)."""
        self.t3 = Timer()
        """T3-rtx (RFC 9260 section 6.3.2)."""
        self.heartbeat = Timer()
        """Next HEARTBEAT, or the deadline of the one outstanding (section 8.3)."""
        self.heartbeat_nonce: int | None = None
        self.heartbeat_sent_at = 0.0
        self.last_sent = 0.0
        self.left_active = 0
        """Order in which paths last stopped being active (higher: more recently)."""

    @property
    def address(self) -> Address:
        """The peer address, ``(host, port)``."""
        return self.destination.address

    @property
    def usable(self) -> bool:
        """Whether new data may go here: confirmed and active (RFC 9260 5.4, RFC 7829)."""
        return self.destination.state is PathState.ACTIVE


class PathManager:
    """The local and peer addresses of one association and everything per path.

    ``events`` is the association's event queue; ``send_control`` queues a chunk (a
    HEARTBEAT) for one path.
    """

    __slots__ = (
        "_config",
        "_events",
        "_mtu",
        "_paths",
        "_primary",
        "_rng",
        "_send_control",
        "_state_changes",
        "error_count",
        "local_addresses",
    )

    def __init__(
        self,
        config: Config,
        mtu: int,
        local_addresses: Sequence[Address],
        rng: Random,
        events: deque[Event | Message],
        send_control: _ControlSink,
    ) -> None:
        self._config = config
        self._mtu = mtu
        self._rng = rng
        self._events = events
        self._send_control = send_control
        self.local_addresses: tuple[Address, ...] = tuple(local_addresses)
        """Our addresses, ``(host, sctp_port)``."""
        self._paths: dict[str, PeerPath] = {}
        self._primary: PeerPath | None = None
        self._state_changes = 0
        self.error_count = 0
        """The association's overall error counter (RFC 9260 section 8.1)."""

    # --- the set of paths ------------------------------------------------------------------

    def __iter__(self) -> Iterator[PeerPath]:
        return iter(self._paths.values())

    def all(self) -> list[PeerPath]:
        """Every peer path, in the order they were learned."""
        return list(self._paths.values())

    def get(self, host: str) -> PeerPath | None:
        """The path to peer ``host``, or None when it is not a peer address."""
        return self._paths.get(host)

    def __contains__(self, host: object) -> bool:
        return host in self._paths

    def __len__(self) -> int:
        return len(self._paths)

    @property
    def primary(self) -> PeerPath | None:
        """The primary path (RFC 9260 section 6.4), None before any peer address is known."""
        return self._primary

    def add(self, address: Address, *, confirmed: bool) -> PeerPath:
        """Add a peer address (or confirm an existing one when ``confirmed``)."""
        path = self._paths.get(address[0])
        if path is None:
            state = PathState.ACTIVE if confirmed else PathState.UNCONFIRMED
            destination = Destination(address, self._config, self._mtu, state=state)
            path = PeerPath(destination, self._pick_source(address[0], None), confirmed)
            self._paths[address[0]] = path
        elif confirmed and not path.confirmed:
            path.confirmed = True
            path.destination.state = PathState.ACTIVE
        if self._primary is None and path.confirmed:
            self._primary = path
        return path

    def reachable(self, host: str) -> bool:
        """Whether some local address can send to peer ``host`` (one of its family)."""
        return self._pick_source(host, None) is not None

    def set_primary(self, path: PeerPath) -> None:
        """Make ``path`` primary (RFC 9260 section 6.4); reports ``PrimaryChanged``."""
        if path is not self._primary:
            self._primary = path
            self._events.append(PrimaryChanged(path.address))

    def note_arrival(self, path: PeerPath, local: Address | None) -> None:
        """A packet from ``path``'s peer address arrived on ``local``: until a HEARTBEAT ACK
        confirmed the pair, answer from there (routes are mostly symmetric)."""
        if (
            local is not None
            and local != path.source
            and path.heartbeat_nonce is None
            and not path.confirmed
            and local in self.local_addresses
        ):
            path.source = local

    # --- where to send ---------------------------------------------------------------------

    def data_path(self, preferred: PeerPath | None = None) -> PeerPath:
        """Where new DATA goes (RFC 9260 section 6.4, 6.4.1; RFC 7829 section 5).

        ``preferred`` (a per-message destination) while it is active, else the primary while
        it is active, else another active path; when none is active, the potentially failed
        path with the fewest errors; with nothing better, the primary.
        """
        if preferred is not None and preferred.destination.state is PathState.ACTIVE:
            return preferred
        primary = self._primary
        assert primary is not None
        if primary.destination.state is PathState.ACTIVE:
            return primary
        best: PeerPath | None = None
        for path in self._paths.values():
            state = path.destination.state
            if state is PathState.ACTIVE:
                return path
            if state is PathState.POTENTIALLY_FAILED and (
                best is None
                or (path.destination.error_count, -path.left_active)
                < (best.destination.error_count, -best.left_active)
            ):
                # RFC 7829 section 5: the fewest errors; of equals, the one active last.
                best = path
        return best if best is not None else primary

    def alternate(self, path: PeerPath | None) -> PeerPath:
        """Where a retransmission of data last sent on ``path`` goes: another active address
        if there is one (RFC 9260 section 6.4), else the data path."""
        if path is not None:
            for other in self._paths.values():
                if other is not path and other.destination.state is PathState.ACTIVE:
                    return other
        return self.data_path()

    def path_of(self, destination: Destination | None) -> PeerPath | None:
        """The path a destination belongs to."""
        if destination is None:
            return None
        return self._paths.get(destination.address[0])

    def reply_path(self, host: str | None) -> PeerPath:
        """Where an answer to a packet from ``host`` goes: back there while that path is not
        failing (RFC 9260 section 6.4), else the data path."""
        path = self._paths.get(host) if host is not None else None
        if path is not None and path.confirmed and path.destination.state is PathState.ACTIVE:
            return path
        return self.data_path()

    def source_for(self, address: Address) -> Address | None:
        """The local address to send to peer ``address`` from (a known path's source, else a
        local address of the same family)."""
        path = self._paths.get(address[0])
        if path is not None and path.source is not None:
            return path.source
        return self._pick_source(address[0], None)

    def _pick_source(self, host: str, after: Address | None) -> Address | None:
        # The local addresses of the host's family, by the length of the prefix they share
        # with it; ``after`` asks for the next candidate after that one (round robin).
        peer = _ip(host)
        if peer is None:
            return self.local_addresses[0] if self.local_addresses else None
        candidates = [
            (local, ip)
            for local in self.local_addresses
            if (ip := _ip(local[0])) is not None and ip.version == peer.version
        ]
        if not candidates:
            return None
        peer_bits = int(peer)
        width = peer.max_prefixlen
        candidates.sort(key=lambda item: -_common_prefix(int(item[1]), peer_bits, width))
        ordered = [local for local, _ in candidates]
        if after is None or after not in ordered:
            return ordered[0]
        return ordered[(ordered.index(after) + 1) % len(ordered)]

    # --- failure detection -----------------------------------------------------------------

    def count_error(self, path: PeerPath) -> bool:
        """One more timeout on ``path`` (RFC 9260 sections 8.1, 8.2, RFC 7829 section 5).

        Returns True when the association's counter exceeded Association.Max.Retrans: the
        peer is unreachable and the association must end.
        """
        if not path.confirmed:
            # Section 5.4: probing an unconfirmed address is no sign of the peer's health.
            # The pair may be what fails: try the next local address of the family.
            path.source = self._pick_source(path.address[0], path.source)
            return False
        destination = path.destination
        destination.error_count += 1
        self.error_count += 1
        config = self._config
        pf_threshold = config.potentially_failed_threshold
        if (
            destination.state is PathState.INACTIVE
            and destination.error_count > config.path_max_retransmissions
        ):
            # Dead for a while: the pair may be what fails, not the peer address; probe
            # from the next local address of the family (a HEARTBEAT ACK keeps it).
            path.source = self._pick_source(path.address[0], path.source)
        elif path.source != (preferred := self._pick_source(path.address[0], None)):
            # A pair found that way: its answers come back to another local address than
            # the preferred one, across another network when routes go by destination, so
            # it fails with either network. At its first timeout go back to the pair on the
            # address's own network, or two paths fail as one.
            path.source = preferred
        if destination.error_count > config.path_max_retransmissions:
            self._set_state(path, PathState.INACTIVE)
        elif pf_threshold is not None and destination.error_count > pf_threshold:
            self._set_state(path, PathState.POTENTIALLY_FAILED)
        return self.error_count > config.association_max_retransmissions

    def acknowledged(self, destinations: Iterable[Destination]) -> None:
        """A SACK newly acknowledged data sent to ``destinations``: their error counters and
        the association's are cleared and they are active (RFC 9260 sections 8.1, 8.2)."""
        self.error_count = 0
        for destination in destinations:
            path = self._paths.get(destination.address[0])
            if path is not None:
                self._reachable(path)

    def _reachable(self, path: PeerPath) -> None:
        path.destination.error_count = 0
        if not path.confirmed:
            path.confirmed = True
        self._set_state(path, PathState.ACTIVE)
        if self._primary is None:
            self._primary = path

    def _set_state(self, path: PeerPath, state: PathState) -> None:
        destination = path.destination
        if destination.state is not state:
            if destination.state is PathState.ACTIVE:
                self._state_changes += 1
                path.left_active = self._state_changes
            destination.state = state
            self._events.append(PathStateChanged(destination.address, state))

    # --- timers ----------------------------------------------------------------------------

    def deadlines(self) -> list[float]:
        """The deadlines of every path's timers."""
        deadlines = []
        for path in self._paths.values():
            if path.t3.deadline is not None:
                deadlines.append(path.t3.deadline)
            if path.heartbeat.deadline is not None:
                deadlines.append(path.heartbeat.deadline)
        return deadlines

    def start_heartbeats(self, now: float) -> None:
        """The association is up: schedule heartbeats; unconfirmed addresses are probed at
        once (RFC 9260 section 5.4: promptly), confirmed ones once idle (8.3)."""
        for path in self._paths.values():
            path.last_sent = now
            path.heartbeat_nonce = None
            if path.confirmed:
                path.heartbeat.start(now, self._heartbeat_delay(path))
            else:
                path.heartbeat.start(now, 0.0)

    def on_heartbeat_timer(self, path: PeerPath, now: float, heartbeating: bool) -> bool:
        """The heartbeat timer of ``path`` expired; returns True when the association failed
        (a HEARTBEAT unanswered one time too many)."""
        if not heartbeating:
            path.heartbeat_nonce = None
            return False
        destination = path.destination
        if path.heartbeat_nonce is not None:
            # RFC 9260 section 8.3: a HEARTBEAT unanswered within one RTO counts as an error
            # of the destination and the association; back off like a T3 timeout.
            path.heartbeat_nonce = None
            destination.back_off()
            if self.count_error(path):
                return True
            if not path.confirmed or destination.state is PathState.POTENTIALLY_FAILED:
                # Section 5.4 (probe unconfirmed addresses promptly) and RFC 7829 section 5
                # (probe a potentially failed path once per RTO): no HB.interval wait.
                self._send_heartbeat(path, now)
            else:
                path.heartbeat.start(now, self._heartbeat_interval(destination))
            return False
        if path.t3.running:
            # Data is outstanding there: its acknowledgements (or T3) watch the path.
            path.heartbeat.start(now, self._heartbeat_delay(path))
            return False
        idle_since = path.last_sent + destination.rto + self._config.heartbeat_interval
        if path.confirmed and destination.state is PathState.ACTIVE and now < idle_since:
            # Data went there recently; the path is idle only from then on.
            path.heartbeat.deadline = idle_since
            return False
        self._send_heartbeat(path, now)
        return False

    def _send_heartbeat(self, path: PeerPath, now: float) -> None:
        # RFC 9260 section 8.3 (and 5.4: the nonce is what confirms an address).
        nonce = self._rng.getrandbits(64)
        path.heartbeat_nonce = nonce
        path.heartbeat_sent_at = now
        info = _HEARTBEAT_INFO.pack(nonce, now) + path.address[0].encode()
        self._send_control(HeartbeatChunk(info), path)
        # Section 8.3: the answer is due within one RTO.
        path.heartbeat.start(now, path.destination.rto)

    def on_heartbeat_ack(self, chunk: HeartbeatAckChunk, now: float) -> bool:
        """A HEARTBEAT ACK arrived; True when it answered one of ours (RFC 9260 section 8.3)."""
        info = chunk.info
        if len(info) < _HEARTBEAT_INFO.size:
            return False
        # The send time we trust is our own record, not the echoed copy.
        nonce, _echoed_time = _HEARTBEAT_INFO.unpack_from(info)
        try:
            host = info[_HEARTBEAT_INFO.size :].decode()
        except UnicodeDecodeError:
            return False
        path = self._paths.get(host)
        if path is None or path.heartbeat_nonce != nonce:
            return False  # not one we sent, or already answered: no RTT sample from it
        path.heartbeat_nonce = None
        destination = path.destination
        # Section 8.3: the HEARTBEAT ACK gives an RTT sample and clears the error counters;
        # section 5.4: it confirms the address.
        destination.rtt_sample(now - path.heartbeat_sent_at)
        self.error_count = 0
        self._reachable(path)
        path.heartbeat.start(now, self._heartbeat_delay(path))
        return True

    def _heartbeat_delay(self, path: PeerPath) -> float:
        return path.destination.rto + self._heartbeat_interval(path.destination)

    def _heartbeat_interval(self, destination: Destination) -> float:
        # RFC 9260 section 8.3: spread heartbeats by +-50% of the RTO.
        jitter = (self._rng.random() - 0.5) * destination.rto
        return max(0.0, self._config.heartbeat_interval + jitter)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _common_prefix(a: int, b: int, width: int) -> int:
    return width - (a ^ b).bit_length()
