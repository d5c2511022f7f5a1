"""A simulated network with a fake clock that drives sans-I/O SCTP associations.

The network carries datagrams between named endpoints. Each endpoint owns one or more
``(host, port)`` addresses; each direction between two hosts is a :class:`Link` with its own
delay, loss, duplication and reordering, drawn from a ``random.Random`` seeded from the
network's seed and the link's name, so every run with the same seed is identical.

:meth:`SimNet.run` is the event loop: it delivers datagrams whose arrival time has come, fires
an endpoint's timer when ``get_timer()`` says it is due, collects ``datagrams_to_send(now)``
and the endpoint's events after every input, and jumps the clock to the next thing due (no
sleeping). ``max_time`` and ``max_steps`` bound every run so a bug cannot hang a test.

Tests watch and steer the traffic through filters (like trio's FakeNet ``route_packet`` or
pion/sctp's bridge filters): a filter sees every datagram an endpoint sends and may pass it,
rewrite it or drop it; :meth:`SimNet.inject` puts a datagram on the wire. :class:`ScriptedPeer`
is an endpoint the test drives by hand, like the tester of a conformance test suite (ETSI TS
102 369): it records the packets it receives, decoded, and sends the packets the test builds.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from sctpmh.config import Config
from sctpmh.events import Event, Message

if TYPE_CHECKING:
    from sctpmh.core.association import Association, CoreConfig
    from sctpmh.core.chunks import Chunk, DataChunk
    from sctpmh.core.packet import Packet

Address = tuple[str, int]
ChunkT = TypeVar("ChunkT")
EventT = TypeVar("EventT")
Notice = Event | Message
"""What ``next_event()`` hands out: an event, or a received message."""

CLIENT_ADDRESS: Address = ("10.0.0.1", 5001)
"""Where :func:`pair` puts the client."""

SERVER_ADDRESS: Address = ("10.0.0.2", 5002)
"""Where :func:`pair` puts the server."""

DEFAULT_DELAY = 0.01
"""One-way delay of a link nobody configured, in seconds."""


class SimulationError(AssertionError):
    """The simulation hit a bound (``max_time`` / ``max_steps``) or ran out of things to do
    before the ``until`` condition held. An AssertionError so pytest shows it as a failure."""


Outgoing = tuple[bytes, "Address | None", Address]
"""What ``datagrams_to_send`` hands out: ``(data, source, destination)``."""


class Endpoint(Protocol):
    """What the network needs from an endpoint: the sans-I/O surface of an Association."""

    def receive_datagram(
        self, data: bytes, source: Address, now: float, destination: Address | None = None
    ) -> None:
        """Take one datagram that arrived from ``source`` on our address ``destination``."""

    def handle_timer(self, now: float) -> None:
        """Run the timers that are due."""

    def datagrams_to_send(self, now: float) -> list[Outgoing]:
        """Hand over the datagrams to put on the wire: data, source and destination."""

    def get_timer(self) -> float | None:
        """The earliest timer deadline, or None when no timer runs."""

    def next_event(self) -> Notice | None:
        """The next event, or None."""


class FakeClock:
    """Simulated monotonic time in seconds; only the network moves it forward."""

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def advance(self, dt: float) -> None:
        """Move the clock forward by ``dt`` seconds (never backwards)."""
        if dt < 0:
            raise ValueError(f"cannot move the clock backwards by {dt!r}")
        self.now += dt


class Link:
    """One direction between two hosts and what it does to the datagrams it carries."""

    __slots__ = (
        "delay",
        "delivered",
        "duplicate",
        "duplicated",
        "loss",
        "lost",
        "name",
        "random",
        "reorder",
        "reorder_delay",
        "reordered",
        "sent",
        "up",
    )

    def __init__(self, name: str, seed: int, delay: float = DEFAULT_DELAY) -> None:
        self.name = name
        self.delay = delay
        """One-way delay in seconds."""
        self.loss = 0.0
        """Probability that a datagram is dropped."""
        self.duplicate = 0.0
        """Probability that a datagram arrives twice."""
        self.reorder = 0.0
        """Probability that a datagram gets an extra random delay in [0, reorder_delay), which
        lets later datagrams overtake it."""
        self.reorder_delay = 2 * delay
        """Largest extra delay of a reordered datagram, in seconds."""
        self.up = True
        """A link that is down drops everything."""
        # A string seed is hashed with SHA-512 by random.seed: the same on every run and every
        # machine, unlike hash().
        self.random = random.Random(f"{seed}:{name}")
        self.sent = 0
        self.lost = 0
        self.duplicated = 0
        self.reordered = 0
        self.delivered = 0

    def configure(
        self,
        *,
        delay: float | None = None,
        loss: float | None = None,
        duplicate: float | None = None,
        reorder: float | None = None,
        reorder_delay: float | None = None,
        up: bool | None = None,
    ) -> Link:
        """Change some of the link's properties; returns the link for chaining."""
        if delay is not None:
            self.delay = delay
        if loss is not None:
            self.loss = loss
        if duplicate is not None:
            self.duplicate = duplicate
        if reorder is not None:
            self.reorder = reorder
        if reorder_delay is not None:
            self.reorder_delay = reorder_delay
        if up is not None:
            self.up = up
        return self

    def transit_times(self) -> list[float]:
        """Decide the fate of one datagram: the delays of the copies that arrive (none if lost)."""
        self.sent += 1
        if not self.up or (self.loss and self.random.random() < self.loss):
            self.lost += 1
            return []
        copies = 1
        if self.duplicate and self.random.random() < self.duplicate:
            self.duplicated += 1
            copies = 2
        delays = []
        for _ in range(copies):
            delay = self.delay
            if self.reorder and self.random.random() < self.reorder:
                self.reordered += 1
                delay += self.random.random() * self.reorder_delay
            delays.append(delay)
        return delays


@dataclass(frozen=True, slots=True)
class Datagram:
    """One datagram on the simulated wire."""

    data: bytes
    source: Address
    destination: Address
    sent_at: float

    def packet(self) -> Packet:
        """The datagram decoded as an SCTP packet (raises PacketError if it is not one)."""
        from sctpmh.core.packet import decode_packet

        return decode_packet(self.data)

    def chunks(self) -> tuple[Chunk, ...]:
        """The chunks of the decoded packet."""
        return self.packet().chunks

    def replace(self, **changes: object) -> Datagram:
        """A copy with some fields changed (for filters that rewrite traffic)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


Filter = Callable[[Datagram], "Datagram | None"]
"""Sees each datagram an endpoint sends: returns it (or a rewritten one) to pass it, or None
to drop it."""


class _Node:
    """An endpoint attached to the network, with its addresses and its record of events."""

    __slots__ = ("addresses", "endpoint", "events", "name", "reading")

    def __init__(self, name: str, endpoint: Endpoint, addresses: list[Address]) -> None:
        self.name = name
        self.endpoint = endpoint
        self.addresses = addresses
        self.events: list[Notice] = []
        self.reading = True


class SimNet:
    """A deterministic network of endpoints, links and a fake clock."""

    def __init__(self, seed: int = 0, *, record: bool = True, start: float = 0.0) -> None:
        self.seed = seed
        self.clock = FakeClock(start)
        self.record = record
        """Keep every datagram sent and delivered in :attr:`sent` / :attr:`delivered`, and every
        event in :meth:`events`. Long runs turn it off and use :attr:`on_event`."""
        self.sent: list[Datagram] = []
        """Every datagram endpoints handed over, before filters and links (when recording)."""
        self.delivered: list[Datagram] = []
        """Every datagram that reached an endpoint (when recording)."""
        self.undeliverable: list[Datagram] = []
        """Datagrams addressed to nobody on the network."""
        self.filters: list[Filter] = []
        self.on_event: Callable[[str, Notice], None] | None = None
        """Called with (endpoint name, event) for every event, recorded or not."""
        self.steps = 0
        self._nodes: dict[str, _Node] = {}
        self._by_address: dict[Address, _Node] = {}
        self._links: dict[tuple[str, str], Link] = {}
        self._queue: list[tuple[float, int, Datagram]] = []
        self._sequence = itertools.count()

    # --- topology ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The current simulated time."""
        return self.clock.now

    def add_endpoint(self, name: str, endpoint: Endpoint, addresses: Sequence[Address]) -> None:
        """Attach ``endpoint`` under ``name``, reachable at each of ``addresses``."""
        if name in self._nodes:
            raise ValueError(f"endpoint {name!r} exists already")
        if not addresses:
            raise ValueError("an endpoint needs at least one address")
        node = _Node(name, endpoint, list(addresses))
        for address in node.addresses:
            if address in self._by_address:
                raise ValueError(f"address {address!r} belongs to another endpoint")
            self._by_address[address] = node
        self._nodes[name] = node

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint attached under ``name``."""
        return self._nodes[name].endpoint

    def link(self, src_host: str, dst_host: str) -> Link:
        """The link from ``src_host`` to ``dst_host`` (created with the default delay)."""
        key = (src_host, dst_host)
        link = self._links.get(key)
        if link is None:
            link = Link(f"{src_host}->{dst_host}", self.seed)
            self._links[key] = link
        return link

    def links(self) -> list[Link]:
        """Every link used or configured so far."""
        return list(self._links.values())

    def configure_all(self, **properties: float | bool) -> None:
        """Configure both directions between every pair of endpoint hosts (see Link.configure)."""
        hosts = [address[0] for node in self._nodes.values() for address in node.addresses]
        for src in hosts:
            for dst in hosts:
                if src != dst:
                    self.link(src, dst).configure(**properties)  # type: ignore[arg-type]

    def set_reading(self, name: str, reading: bool) -> None:
        """Stop or resume taking events from an endpoint (an application that stops reading
        lets its receive window fill up)."""
        self._nodes[name].reading = reading

    def events(self, name: str) -> list[Notice]:
        """Everything ``next_event()`` returned for that endpoint so far (when recording)."""
        return self._nodes[name].events

    def events_of(self, name: str, kind: type[EventT]) -> list[EventT]:
        """The recorded events of one type for that endpoint."""
        return [event for event in self._nodes[name].events if isinstance(event, kind)]

    # --- traffic ----------------------------------------------------------------------------

    def add_filter(self, packet_filter: Filter) -> Filter:
        """Install a filter on everything endpoints send; returns it for remove_filter()."""
        self.filters.append(packet_filter)
        return packet_filter

    def remove_filter(self, packet_filter: Filter) -> None:
        """Uninstall a filter."""
        self.filters.remove(packet_filter)

    def inject(
        self, data: bytes, source: Address, destination: Address, delay: float = 0.0
    ) -> None:
        """Put a datagram on the wire, bypassing filters and links; it arrives after ``delay``."""
        datagram = Datagram(data, source, destination, self.now)
        heapq.heappush(self._queue, (self.now + delay, next(self._sequence), datagram))

    def sent_between(
        self, source: str | None = None, destination: str | None = None
    ) -> list[Datagram]:
        """Recorded datagrams sent by the endpoint named ``source`` to the one named
        ``destination`` (either None: any)."""
        result = []
        for datagram in self.sent:
            src = self._by_address.get(datagram.source)
            dst = self._by_address.get(datagram.destination)
            if source is not None and (src is None or src.name != source):
                continue
            if destination is not None and (dst is None or dst.name != destination):
                continue
            result.append(datagram)
        return result

    def _source_for(self, node: _Node, source: Address | None, destination: Address) -> Address:
        # The endpoint names the source; a host can only send from an address it has. Without
        # one, the source is the endpoint's first address with an explicitly configured link
        # to the destination host (how a multi-homed host routes), else its first address.
        if source is not None and source in node.addresses:
            return source
        for address in node.addresses:
            if (address[0], destination[0]) in self._links:
                return address
        return node.addresses[0]

    def _transmit(
        self, node: _Node, data: bytes, source: Address | None, destination: Address
    ) -> None:
        datagram = Datagram(
            data, self._source_for(node, source, destination), destination, self.now
        )
        if self.record:
            self.sent.append(datagram)
        for packet_filter in self.filters:
            passed = packet_filter(datagram)
            if passed is None:
                return
            datagram = passed
        link = self.link(datagram.source[0], datagram.destination[0])
        for delay in link.transit_times():
            heapq.heappush(self._queue, (self.now + delay, next(self._sequence), datagram))

    def flush(self, name: str | None = None) -> None:
        """Collect datagrams and events from one endpoint (or all of them)."""
        nodes = self._nodes.values() if name is None else [self._nodes[name]]
        for node in nodes:
            self._flush(node)

    def _flush(self, node: _Node) -> None:
        now = self.now
        for data, source, destination in node.endpoint.datagrams_to_send(now):
            self._transmit(node, data, source, destination)
        if node.reading:
            self._drain_events(node)

    def _drain_events(self, node: _Node) -> None:
        while (event := node.endpoint.next_event()) is not None:
            if self.record:
                node.events.append(event)
            if self.on_event is not None:
                self.on_event(node.name, event)

    # --- the event loop ---------------------------------------------------------------------

    def _next_timer(self) -> tuple[float, _Node] | None:
        best: tuple[float, _Node] | None = None
        for node in self._nodes.values():
            deadline = node.endpoint.get_timer()
            if deadline is not None and (best is None or deadline < best[0]):
                best = (deadline, node)
        return best

    def step(self) -> bool:
        """Do the next due thing (one delivery or one timer); False when nothing is left."""
        timer = self._next_timer()
        arrival = self._queue[0][0] if self._queue else None
        if timer is None and arrival is None:
            return False
        self.steps += 1
        # A datagram and a timer due at the same instant: the datagram goes first, as it would
        # on a real host whose socket is readable when the timer fires.
        if arrival is not None and (timer is None or arrival <= timer[0]):
            due, _, datagram = heapq.heappop(self._queue)
            self.clock.now = max(self.now, due)
            node = self._by_address.get(datagram.destination)
            if node is None:
                self.undeliverable.append(datagram)
                return True
            link = self._links.get((datagram.source[0], datagram.destination[0]))
            if link is not None:
                link.delivered += 1
            if self.record:
                self.delivered.append(datagram)
            node.endpoint.receive_datagram(
                datagram.data, datagram.source, self.now, datagram.destination
            )
            self._flush(node)
        else:
            assert timer is not None
            self.clock.now = max(self.now, timer[0])
            timer[1].endpoint.handle_timer(self.now)
            self._flush(timer[1])
        return True

    def next_due(self) -> float | None:
        """When the next delivery or timer is due, or None."""
        timer = self._next_timer()
        arrival = self._queue[0][0] if self._queue else None
        candidates = [t for t in (arrival, timer[0] if timer else None) if t is not None]
        return min(candidates) if candidates else None

    def run(
        self,
        until: Callable[[], bool] | None = None,
        *,
        max_time: float = 600.0,
        max_steps: int = 200_000,
    ) -> None:
        """Run the network.

        With ``until``: run until it returns True (checked before every step), and raise
        :class:`SimulationError` when ``max_time`` simulated seconds pass, or nothing is left to
        do, before it does. Without: run until nothing is left to do or ``max_time`` simulated
        seconds have passed, and leave the clock at the later of the two. ``max_steps``
        (deliveries plus timer firings) always raises: a run that needs more is a livelock.
        """
        self.flush()
        deadline = self.now + max_time
        steps = 0
        while True:
            if until is not None and until():
                return
            due = self.next_due()
            if due is None:
                if until is not None:
                    raise SimulationError(
                        f"nothing left to do at t={self.now:.3f}, condition unmet"
                    )
                return
            if due > deadline:
                self.clock.now = max(self.now, deadline)
                if until is not None:
                    raise SimulationError(f"condition unmet after {max_time} simulated seconds")
                return
            if steps >= max_steps:
                raise SimulationError(f"more than {max_steps} steps by t={self.now:.3f}")
            steps += 1
            self.step()

    def run_for(self, duration: float, *, max_steps: int = 200_000) -> None:
        """Run for exactly ``duration`` simulated seconds (or until nothing is left to do), then
        leave the clock at the end of that span."""
        end = self.now + duration
        self.run(max_time=duration, max_steps=max_steps)
        self.clock.now = max(self.now, end)


# --- scripted peers ---------------------------------------------------------------------------


class ScriptedPeer:
    """An endpoint the test drives by hand, like the tester of a conformance suite.

    It never answers anything on its own: it records what arrives (decoded, with the raw bytes
    when a datagram is not a valid SCTP packet) and sends what the test gives it.
    """

    def __init__(self, address: Address) -> None:
        self.address = address
        self.received: list[tuple[float, Address, bytes]] = []
        self._outbox: list[Outgoing] = []

    def receive_datagram(
        self, data: bytes, source: Address, now: float, destination: Address | None = None
    ) -> None:
        """Record a datagram."""
        self.received.append((now, source, data))

    def handle_timer(self, now: float) -> None:
        """A scripted peer has no timers."""

    def get_timer(self) -> float | None:
        """A scripted peer has no timers."""
        return None

    def next_event(self) -> Notice | None:
        """A scripted peer reports no events."""
        return None

    def datagrams_to_send(self, now: float) -> list[Outgoing]:
        """Hand over what the test queued."""
        out, self._outbox = self._outbox, []
        return out

    def send_raw(self, data: bytes, destination: Address) -> None:
        """Queue raw bytes (the next SimNet step or flush puts them on the wire)."""
        self._outbox.append((data, self.address, destination))

    def send(
        self,
        destination: Address,
        verification_tag: int,
        *chunks: Chunk,
    ) -> bytes:
        """Build, encode and queue a packet; returns its bytes."""
        from sctpmh.core.packet import Packet, encode_packet

        data = encode_packet(Packet(self.address[1], destination[1], verification_tag, chunks))
        self.send_raw(data, destination)
        return data

    def packets(self) -> list[Packet]:
        """Every packet received so far, decoded (datagrams that do not decode are skipped)."""
        from sctpmh.core.packet import PacketError, decode_packet

        result = []
        for _, _, data in self.received:
            try:
                result.append(decode_packet(data))
            except PacketError:
                continue
        return result

    def chunks(self) -> list[Chunk]:
        """Every chunk received so far, in order."""
        return [chunk for packet in self.packets() for chunk in packet.chunks]

    def take(self) -> list[Packet]:
        """The packets received so far, and forget them."""
        packets = self.packets()
        self.received.clear()
        return packets


# --- building associations --------------------------------------------------------------------


def make_association(
    local: Address,
    remote: Address,
    *,
    config: Config | None = None,
    seed: int = 0,
    association_id: int = 1,
    core_options: dict[str, object] | None = None,
) -> Association:
    """A core Association at ``local`` that talks to ``remote``'s port, with a seeded rng."""
    from sctpmh.core.association import Association, CoreConfig

    core: CoreConfig = CoreConfig(
        local_port=local[1],
        remote_port=remote[1],
        **(core_options or {}),  # type: ignore[arg-type]
    )
    return Association(
        config if config is not None else Config(),
        core,
        local_addresses=[local[0]],
        rng=random.Random(seed),
        association_id=association_id,
    )


def is_established(association: Association) -> bool:
    """Whether the association is in the ESTABLISHED state."""
    from sctpmh.core.association import State

    return association.state is State.ESTABLISHED


def pair(
    *,
    seed: int = 1,
    config: Config | None = None,
    client_config: Config | None = None,
    server_config: Config | None = None,
    establish: bool = True,
    record: bool = True,
    delay: float = DEFAULT_DELAY,
    **core_options: object,
) -> tuple[SimNet, Association, Association]:
    """A network with a client at CLIENT_ADDRESS and a listening server at SERVER_ADDRESS.

    The client has called ``connect()``; with ``establish`` the network has run until both are
    ESTABLISHED. ``core_options`` go to both CoreConfigs (mtu, receive_window, sack_delay...).
    """
    net = SimNet(seed, record=record)
    client = make_association(
        CLIENT_ADDRESS,
        SERVER_ADDRESS,
        config=client_config or config,
        seed=seed * 2 + 1,
        core_options=core_options,
    )
    server = make_association(
        SERVER_ADDRESS,
        CLIENT_ADDRESS,
        config=server_config or config,
        seed=seed * 2 + 2,
        core_options=core_options,
    )
    net.add_endpoint("client", client, [CLIENT_ADDRESS])
    net.add_endpoint("server", server, [SERVER_ADDRESS])
    net.link(CLIENT_ADDRESS[0], SERVER_ADDRESS[0]).configure(delay=delay, reorder_delay=2 * delay)
    net.link(SERVER_ADDRESS[0], CLIENT_ADDRESS[0]).configure(delay=delay, reorder_delay=2 * delay)
    client.connect([SERVER_ADDRESS], net.now)
    if establish:
        net.run(lambda: is_established(client) and is_established(server), max_time=60.0)
    return net, client, server


# --- a scripted tester facing one association under test ---------------------------------------

TESTER_ADDRESS: Address = CLIENT_ADDRESS
"""Where :func:`open_session` puts the scripted tester."""

IUT_ADDRESS: Address = SERVER_ADDRESS
"""Where :func:`open_session` puts the association under test."""

TESTER_TAG = 0x1234_5678
"""The Initiate Tag the tester uses: the IUT must put it in every packet it sends."""

TESTER_INITIAL_TSN = 0xFFFF_FFF0
"""The tester's first TSN: close to the wrap so serial arithmetic gets exercised."""


def raw_packet(
    source_port: int, destination_port: int, verification_tag: int, body: bytes
) -> bytes:
    """An SCTP packet from raw chunk bytes, with a valid CRC32c (RFC 9260 section 6.8,
    Appendix B: stored little-endian, as Linux does). For chunks the codec refuses to build."""
    import struct

    from sctpmh.core.packet import checksum

    header = struct.pack("!HHII", source_port, destination_port, verification_tag, 0)
    data = header + body
    return data[:8] + checksum(data).to_bytes(4, "little") + data[12:]


def raw_chunk(chunk_type: int, flags: int, value: bytes) -> bytes:
    """One chunk from raw fields, padded to 4 bytes (RFC 9260 section 3.2)."""
    import struct

    length = 4 + len(value)
    return struct.pack("!BBH", chunk_type, flags, length) + value + b"\x00" * (-length % 4)


class Session:
    """A scripted tester and an association under test (IUT) on one SimNet.

    After :func:`open_session` the association is ESTABLISHED and the tester knows both
    verification tags and both TSN spaces, so a test can send any chunk the IUT should accept,
    or break one rule at a time.
    """

    def __init__(self, net: SimNet, iut: Association, peer: ScriptedPeer) -> None:
        self.net = net
        self.iut = iut
        self.peer = peer
        self.peer_tag = TESTER_TAG
        self.iut_tag = 0
        self.next_tsn = TESTER_INITIAL_TSN
        self.iut_initial_tsn = 0
        self.cookie = b""
        self._ssn: dict[int, int] = {}

    # sending

    def send(self, *chunks: Chunk, tag: int | None = None) -> bytes:
        """Send a packet of ``chunks`` to the IUT (with the IUT's tag unless ``tag`` is given)
        and flush it onto the wire."""
        data = self.peer.send(IUT_ADDRESS, self.iut_tag if tag is None else tag, *chunks)
        self.net.flush("tester")
        return data

    def send_raw(self, data: bytes) -> None:
        """Send raw bytes to the IUT."""
        self.peer.send_raw(data, IUT_ADDRESS)
        self.net.flush("tester")

    def data(
        self,
        payload: bytes,
        *,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        tsn: int | None = None,
    ) -> DataChunk:
        """A whole-message DATA chunk with the tester's next TSN (and the stream's next SSN)."""
        from sctpmh.core.chunks import DataChunk

        if tsn is None:
            tsn = self.next_tsn
            self.next_tsn = (self.next_tsn + 1) % 2**32
        ssn = 0
        if not unordered:
            ssn = self._ssn.get(stream, 0)
            self._ssn[stream] = (ssn + 1) % 2**16
        return DataChunk(
            tsn=tsn, stream=stream, ssn=ssn, ppid=ppid, data=payload, unordered=unordered
        )

    # receiving

    def mark(self) -> int:
        """A position in what the tester received, for :meth:`packets_since`."""
        return len(self.peer.received)

    def packets_since(self, mark: int) -> list[tuple[float, Packet]]:
        """Packets the tester received after ``mark``, decoded, with arrival times."""
        from sctpmh.core.packet import PacketError, decode_packet

        result = []
        for now, _, data in self.peer.received[mark:]:
            try:
                result.append((now, decode_packet(data)))
            except PacketError:
                continue
        return result

    def chunks_since(self, mark: int) -> list[Chunk]:
        """Chunks the tester received after ``mark``."""
        return [chunk for _, packet in self.packets_since(mark) for chunk in packet.chunks]

    def expect(
        self, kind: type[ChunkT], *, within: float = 10.0, mark: int | None = None
    ) -> tuple[float, Packet, ChunkT]:
        """Run until the tester receives a chunk of type ``kind`` (after ``mark``, default now);
        return (arrival time, its packet, the chunk). Raises SimulationError when none comes."""
        start = self.mark() if mark is None else mark

        def found() -> tuple[float, Packet, ChunkT] | None:
            for now, packet in self.packets_since(start):
                for chunk in packet.chunks:
                    if isinstance(chunk, kind):
                        return now, packet, chunk
            return None

        self.net.run(lambda: found() is not None, max_time=within)
        result = found()
        assert result is not None
        return result

    def quiet(self, duration: float) -> list[Chunk]:
        """Run for ``duration`` and return every chunk the tester received meanwhile."""
        start = self.mark()
        self.net.run_for(duration)
        return self.chunks_since(start)

    def events(self) -> list[Notice]:
        """The IUT's events so far."""
        return self.net.events("iut")


def _tester_net(
    config: Config | None, seed: int, core_options: dict[str, object]
) -> tuple[SimNet, Association, ScriptedPeer]:
    net = SimNet(seed)
    iut = make_association(
        IUT_ADDRESS, TESTER_ADDRESS, config=config, seed=seed, core_options=core_options
    )
    peer = ScriptedPeer(TESTER_ADDRESS)
    net.add_endpoint("iut", iut, [IUT_ADDRESS])
    net.add_endpoint("tester", peer, [TESTER_ADDRESS])
    return net, iut, peer


def init_chunk(
    *,
    tag: int = TESTER_TAG,
    initial_tsn: int = TESTER_INITIAL_TSN,
    a_rwnd: int = 65536,
    outbound_streams: int = 10,
    inbound_streams: int = 10,
    params: tuple[object, ...] = (),
) -> Chunk:
    """The tester's INIT chunk."""
    from sctpmh.core.chunks import InitChunk

    return InitChunk(
        initiate_tag=tag,
        a_rwnd=a_rwnd,
        outbound_streams=outbound_streams,
        inbound_streams=inbound_streams,
        initial_tsn=initial_tsn,
        params=params,  # type: ignore[arg-type]
    )


def listening_session(
    *, config: Config | None = None, seed: int = 5, **core_options: object
) -> Session:
    """A Session whose IUT listens (has not called connect) and nothing has been exchanged."""
    net, iut, peer = _tester_net(config, seed, core_options)
    return Session(net, iut, peer)


def open_session(
    *,
    role: str = "server",
    config: Config | None = None,
    seed: int = 5,
    **core_options: object,
) -> Session:
    """A Session with the handshake done: the IUT listens (``role="server"``) or connects
    (``role="client"``), and the tester plays the other side of RFC 9260 section 5.1."""
    from sctpmh.core.chunks import (
        CookieAckChunk,
        CookieEchoChunk,
        InitAckChunk,
        InitChunk,
    )
    from sctpmh.core.params import ParamType, state_cookie

    net, iut, peer = _tester_net(config, seed, core_options)
    session = Session(net, iut, peer)
    if role == "server":
        session.send(init_chunk(), tag=0)
        _, _, init_ack = session.expect(InitAckChunk)
        assert isinstance(init_ack, InitAckChunk)
        session.iut_tag = init_ack.initiate_tag
        session.iut_initial_tsn = init_ack.initial_tsn
        session.cookie = next(p.value for p in init_ack.params if p.type == ParamType.STATE_COOKIE)
        session.send(CookieEchoChunk(session.cookie))
        session.expect(CookieAckChunk)
    elif role == "client":
        iut.connect([TESTER_ADDRESS], net.now)
        _, _, init = session.expect(InitChunk)
        assert isinstance(init, InitChunk)
        session.iut_tag = init.initiate_tag
        session.iut_initial_tsn = init.initial_tsn
        session.cookie = b"tester-cookie:" + bytes(range(32))
        ack = InitAckChunk(
            initiate_tag=TESTER_TAG,
            a_rwnd=65536,
            outbound_streams=10,
            inbound_streams=10,
            initial_tsn=TESTER_INITIAL_TSN,
            params=(state_cookie(session.cookie),),
        )
        session.send(ack)
        session.expect(CookieEchoChunk)
        session.send(CookieAckChunk())
        net.run(lambda: is_established(iut), max_time=5.0)
    else:
        raise ValueError(f"role must be 'server' or 'client', got {role!r}")
    assert is_established(iut)
    return session


def of_type(chunks: Sequence[Chunk], kind: type[ChunkT]) -> list[ChunkT]:
    """The chunks of one class, in order."""
    return [chunk for chunk in chunks if isinstance(chunk, kind)]


def datagrams_with(datagrams: Sequence[Datagram], kind: type) -> list[Datagram]:
    """The datagrams that decode to a packet holding a chunk of class ``kind``."""
    from sctpmh.core.packet import PacketError

    result = []
    for datagram in datagrams:
        try:
            chunks = datagram.chunks()
        except PacketError:
            continue
        if any(isinstance(chunk, kind) for chunk in chunks):
            result.append(datagram)
    return result
