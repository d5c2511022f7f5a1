"""The association state machine (RFC 9260), driven through a tiny in-test network.

``Wire`` passes datagrams between two Associations with a fixed one-way delay and a float
clock (no sleeps, no simnet): the tests here pin the association's own behaviour, packet by
packet, and can drop or rewrite any datagram.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import random
import struct
from collections.abc import Callable

import pytest

from sctpmh.config import Config
from sctpmh.core.association import Association, CoreConfig, State
from sctpmh.core.causes import CauseCode, out_of_resource
from sctpmh.core.chunks import (
    AbortChunk,
    Chunk,
    CookieAckChunk,
    CookieEchoChunk,
    DataChunk,
    ErrorChunk,
    HeartbeatAckChunk,
    HeartbeatChunk,
    InitAckChunk,
    InitChunk,
    SackChunk,
    ShutdownAckChunk,
    ShutdownChunk,
    ShutdownCompleteChunk,
    UnknownChunk,
)
from sctpmh.core.packet import Packet, build_packet, decode_packet
from sctpmh.core.params import Param, ParamType
from sctpmh.errors import (
    AssociationAbortedError,
    AssociationClosedError,
    MessageTooLargeError,
    StreamError,
)
from sctpmh.events import (
    AssociationClosed,
    AssociationLost,
    AssociationRestarted,
    AssociationUp,
    Event,
    Message,
    PathState,
    PathStateChanged,
    PeerShutdown,
    RemoteError,
    SendFailed,
)

CLIENT = ("10.0.0.1", 5001)
SERVER = ("10.0.0.2", 5002)
DELAY = 0.01

Filter = Callable[[str, Packet], Packet | None]


class Wire:
    """Two associations, a one-way delay, a clock, a log of every packet, optional filter."""

    def __init__(
        self,
        *,
        config: Config | None = None,
        client_config: Config | None = None,
        server_config: Config | None = None,
        seed: int = 1,
        **core: object,
    ) -> None:
        self.now = 0.0
        self.client = _make(CLIENT, SERVER, client_config or config, seed, core)
        self.server = _make(SERVER, CLIENT, server_config or config, seed + 100, core)
        self.names = {id(self.client): "client", id(self.server): "server"}
        self.hosts = {CLIENT[0]: self.client, SERVER[0]: self.server}
        self.events: dict[str, list[Event | Message]] = {"client": [], "server": []}
        self.log: list[tuple[float, str, Packet]] = []
        self.filter: Filter | None = None
        self.reading = {"client": True, "server": True}
        self._queue: list[tuple[float, int, str, bytes, tuple[str, int]]] = []
        self._seq = itertools.count()

    def endpoints(self) -> list[tuple[str, Association]]:
        return [("client", self.client), ("server", self.server)]

    def connect(self) -> None:
        self.client.connect([SERVER], self.now)

    def establish(self) -> None:
        self.connect()
        self.run(lambda: self.both(State.ESTABLISHED), max_time=5)

    def both(self, state: State) -> bool:
        return self.client.state is state and self.server.state is state

    def inject(self, to: str, data: bytes, source: tuple[str, int] = CLIENT) -> None:
        """Deliver raw bytes to an endpoint at once."""
        self.assoc(to).receive_datagram(data, source, self.now)
        self._collect()

    def assoc(self, name: str) -> Association:
        return self.client if name == "client" else self.server

    def _collect(self) -> None:
        for name, assoc in self.endpoints():
            for data, _source, address in assoc.datagrams_to_send(self.now):
                packet = decode_packet(data)
                self.log.append((self.now, name, packet))
                if self.filter is not None:
                    filtered = self.filter(name, packet)
                    if filtered is None:
                        continue
                    if filtered is not packet:
                        data = build_packet(
                            filtered.source_port,
                            filtered.destination_port,
                            filtered.verification_tag,
                            filtered.chunks,
                        )
                target = "server" if address[0] == SERVER[0] else "client"
                source = CLIENT if name == "client" else SERVER
                entry = (self.now + DELAY, next(self._seq), target, data, source)
                heapq.heappush(self._queue, entry)
            if self.reading[name]:
                while (event := assoc.next_event()) is not None:
                    self.events[name].append(event)

    def run(self, until: Callable[[], bool] | None = None, max_time: float = 30.0) -> None:
        """Step until ``until()`` holds (or nothing is left to do, without ``until``)."""
        end = self.now + max_time
        for _ in range(200_000):
            self._collect()
            if until is not None and until():
                return
            deadlines = [t for _, a in self.endpoints() if (t := a.get_timer()) is not None]
            candidates = deadlines + ([self._queue[0][0]] if self._queue else [])
            if not candidates:
                break
            due = min(candidates)
            if due > end:
                self.now = end
                break
            self.now = max(self.now, due)
            while self._queue and self._queue[0][0] <= self.now:
                _, _, target, data, source = heapq.heappop(self._queue)
                self.assoc(target).receive_datagram(data, source, self.now)
            for _, assoc in self.endpoints():
                timer = assoc.get_timer()
                if timer is not None and timer <= self.now:
                    assoc.handle_timer(self.now)
        if until is not None:
            raise AssertionError(f"condition not met by t={self.now}")

    def sent(self, name: str, kind: type[Chunk]) -> list[tuple[float, Packet, Chunk]]:
        return [
            (t, packet, chunk)
            for t, sender, packet in self.log
            if sender == name
            for chunk in packet.chunks
            if isinstance(chunk, kind)
        ]

    def messages(self, name: str) -> list[Message]:
        return [e for e in self.events[name] if isinstance(e, Message)]

    def closed(self, name: str) -> AssociationClosed | None:
        found = [e for e in self.events[name] if isinstance(e, AssociationClosed)]
        return found[-1] if found else None


def _make(
    local: tuple[str, int],
    remote: tuple[str, int],
    config: Config | None,
    seed: int,
    core: dict[str, object],
) -> Association:
    return Association(
        config or Config(),
        CoreConfig(local_port=local[1], remote_port=remote[1], **core),  # type: ignore[arg-type]
        local_addresses=[local[0]],
        rng=random.Random(seed),
    )


def packet_to_server(tag: int, *chunks: Chunk) -> bytes:
    return build_packet(CLIENT[1], SERVER[1], tag, chunks)


def init_chunk(tag: int = 0x0BADCAFE, params: tuple[Param, ...] = ()) -> InitChunk:
    return InitChunk(tag, 65536, 10, 10, 1000, params)


# --- handshake -----------------------------------------------------------------------------------


def test_handshake_establishes_both_sides_with_negotiated_streams() -> None:
    # RFC 9260 sections 5.1, 5.1.1: INIT, INIT ACK, COOKIE ECHO, COOKIE ACK; each side's
    # outbound streams are min(its OS, the peer's MIS).
    wire = Wire(
        client_config=Config(outbound_streams=20, inbound_streams=3),
        server_config=Config(outbound_streams=7, inbound_streams=5),
    )
    wire.establish()
    kinds = [type(p.chunks[0]) for _, _, p in wire.log[:4]]
    assert kinds == [InitChunk, InitAckChunk, CookieEchoChunk, CookieAckChunk]
    [client_up] = [e for e in wire.events["client"] if isinstance(e, AssociationUp)]
    [server_up] = [e for e in wire.events["server"] if isinstance(e, AssociationUp)]
    assert (client_up.outbound_streams, client_up.inbound_streams) == (5, 3)
    assert (server_up.outbound_streams, server_up.inbound_streams) == (3, 5)
    assert wire.client.peer_tag == wire.server.local_tag
    assert wire.server.peer_tag == wire.client.local_tag
    # The INIT carried tag 0 (section 8.5.1 A); everything after carries the peer's tag.
    _, init_packet, _ = wire.sent("client", InitChunk)[0]
    assert init_packet.verification_tag == 0
    _, echo_packet, _ = wire.sent("client", CookieEchoChunk)[0]
    assert echo_packet.verification_tag == wire.server.local_tag


def test_listener_keeps_no_state_until_cookie_echo() -> None:
    # RFC 9260 section 5.1.3: the INIT ACK is stateless; only the COOKIE ECHO creates the TCB.
    wire = Wire()
    wire.inject("server", packet_to_server(0, init_chunk()))
    assert wire.server.state is State.CLOSED
    assert wire.server.destinations == {}
    [(_, packet, ack)] = wire.sent("server", InitAckChunk)
    assert isinstance(ack, InitAckChunk)
    assert packet.verification_tag == 0x0BADCAFE
    assert ack.state_cookie is not None


def test_init_retransmitted_with_backoff_then_gives_up() -> None:
    # RFC 9260 section 5.1 / 6.3.3: T1-init doubles each time; after Max.Init.Retransmits the
    # attempt fails.
    wire = Wire(config=Config(max_init_retransmissions=3, rto_max=60.0))
    wire.filter = lambda name, packet: None if name == "client" else packet
    wire.connect()
    wire.run(lambda: wire.closed("client") is not None, max_time=60)
    times = [t for t, _, _ in wire.sent("client", InitChunk)]
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [1.0, 2.0, 4.0]
    closed = wire.closed("client")
    assert closed is not None
    assert closed.aborted
    assert wire.client.state is State.CLOSED


def test_tampered_cookie_is_dropped_and_echo_retransmitted() -> None:
    # RFC 9260 section 5.1.5: a cookie whose MAC fails is discarded silently; the client's
    # T1-cookie resends the genuine one.
    wire = Wire()
    tampered: list[float] = []

    def tamper(name: str, packet: Packet) -> Packet | None:
        first = packet.chunks[0]
        if isinstance(first, CookieEchoChunk) and not tampered:
            tampered.append(wire.now)
            bad = bytearray(first.cookie)
            bad[5] ^= 0xFF
            return Packet(
                packet.source_port,
                packet.destination_port,
                packet.verification_tag,
                (CookieEchoChunk(bytes(bad)),),
            )
        return packet

    wire.filter = tamper
    wire.connect()
    wire.run(lambda: wire.client.state is State.COOKIE_ECHOED)
    wire.run(lambda: wire.server.stats.bad_cookies == 1)
    assert wire.server.state is State.CLOSED
    assert wire.sent("server", CookieAckChunk) == []
    wire.run(lambda: wire.both(State.ESTABLISHED))
    echoes = [t for t, _, _ in wire.sent("client", CookieEchoChunk)]
    assert len(echoes) == 2
    assert echoes[1] - echoes[0] == pytest.approx(1.0)


def test_stale_cookie_gets_error_and_a_new_init_with_preservative() -> None:
    # RFC 9260 sections 5.1.5 step 3 and 5.2.6: an expired cookie is answered with a Stale
    # Cookie ERROR; the client starts over with an INIT asking for a longer cookie life.
    wire = Wire(cookie_lifetime=0.5)
    held: list[bytes] = []

    def hold_first_echo(name: str, packet: Packet) -> Packet | None:
        if isinstance(packet.chunks[0], CookieEchoChunk) and not held:
            held.append(b"x")
            return None
        return packet

    wire.filter = hold_first_echo
    wire.connect()
    # The held COOKIE ECHO is resent by T1-cookie after 1 s: by then the cookie is stale.
    wire.run(lambda: bool(wire.sent("server", ErrorChunk)))
    (_, packet, error) = wire.sent("server", ErrorChunk)[0]
    assert isinstance(error, ErrorChunk)
    [cause] = error.causes
    assert cause.code == CauseCode.STALE_COOKIE
    (staleness,) = struct.unpack("!I", cause.info)
    assert staleness > 0
    assert packet.verification_tag == wire.client.local_tag
    assert wire.server.stats.stale_cookies == 1
    wire.run(lambda: wire.both(State.ESTABLISHED))
    inits = [c for _, _, c in wire.sent("client", InitChunk)]
    assert isinstance(inits[-1], InitChunk)
    assert any(p.type == ParamType.COOKIE_PRESERVATIVE for p in inits[-1].params)


# --- data ----------------------------------------------------------------------------------------


def test_data_both_ways_ordered_unordered_and_fragmented() -> None:
    wire = Wire()
    wire.establish()
    big = bytes(range(256)) * 40  # 10 KiB: fragmented at a 1280-byte MTU (section 6.9)
    wire.client.send(b"one", stream=1, ppid=46, now=wire.now)
    wire.client.send(big, stream=2, now=wire.now)
    wire.client.send(b"loose", unordered=True, now=wire.now)
    wire.server.send(b"reply", stream=3, ppid=7, now=wire.now)
    wire.run(lambda: len(wire.messages("server")) == 3 and len(wire.messages("client")) == 1)
    got = {m.data: m for m in wire.messages("server")}
    assert (got[b"one"].stream, got[b"one"].ppid, got[b"one"].ssn) == (1, 46, 0)
    assert got[big].stream == 2
    assert got[b"loose"].unordered
    assert got[b"loose"].ssn is None
    assert got[b"one"].source == CLIENT
    [reply] = wire.messages("client")
    assert (reply.data, reply.stream, reply.ppid) == (b"reply", 3, 7)
    assert all(len(encoded) <= 1280 for encoded in _encoded(wire, "client"))
    wire.run(lambda: wire.client.pending_bytes() == 0, max_time=1.0)


def _encoded(wire: Wire, name: str) -> list[bytes]:
    return [
        build_packet(p.source_port, p.destination_port, p.verification_tag, p.chunks)
        for _, sender, p in wire.log
        if sender == name
    ]


def test_lost_data_retransmitted_after_rto() -> None:
    # RFC 9260 section 6.3.3: T3-rtx (RTO.Initial 1 s) resends the lost chunk.
    wire = Wire()
    wire.establish()
    dropped: list[float] = []

    def drop_first_data(name: str, packet: Packet) -> Packet | None:
        if not dropped and any(isinstance(c, DataChunk) for c in packet.chunks):
            dropped.append(wire.now)
            return None
        return packet

    wire.filter = drop_first_data
    wire.client.send(b"again", now=wire.now)
    wire.run(lambda: bool(wire.messages("server")))
    sends = wire.sent("client", DataChunk)
    assert len(sends) == 2
    assert sends[1][2] == sends[0][2]
    assert sends[1][0] - sends[0][0] == pytest.approx(1.0)
    assert wire.client.stats.t3_expirations == 1
    assert [m.data for m in wire.messages("server")] == [b"again"]
    # The T3 timeout backed the RTO off (E2) and cut cwnd to one MTU (7.2.3).
    destination = wire.client.destinations[SERVER[0]]
    assert destination.cwnd <= 2 * 1280


def test_delayed_sack_every_second_packet_or_after_delay() -> None:
    # RFC 9260 section 6.2: SACK within 200 ms, or at once on every second packet.
    wire = Wire()
    wire.establish()
    start = wire.now
    wire.client.send(b"a", now=wire.now)
    wire.run(lambda: bool(wire.sent("server", SackChunk)))
    [(sack_time, _, _)] = wire.sent("server", SackChunk)
    assert sack_time - start == pytest.approx(DELAY + 0.2)

    wire.client.send(b"b" * 1200, now=wire.now)
    wire.client.send(b"c" * 1200, now=wire.now)
    second = wire.now
    wire.run(lambda: len(wire.sent("server", SackChunk)) == 2)
    assert wire.sent("server", SackChunk)[1][0] - second == pytest.approx(DELAY)


def test_gap_and_duplicate_reported_at_once() -> None:
    # RFC 9260 sections 6.2, 6.7: out-of-order DATA gets an immediate SACK with a Gap Ack
    # Block; a duplicate TSN is reported in the next SACK.
    wire = Wire()
    wire.establish()
    tag = wire.server.local_tag
    tsn = wire.client.local_initial_tsn  # nothing sent yet: the first TSN
    ahead = DataChunk(tsn + 1, 0, 1, 0, b"second")
    wire.inject("server", packet_to_server(tag, ahead))
    sack = wire.sent("server", SackChunk)[-1][2]
    assert isinstance(sack, SackChunk)
    assert sack.gap_blocks == ((2, 2),)
    wire.inject("server", packet_to_server(tag, ahead))
    sack = wire.sent("server", SackChunk)[-1][2]
    assert isinstance(sack, SackChunk)
    assert sack.duplicate_tsns == (tsn + 1,)
    assert wire.server.stats.duplicate_tsns == 1


def test_data_on_invalid_stream_gets_error_and_is_acknowledged() -> None:
    # RFC 9260 section 6.5: acknowledge the TSN, send ERROR Invalid Stream Identifier.
    wire = Wire()
    wire.establish()
    tsn = wire.client.local_initial_tsn
    chunk = DataChunk(tsn, 999, 0, 0, b"nowhere")
    wire.inject("server", packet_to_server(wire.server.local_tag, chunk))
    [(_, _, error)] = wire.sent("server", ErrorChunk)
    assert isinstance(error, ErrorChunk)
    assert [c.code for c in error.causes] == [CauseCode.INVALID_STREAM_IDENTIFIER]
    assert error.causes[0].info[:2] == struct.pack("!H", 999)
    sack = wire.sent("server", SackChunk)[-1][2]
    assert isinstance(sack, SackChunk)
    assert sack.cumulative_tsn_ack == tsn
    assert wire.messages("server") == []


def test_empty_data_aborts_with_no_user_data() -> None:
    # RFC 9260 section 6.2.
    wire = Wire()
    wire.establish()
    tsn = wire.client.local_initial_tsn
    wire.inject("server", packet_to_server(wire.server.local_tag, DataChunk(tsn, 0, 0, 0, b"")))
    [(_, _, abort)] = wire.sent("server", AbortChunk)
    assert isinstance(abort, AbortChunk)
    assert [c.code for c in abort.causes] == [CauseCode.NO_USER_DATA]
    closed = wire.closed("server")
    assert closed == AssociationClosed(CauseCode.NO_USER_DATA, aborted=True)


def test_send_refuses_local_misuse() -> None:
    wire = Wire(config=Config(max_message_size=1000, outbound_streams=4))
    wire.establish()
    with pytest.raises(StreamError):
        wire.client.send(b"x", stream=4, now=wire.now)
    with pytest.raises(MessageTooLargeError):
        wire.client.send(b"x" * 1001, now=wire.now)
    with pytest.raises(ValueError, match="empty"):
        wire.client.send(b"", now=wire.now)
    with pytest.raises(ValueError, match="ppid"):
        wire.client.send(b"x", ppid=-1, now=wire.now)


def test_messages_sent_before_establishment_are_delivered() -> None:
    wire = Wire()
    wire.connect()
    wire.client.send(b"early", stream=2, now=wire.now)
    wire.run(lambda: bool(wire.messages("server")))
    assert [m.data for m in wire.messages("server")] == [b"early"]


# --- shutdown and abort --------------------------------------------------------------------------


def test_shutdown_flushes_queued_data_first() -> None:
    # RFC 9260 section 9.2: SHUTDOWN-PENDING until everything queued is acknowledged, then
    # SHUTDOWN / SHUTDOWN ACK / SHUTDOWN COMPLETE.
    wire = Wire()
    wire.establish()
    payloads = [bytes([i]) * 1000 for i in range(30)]
    for payload in payloads:
        wire.client.send(payload, now=wire.now)
    wire.client.shutdown(wire.now)
    assert wire.client.state is State.SHUTDOWN_PENDING
    with pytest.raises(AssociationClosedError):
        wire.client.send(b"late", now=wire.now)
    wire.run(lambda: wire.closed("client") is not None and wire.closed("server") is not None)
    assert [m.data for m in wire.messages("server")] == payloads
    first_shutdown = wire.sent("client", ShutdownChunk)[0][0]
    last_data = wire.sent("client", DataChunk)[-1][0]
    assert first_shutdown > last_data
    assert wire.sent("server", ShutdownAckChunk)
    assert wire.sent("client", ShutdownCompleteChunk)
    server_events = wire.events["server"]
    assert any(isinstance(e, PeerShutdown) for e in server_events)
    assert server_events[-1] == AssociationClosed(None, aborted=False)
    assert wire.events["client"][-1] == AssociationClosed(None, aborted=False)
    assert wire.both(State.CLOSED)


def test_peer_initiated_shutdown_waits_for_our_data() -> None:
    # RFC 9260 section 9.2: the SHUTDOWN receiver sends its outstanding data, then SHUTDOWN ACK.
    wire = Wire()
    wire.establish()
    for i in range(10):
        wire.server.send(bytes([i]) * 1200, now=wire.now)
    wire.client.shutdown(wire.now)
    wire.run(lambda: wire.closed("server") is not None and wire.closed("client") is not None)
    assert len(wire.messages("client")) == 10
    assert wire.sent("server", ShutdownAckChunk)[0][0] > wire.sent("server", DataChunk)[-1][0]


def test_abort_with_cause_reaches_both_sides() -> None:
    # RFC 9260 section 9.1: ABORT with a User-Initiated Abort cause; unsent data is handed back.
    wire = Wire()
    wire.establish()
    wire.filter = lambda name, packet: (
        None if any(isinstance(c, DataChunk) for c in packet.chunks) else packet
    )
    wire.client.send(b"never", stream=1, ppid=5, now=wire.now)
    wire.run(lambda: bool(wire.sent("client", DataChunk)))
    wire.client.abort(wire.now, reason=b"going away")
    wire.run(lambda: wire.closed("server") is not None)
    [(_, packet, abort)] = wire.sent("client", AbortChunk)
    assert isinstance(abort, AbortChunk)
    assert packet.verification_tag == wire.server.local_tag
    assert [(c.code, c.info) for c in abort.causes] == [
        (CauseCode.USER_INITIATED_ABORT, b"going away")
    ]
    expected = AssociationClosed(CauseCode.USER_INITIATED_ABORT, aborted=True)
    assert wire.closed("server") == expected
    assert wire.closed("client") == expected
    failed = [e for e in wire.events["client"] if isinstance(e, SendFailed)]
    # SendFailed.error is an errno value: a local abort is ECONNABORTED.
    assert failed == [SendFailed(b"never", 1, 5, errno.ECONNABORTED, True)]
    with pytest.raises(AssociationAbortedError):
        wire.client.send(b"x", now=wire.now)


def test_unreachable_peer_fails_the_association() -> None:
    # RFC 9260 sections 8.1, 8.2: each T3 timeout counts; past Path.Max.Retrans the path is
    # inactive, past Association.Max.Retrans the association is lost.
    config = Config(
        rto_initial=0.1, rto_min=0.1, rto_max=0.2, path_max_retransmissions=1,
        association_max_retransmissions=2,
    )  # fmt: skip
    wire = Wire(config=config)
    wire.establish()
    wire.filter = lambda name, packet: None if name == "client" else packet
    wire.client.send(b"into the void", now=wire.now)
    wire.run(lambda: wire.closed("client") is not None)
    events = wire.events["client"]
    changes = [e for e in events if isinstance(e, PathStateChanged)]
    assert changes == [PathStateChanged(SERVER, PathState.INACTIVE)]
    lost = [i for i, e in enumerate(events) if isinstance(e, AssociationLost)]
    assert len(lost) == 1
    assert events[-1] == AssociationClosed(None, aborted=True)
    assert lost[0] < len(events) - 1
    assert any(isinstance(e, SendFailed) for e in events)
    assert wire.client.stats.t3_expirations == 3


# --- heartbeats ----------------------------------------------------------------------------------


def test_idle_path_is_probed_and_gets_an_rtt() -> None:
    # RFC 9260 section 8.3: HEARTBEAT after RTO + HB.interval of idleness; the HEARTBEAT ACK
    # echoes the info and gives an RTT sample.
    wire = Wire(config=Config(heartbeat_interval=2.0))
    wire.establish()
    established = wire.now
    wire.run(lambda: wire.client.stats.heartbeat_acks_received > 0, max_time=10)
    first = wire.sent("client", HeartbeatChunk)[0]
    # RTO 1 s + 2 s, jittered by +-50% of the RTO.
    assert 2.5 <= first[0] - established <= 3.5
    [(_, _, ack)] = [s for s in wire.sent("server", HeartbeatAckChunk)][:1]
    assert isinstance(ack, HeartbeatAckChunk)
    assert isinstance(first[2], HeartbeatChunk)
    assert ack.info == first[2].info
    assert wire.client.destinations[SERVER[0]].srtt == pytest.approx(2 * DELAY)


def test_forged_heartbeat_ack_is_ignored() -> None:
    wire = Wire()
    wire.establish()
    forged = HeartbeatAckChunk(struct.pack("!Qd", 1234, 0.0) + SERVER[0].encode())
    wire.inject(
        "client",
        build_packet(SERVER[1], CLIENT[1], wire.client.local_tag, (forged,)),
        source=SERVER,
    )
    assert wire.client.stats.heartbeat_acks_received == 0
    assert wire.client.destinations[SERVER[0]].srtt is None


# --- collisions, restarts, verification tags, out of the blue ------------------------------------


def test_simultaneous_connect_converges_on_one_association() -> None:
    # RFC 9260 section 5.2.1 / 5.2.4 B, D: both INITs cross; both sides end up established with
    # matching tags.
    wire = Wire()
    wire.client.connect([SERVER], wire.now)
    wire.server.connect([CLIENT], wire.now)
    wire.run(lambda: wire.both(State.ESTABLISHED))
    assert wire.client.peer_tag == wire.server.local_tag
    assert wire.server.peer_tag == wire.client.local_tag
    wire.client.send(b"ping", now=wire.now)
    wire.server.send(b"pong", now=wire.now)
    wire.run(lambda: bool(wire.messages("server")) and bool(wire.messages("client")))


def test_peer_restart_is_detected() -> None:
    # RFC 9260 section 5.2.2 and 5.2.4 A: a new INIT from the same peer gets tie-tags; its
    # COOKIE ECHO restarts the association.
    wire = Wire()
    wire.establish()
    old_tag = wire.server.local_tag
    wire.client = _make(CLIENT, SERVER, None, 77, {})
    wire.events["client"] = []
    wire.establish()
    assert any(isinstance(e, AssociationRestarted) for e in wire.events["server"])
    assert wire.server.local_tag != old_tag
    assert wire.server.stats.restarts == 1
    wire.client.send(b"after restart", now=wire.now)
    wire.run(lambda: bool(wire.messages("server")))
    assert wire.messages("server")[-1].data == b"after restart"


def test_wrong_verification_tag_is_dropped() -> None:
    # RFC 9260 section 8.5.
    wire = Wire()
    wire.establish()
    tsn = wire.client.local_initial_tsn
    wire.inject(
        "server", packet_to_server(wire.server.local_tag ^ 1, DataChunk(tsn, 0, 0, 0, b"x"))
    )
    assert wire.server.stats.vtag_mismatch == 1
    assert wire.sent("server", SackChunk) == []


def test_abort_tag_rules() -> None:
    # RFC 9260 section 8.5.1 B: an ABORT needs our tag (T=0) or the peer's (T=1).
    wire = Wire()
    wire.establish()
    peer = wire.server.peer_tag
    wire.inject("server", packet_to_server(peer, AbortChunk()))
    assert wire.server.state is State.ESTABLISHED
    wire.inject("server", packet_to_server(wire.server.local_tag, AbortChunk(reflected_tag=True)))
    assert wire.server.state is State.ESTABLISHED
    wire.inject("server", packet_to_server(peer, AbortChunk(reflected_tag=True)))
    assert wire.closed("server") == AssociationClosed(None, aborted=True)


def test_out_of_the_blue_answers() -> None:
    # RFC 9260 section 8.4: ABORT with the T bit for most chunks, SHUTDOWN COMPLETE for a
    # SHUTDOWN ACK, silence for ABORT / SHUTDOWN COMPLETE / COOKIE ACK.
    wire = Wire()
    wire.inject("server", packet_to_server(77, SackChunk(1, 1000)))
    [(_, packet, abort)] = wire.sent("server", AbortChunk)
    assert isinstance(abort, AbortChunk)
    assert abort.reflected_tag
    assert packet.verification_tag == 77
    wire.inject("server", packet_to_server(78, ShutdownAckChunk()))
    [(_, packet, complete)] = wire.sent("server", ShutdownCompleteChunk)
    assert isinstance(complete, ShutdownCompleteChunk)
    assert complete.reflected_tag
    assert packet.verification_tag == 78
    for chunk in (AbortChunk(), ShutdownCompleteChunk(), CookieAckChunk()):
        wire.inject("server", packet_to_server(79, chunk))
    assert len(wire.log) == 2
    assert wire.server.stats.ootb == 5


def test_init_must_be_alone_with_tag_zero() -> None:
    # RFC 9260 sections 6.10, 8.5.1 A.
    wire = Wire()
    wire.inject("server", packet_to_server(5, init_chunk()))
    wire.inject("server", packet_to_server(0, init_chunk(), CookieAckChunk()))
    assert wire.log == []
    assert wire.server.stats.vtag_mismatch == 2


def test_init_with_zero_streams_is_aborted_and_zero_tag_dropped() -> None:
    # RFC 9260 section 3.3.2.
    wire = Wire()
    wire.inject("server", packet_to_server(0, InitChunk(0, 65536, 10, 10, 1)))
    assert wire.log == []
    wire.inject("server", packet_to_server(0, InitChunk(9, 65536, 0, 10, 1)))
    [(_, packet, abort)] = wire.sent("server", AbortChunk)
    assert isinstance(abort, AbortChunk)
    assert packet.verification_tag == 9
    assert not abort.reflected_tag
    assert [c.code for c in abort.causes] == [CauseCode.INVALID_MANDATORY_PARAMETER]


# --- unknown chunks and parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk_type", "reported", "continued"),
    [(0x3F, False, False), (0x7F, True, False), (0xBF, False, True), (0xFF, True, True)],
)
def test_unknown_chunk_by_upper_bits(chunk_type: int, reported: bool, continued: bool) -> None:
    # RFC 9260 section 3.2: 00 stop, 01 stop + report, 10 skip, 11 skip + report.
    wire = Wire()
    wire.establish()
    tsn = wire.client.local_initial_tsn
    unknown = UnknownChunk(chunk_type, 0, b"\x01\x02\x03")
    data = DataChunk(tsn, 0, 0, 0, b"after")
    wire.inject("server", packet_to_server(wire.server.local_tag, unknown, data))
    wire.run(max_time=0.5)
    errors = [c for _, _, c in wire.sent("server", ErrorChunk)]
    if reported:
        [error] = errors
        assert isinstance(error, ErrorChunk)
        assert error.causes[0].code == CauseCode.UNRECOGNIZED_CHUNK_TYPE
        assert error.causes[0].info == unknown.raw
    else:
        assert errors == []
    assert [m.data for m in wire.messages("server")] == ([b"after"] if continued else [])


def test_unknown_init_parameters_reported_in_init_ack() -> None:
    # RFC 9260 sections 3.2.1, 3.2.2: 11 -> skip and report; 10 -> skip silently; 01 -> stop
    # and report (later parameters are not looked at).
    wire = Wire()
    reported = Param(0xC123, b"abcd")
    silent = Param(0x8123, b"x")
    stopper = Param(0x4001, b"yy")
    after = Param(0xC777, b"z")
    init = init_chunk(params=(reported, silent, stopper, after))
    wire.inject("server", packet_to_server(0, init))
    [(_, _, ack)] = wire.sent("server", InitAckChunk)
    assert isinstance(ack, InitAckChunk)
    echoed = [p.value for p in ack.params if p.type == ParamType.UNRECOGNIZED_PARAMETER]
    assert echoed == [reported.raw, stopper.raw]


def test_remote_error_becomes_an_event() -> None:
    wire = Wire()
    wire.establish()
    error = ErrorChunk((out_of_resource(),))
    wire.inject("server", packet_to_server(wire.server.local_tag, error))
    assert RemoteError(CauseCode.OUT_OF_RESOURCE, b"") in wire.events["server"]
    assert wire.server.state is State.ESTABLISHED


# --- robustness ----------------------------------------------------------------------------------


def test_garbage_never_raises() -> None:
    # Bad input from the wire is dropped and counted, in every state.
    rng = random.Random(3)
    wire = Wire()
    wire.establish()
    valid = packet_to_server(
        wire.server.local_tag, DataChunk(wire.client.local_initial_tsn, 0, 0, 0, b"ok")
    )
    for _ in range(300):
        mutated = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        wire.server.receive_datagram(bytes(mutated), CLIENT, wire.now)
        wire.server.receive_datagram(rng.randbytes(rng.randint(0, 64)), CLIENT, wire.now)
    assert wire.server.stats.bad_checksum + wire.server.stats.malformed >= 590
    assert wire.server.state is State.ESTABLISHED


def test_stats_as_dict_lists_counters() -> None:
    wire = Wire()
    wire.establish()
    counters = wire.server.stats.as_dict()
    assert counters["packets_received"] == wire.server.stats.packets_received >= 2
    assert all(isinstance(value, int) for value in counters.values())


def test_listener_shutdown_ends_it() -> None:
    wire = Wire()
    wire.server.shutdown(wire.now)
    assert wire.server.next_event() == AssociationClosed(None, aborted=False)
    with pytest.raises(AssociationClosedError):
        wire.server.send(b"x", now=wire.now)


def test_core_config_validates() -> None:
    with pytest.raises(ValueError, match="sack_delay"):
        CoreConfig(local_port=1, remote_port=2, sack_delay=0.6)
    with pytest.raises(ValueError, match="local_port"):
        CoreConfig(local_port=70000, remote_port=2)


def test_pending_heartbeat_unanswered_counts_as_error() -> None:
    # RFC 9260 section 8.3: a HEARTBEAT not acknowledged within one RTO counts as an error.
    wire = Wire(config=Config(heartbeat_interval=1.0, path_max_retransmissions=0))
    wire.establish()
    wire.filter = lambda name, packet: (
        None if any(isinstance(c, HeartbeatAckChunk) for c in packet.chunks) else packet
    )
    wire.run(lambda: any(isinstance(e, PathStateChanged) for e in wire.events["client"]))
    change = next(e for e in wire.events["client"] if isinstance(e, PathStateChanged))
    assert change.state is PathState.INACTIVE
    assert wire.client.destinations[SERVER[0]].error_count == 1


def test_shutdown_retransmitted_by_t2_until_acknowledged() -> None:
    # RFC 9260 section 9.2: T2-shutdown resends SHUTDOWN with the RTO backed off.
    wire = Wire()
    wire.establish()
    dropped: list[float] = []

    def drop_two_shutdowns(name: str, packet: Packet) -> Packet | None:
        if isinstance(packet.chunks[0], ShutdownChunk) and len(dropped) < 2:
            dropped.append(wire.now)
            return None
        return packet

    wire.filter = drop_two_shutdowns
    wire.client.shutdown(wire.now)
    assert wire.client.state is State.SHUTDOWN_SENT
    wire.run(lambda: wire.both(State.CLOSED))
    times = [t for t, _, _ in wire.sent("client", ShutdownChunk)]
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [1.0, 2.0]
    assert wire.events["client"][-1] == AssociationClosed(None, aborted=False)


def test_shutdown_guard_aborts_a_shutdown_that_never_completes() -> None:
    # RFC 9260 section 9.2: T5-shutdown-guard (5 * RTO.Max) ends a stuck shutdown with ABORT.
    config = Config(rto_initial=0.1, rto_min=0.1, rto_max=0.2, association_max_retransmissions=100)
    wire = Wire(config=config)
    wire.establish()
    wire.filter = lambda name, packet: packet if name == "client" else None
    wire.client.shutdown(wire.now)
    start = wire.now
    wire.run(lambda: wire.closed("client") is not None)
    assert wire.now - start == pytest.approx(1.0)
    assert wire.closed("client") == AssociationClosed(None, aborted=True)
    assert wire.sent("client", AbortChunk)


def test_init_during_shutdown_ack_sent_resends_shutdown_ack() -> None:
    # RFC 9260 section 9.2: the SHUTDOWN COMPLETE was lost and the peer starts over.
    wire = Wire()
    wire.establish()
    wire.filter = lambda name, packet: (
        None if isinstance(packet.chunks[0], ShutdownCompleteChunk | ShutdownAckChunk) else packet
    )
    wire.client.shutdown(wire.now)
    wire.run(lambda: wire.server.state is State.SHUTDOWN_ACK_SENT)
    acks_before = len(wire.sent("server", ShutdownAckChunk))
    init_acks_before = len(wire.sent("server", InitAckChunk))
    wire.inject("server", packet_to_server(0, init_chunk()))
    assert len(wire.sent("server", InitAckChunk)) == init_acks_before
    assert len(wire.sent("server", ShutdownAckChunk)) == acks_before + 1


def test_message_over_the_limit_from_the_peer_aborts() -> None:
    # A message larger than Config.max_message_size can never be delivered: ABORT.
    wire = Wire(server_config=Config(max_message_size=2000))
    wire.establish()
    wire.client.send(b"z" * 5000, now=wire.now)
    wire.run(lambda: wire.closed("server") is not None)
    assert wire.closed("server") == AssociationClosed(CauseCode.OUT_OF_RESOURCE, aborted=True)
    wire.run(lambda: wire.closed("client") is not None)
    assert wire.closed("client") == AssociationClosed(CauseCode.OUT_OF_RESOURCE, aborted=True)


def test_pending_sack_rides_with_data() -> None:
    # RFC 9260 section 6.2: a delayed SACK is bundled with DATA going the other way, ahead of it.
    wire = Wire()
    wire.establish()
    wire.client.send(b"question", now=wire.now)
    wire.run(lambda: bool(wire.messages("server")))
    wire.server.send(b"answer", now=wire.now)
    wire.run(lambda: bool(wire.messages("client")))
    [(_, packet, _)] = wire.sent("server", DataChunk)
    assert [type(c) for c in packet.chunks] == [SackChunk, DataChunk]
    assert wire.server.stats.sacks_sent == 1
