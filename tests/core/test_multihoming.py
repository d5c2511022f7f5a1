"""Multi-homing on the simulated network (RFC 9260 sections 5.4, 6.4, 8; RFC 7829).

Two hosts with two addresses each on two separate networks (``tests/core/multihome.py``), in
IPv4, IPv6 and mixed families. Paths are (local, peer) pairs: every packet leaves from the
address on the network of its destination. Cutting the primary network mid-transfer loses
nothing, and traffic moves within the bound that the RTO and the potentially-failed threshold
set; flapping, one-way and random loss are survived; an address the peer lists but never
answers for stays unconfirmed; a packet with a valid tag from a foreign address is ignored.
"""

from __future__ import annotations

import itertools

import pytest

from sctpmh.config import Config
from sctpmh.core.association import State
from sctpmh.core.causes import CauseCode
from sctpmh.core.chunks import AbortChunk, DataChunk, HeartbeatAckChunk, HeartbeatChunk
from sctpmh.core.packet import Packet, encode_packet
from sctpmh.core.params import address_of, decode_params, ipv4_address
from sctpmh.errors import AddressError
from sctpmh.events import PathState, PathStateChanged
from tests.core.multihome import (
    DELAY,
    FAMILIES,
    SERVER_PORT,
    Topology,
    Traffic,
    association,
    two_by_two,
)
from tests.core.simnet import (
    Address,
    Datagram,
    Notice,
    datagrams_with,
    init_chunk,
    of_type,
    open_session,
)

PRESETS = {"default": Config(), "fast_failover": Config.fast_failover()}

# Failover times measured by test_primary_cut_mid_transfer, in simulated seconds after the cut
# (the same for every family): when data first arrived over the other path, and when the
# client took the primary out of use (potentially failed, or inactive without RFC 7829).
MEASURED = {
    "default": {"first_on_alternate": 1.01, "primary_out_of_use": 63.0},
    "fast_failover": {"first_on_alternate": 0.11, "primary_out_of_use": 0.10},
}


def path_events(events: list[Notice]) -> list[tuple[str, PathState]]:
    """The (host, state) of every PathStateChanged in ``events``."""
    return [(e.address[0], e.state) for e in events if isinstance(e, PathStateChanged)]


def record_path_events(topology: Topology) -> list[tuple[float, str, str, PathState]]:
    """Record (time, endpoint, host, state) of every path event from now on."""
    seen: list[tuple[float, str, str, PathState]] = []
    previous = topology.net.on_event

    def on_event(name: str, event: Notice) -> None:
        if previous is not None:
            previous(name, event)
        if isinstance(event, PathStateChanged):
            seen.append((topology.net.now, name, event.address[0], event.state))

    topology.net.on_event = on_event
    return seen


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_packet_leaves_from_the_address_on_its_destinations_network(family: str) -> None:
    topology = two_by_two(family, record=True)
    traffic = Traffic(topology)
    traffic.run(500)
    topology.net.run_for(40.0)  # long enough for heartbeats on every idle path
    net = topology.net
    pairs = {
        (c[0], s[0])
        for c, s in zip(topology.client_addresses, topology.server_addresses, strict=True)
    }
    for datagram in net.sent:
        hosts = (datagram.source[0], datagram.destination[0])
        assert hosts in pairs or hosts[::-1] in pairs, datagram
    assert all(link.lost == 0 for link in net.links())
    # Both paths carried traffic both ways: the second by heartbeats at least.
    for client_address, server_address in zip(
        topology.client_addresses, topology.server_addresses, strict=True
    ):
        between = [
            d for d in net.sent if {d.source, d.destination} == {client_address, server_address}
        ]
        assert datagrams_with(between, HeartbeatChunk)
        assert datagrams_with(between, HeartbeatAckChunk)
    traffic.check_exactly_once_in_order(500)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_listed_addresses_are_confirmed_by_heartbeat_before_use(family: str) -> None:
    # RFC 9260 section 5.4: the server learns the client's second address from the INIT; it
    # starts unconfirmed, gets no DATA and is reported only once a HEARTBEAT ACK with the
    # right nonce confirmed it. The client's own addresses it connected to are confirmed.
    topology = two_by_two(family, record=True, establish=False)
    net, client, server = topology.net, topology.client, topology.server
    second = topology.client_addresses[1]
    net.run(lambda: server.state is State.ESTABLISHED, max_time=5.0)
    assert {p.address: p.state for p in server.paths()}[second] is PathState.UNCONFIRMED
    assert all(p.state is PathState.ACTIVE for p in client.paths())
    with pytest.raises(AddressError):
        server.set_primary(second)
    net.run(lambda: PathState.UNCONFIRMED not in {p.state for p in server.paths()}, max_time=5.0)
    assert path_events(net.events("server")) == [(second[0], PathState.ACTIVE)]
    assert path_events(net.events("client")) == []
    to_second = [d for d in net.sent if d.destination == second]
    assert datagrams_with(to_second, HeartbeatChunk)
    assert not datagrams_with(to_second, DataChunk)
    server.set_primary(second)
    assert server.primary_address == second


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_primary_cut_mid_transfer(family: str, preset: str) -> None:
    config = PRESETS[preset]
    topology = two_by_two(family, config=config)
    events = record_path_events(topology)
    traffic = Traffic(topology)
    count = 20_000
    traffic.run(count, until_time=topology.net.now + 0.2)
    assert 0 < traffic.total < count // 2  # the cut comes mid-transfer
    cut = topology.net.now
    primary = topology.server_addresses[0]
    rto = topology.client.destinations[primary[0]].rto
    topology.cut(0)
    traffic.run(count, max_time=600.0)
    traffic.check_exactly_once_in_order(count)
    assert topology.client.state is State.ESTABLISHED

    # The bound: the primary leaves use after PFMR + 1 timeouts (RFC 7829), or
    # Path.Max.Retrans + 1 without the potentially-failed state (RFC 9260 section 8.2); each
    # timeout doubles the RTO up to RTO.Max (6.3.3 E2). The first T3 expiry is at most one
    # RTO after the cut (T3 was restarted by the last SACK before it), and its
    # retransmission goes to the other path (6.4.1), a one-way delay away.
    threshold = config.potentially_failed_threshold
    timeouts = (threshold if threshold is not None else config.path_max_retransmissions) + 1
    backoffs = [min(rto * 2**k, config.rto_max) for k in range(timeouts)]
    alternate_source = topology.client_addresses[1]
    first_on_alternate = min(t for t, source in traffic.deliveries if source == alternate_source)
    assert first_on_alternate - cut <= rto + 2 * DELAY
    expected_state = PathState.POTENTIALLY_FAILED if threshold is not None else PathState.INACTIVE
    [moved] = [
        t
        for t, name, host, state in events
        if name == "client" and host == primary[0] and state is expected_state
    ][:1]
    # Each retransmission timer starts when data goes out after the previous expiry.
    assert sum(backoffs[1:]) <= moved - cut <= sum(backoffs) + 2 * DELAY * timeouts
    # From then on data flows over the other path without waiting for any timer.
    late = [t for t, _ in traffic.deliveries if t > moved + 4 * DELAY]
    assert len(late) > 100
    assert max(b - a for a, b in itertools.pairwise(late)) < config.rto_min
    figures = MEASURED[preset]
    assert first_on_alternate - cut == pytest.approx(figures["first_on_alternate"], abs=0.02)
    assert moved - cut == pytest.approx(figures["primary_out_of_use"], abs=0.02)


def test_primary_returns_when_heartbeats_answer_again() -> None:
    # RFC 9260 section 8.3 / RFC 7829: a failed primary keeps being probed, and the first
    # HEARTBEAT ACK makes it active again; new data goes back to it (6.4).
    config = Config.fast_failover()
    topology = two_by_two(config=config)
    events = record_path_events(topology)
    traffic = Traffic(topology)
    topology.cut(0)
    traffic.run(2000, max_time=30.0)
    primary = topology.server_addresses[0][0]
    topology.net.run(
        lambda: topology.client.destinations[primary].state is PathState.INACTIVE, max_time=5.0
    )
    assert [s for _, n, h, s in events if n == "client" and h == primary] == [
        PathState.POTENTIALLY_FAILED,
        PathState.INACTIVE,
    ]
    topology.cut(0, up=True)
    healed = topology.net.now
    topology.net.run(
        lambda: topology.client.destinations[primary].state is PathState.ACTIVE, max_time=5.0
    )
    assert topology.net.now - healed <= config.heartbeat_interval + 2 * config.rto_max
    traffic.run(4000, max_time=30.0)
    assert traffic.deliveries[-1][1] == topology.client_addresses[0]
    traffic.check_exactly_once_in_order(4000)


def test_a_hundred_flaps_of_the_primary_under_load_lose_nothing() -> None:
    config = Config.fast_failover()
    topology = two_by_two(config=config)
    events = record_path_events(topology)
    traffic = Traffic(topology, window=8 * 1024)
    count = 60_000
    for flap in range(100):
        traffic.run(count, until_time=topology.net.now + 0.25)
        topology.cut(0, up=flap % 2 == 1)
    topology.cut(0, up=True)
    traffic.run(count, max_time=120.0)
    traffic.check_exactly_once_in_order(count)
    assert topology.client.state is State.ESTABLISHED
    # It really failed over and back, many times.
    client_events = [state for _, name, _, state in events if name == "client"]
    assert client_events.count(PathState.POTENTIALLY_FAILED) >= 10
    assert client_events.count(PathState.ACTIVE) >= 10


@pytest.mark.parametrize("direction", ["to_server", "to_client"])
def test_one_direction_of_one_path_lost(direction: str) -> None:
    # Data lost one way, or only its SACKs the other way: T3 moves the data, and the
    # association stays up, each message delivered exactly once.
    topology = two_by_two(config=Config.fast_failover())
    traffic = Traffic(topology)
    topology.cut(0, direction=direction)
    traffic.run(5000, max_time=60.0)
    traffic.check_exactly_once_in_order(5000)
    assert topology.client.state is State.ESTABLISHED
    assert topology.client.stats.t3_expirations >= 1


def test_five_percent_loss_on_the_primary_over_100k_messages() -> None:
    topology = two_by_two(config=Config.fast_failover(), seed=3)
    for host_pair in (
        (topology.client_addresses[0][0], topology.server_addresses[0][0]),
        (topology.server_addresses[0][0], topology.client_addresses[0][0]),
    ):
        topology.net.link(*host_pair).configure(loss=0.05)
    traffic = Traffic(topology, size=64)
    count = 100_000
    traffic.run(count, max_time=3600.0)
    traffic.check_exactly_once_in_order(count)
    assert topology.client.state is State.ESTABLISHED
    assert topology.net.link(*host_pair).lost > 100


def test_an_address_the_peer_lists_but_never_answers_for_stays_unconfirmed() -> None:
    # The server lists a third address that nobody answers on. The client probes it (RFC
    # 9260 section 5.4), never sends DATA there, never makes it primary, reports nothing about
    # it, and the unanswered probes count against neither the path nor the association.
    ghost = ("10.1.3.2", SERVER_PORT)
    topology = two_by_two(record=True, server_hosts=("10.1.1.2", "10.1.2.2", ghost[0]))
    traffic = Traffic(topology)
    traffic.run(2000, max_time=30.0)
    client, net = topology.client, topology.net
    # Asked to go there, a message goes to the primary instead (section 5.4).
    client.send(b"to the ghost", stream=5, now=net.now, to=ghost)
    net.run_for(300.0)
    assert b"to the ghost" in [getattr(e, "data", None) for e in net.events("server")]
    assert ghost in client.peer_addresses()
    assert {p.address: p.state for p in client.paths()}[ghost] is PathState.UNCONFIRMED
    assert client.state is State.ESTABLISHED
    assert all(event[0] != ghost[0] for event in path_events(net.events("client")))
    with pytest.raises(AddressError):
        client.set_primary(ghost)
    with pytest.raises(AddressError):
        client.send(b"x", now=net.now, to=("10.1.4.2", SERVER_PORT))
    to_ghost = [d for d in net.sent if d.destination == ghost]
    assert datagrams_with(to_ghost, HeartbeatChunk)
    assert not datagrams_with(to_ghost, DataChunk)
    # Probing backs off like T3 (RTO 1, 2, 4 ... 60 s): in 330 s at most 11 probes.
    assert 5 <= len(to_ghost) <= 11
    traffic.check_exactly_once_in_order(2000)


def test_a_spoofed_packet_with_a_valid_tag_from_a_foreign_address_is_ignored() -> None:
    topology = two_by_two(record=True)
    net, server = topology.net, topology.server
    foreign = ("10.9.9.9", topology.client_addresses[0][1])
    before = server.stats.foreign_source
    peers_before = server.peer_addresses()
    for chunk in (
        HeartbeatChunk(b"spoofed"),
        # The very TSN the server expects next: only the address gives it away.
        DataChunk(tsn=topology.client.local_initial_tsn, stream=0, ssn=0, ppid=0, data=b"evil"),
    ):
        packet = Packet(foreign[1], SERVER_PORT, server.local_tag, (chunk,))
        net.inject(encode_packet(packet), foreign, topology.server_addresses[0])
    net.run_for(1.0)
    assert server.stats.foreign_source == before + 2
    assert server.peer_addresses() == peers_before
    assert not [d for d in net.sent if d.destination == foreign]
    assert not [e for e in net.events("server") if getattr(e, "data", None) == b"evil"]
    assert server.state is State.ESTABLISHED


def test_an_init_adding_new_addresses_to_an_established_association_is_refused() -> None:
    # RFC 9260 section 5.2.2: a restart may not bring new addresses; the answer is an ABORT
    # with a Restart of an Association with New Addresses cause listing them, and the
    # association stays as it was.
    session = open_session()
    new_host = "192.0.2.77"
    mark = session.mark()
    session.send(init_chunk(tag=0x0BAD_F00D, params=(ipv4_address(new_host),)), tag=0)
    _, packet, abort = session.expect(AbortChunk, mark=mark, within=1.0)
    assert packet.verification_tag == 0x0BAD_F00D
    [cause] = abort.causes
    assert cause.code == CauseCode.RESTART_WITH_NEW_ADDRESSES
    assert [address_of(p) for p in decode_params(cause.info)] == [new_host]
    assert session.iut.state is State.ESTABLISHED
    assert new_host not in [host for host, _ in session.iut.peer_addresses()]


def test_a_message_goes_where_it_is_sent_and_to_the_primary_while_that_is_down() -> None:
    # RFC 9260 section 6.4: the sender may name a destination per message; while that
    # destination is not active the message goes to the primary instead.
    topology = two_by_two(config=Config.fast_failover(), record=True)
    net, client = topology.net, topology.client
    second = topology.server_addresses[1]
    client.send(b"by the second path", now=net.now, to=second)
    client.send(b"by the primary", stream=1, now=net.now)
    net.run_for(1.0)
    routes = {
        chunk.data: datagram.destination
        for datagram in net.sent_between("client", "server")
        for chunk in of_type(datagram.chunks(), DataChunk)
    }
    assert routes == {
        b"by the second path": second,
        b"by the primary": topology.server_addresses[0],
    }
    topology.cut(1)
    client.send(b"probe", stream=2, now=net.now, to=second)  # times out there: PF
    net.run(lambda: client.destinations[second[0]].state is not PathState.ACTIVE, max_time=5.0)
    mark = len(net.sent)
    client.send(b"fallback", stream=3, now=net.now, to=second)
    net.run_for(1.0)
    fallback = next(
        d
        for d in net.sent[mark:]
        if any(c.data == b"fallback" for c in of_type(d.chunks(), DataChunk))
    )
    assert fallback.destination == topology.server_addresses[0]
    assert b"fallback" in [getattr(e, "data", None) for e in net.events("server")]
    with pytest.raises(AddressError):
        client.send(b"x", now=net.now, to=("10.1.1.2", 9))  # the right host, another port


def test_without_a_local_address_of_the_family_the_source_is_left_to_the_caller() -> None:
    client = association(["10.1.1.1", "fd00:1::1"], 5001, SERVER_PORT, Config(), seed=1)
    client.connect([("fd00:1::2", SERVER_PORT), ("10.1.1.2", SERVER_PORT)], 0.0)
    [(_, source, destination)] = client.datagrams_to_send(0.0)
    assert (source, destination) == (("fd00:1::1", 5001), ("fd00:1::2", SERVER_PORT))
    v4_only = association(["10.1.1.1"], 5001, SERVER_PORT, Config(), seed=1)
    v4_only.connect([("fd00:1::2", SERVER_PORT)], 0.0)
    [(_, source, _)] = v4_only.datagrams_to_send(0.0)
    assert source is None


def test_a_fast_retransmission_goes_to_the_alternate_path() -> None:
    # RFC 9260 section 6.4: a retransmission goes to an active destination other than the
    # one the chunk was last sent to.
    topology = two_by_two(record=True)
    net, client = topology.net, topology.client
    primary, alternate = topology.server_addresses
    dropped: list[int] = []

    def drop_one(datagram: Datagram) -> Datagram | None:
        for chunk in of_type(datagram.chunks(), DataChunk):
            if chunk.data.startswith(b"\x00" * 7 + b"\x05") and not dropped:
                dropped.append(chunk.tsn)
                return None
        return datagram

    net.add_filter(drop_one)
    traffic = Traffic(topology)
    traffic.run(200, max_time=10.0)
    traffic.check_exactly_once_in_order(200)
    assert client.stats.fast_retransmits == 1
    assert client.stats.t3_expirations == 0
    sends = [
        datagram.destination
        for datagram in net.sent_between("client", "server")
        for chunk in of_type(datagram.chunks(), DataChunk)
        if chunk.tsn == dropped[0]
    ]
    assert sends == [primary, alternate]


class RoutedByDestination:
    """The two networks of a 2x2 topology as Linux routes them without policy routing: a
    datagram crosses the network of its destination address, whatever its source, so a
    packet from ``server[0]`` to ``client[1]`` goes over network 1 and its answer, to
    ``server[0]``, over network 0."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.down: set[int] = set()
        self.apply()

    def apply(self) -> None:
        clients, servers = self.topology.client_addresses, self.topology.server_addresses
        for i, (client, _) in enumerate(clients):
            for j, (server, _) in enumerate(servers):
                net = self.topology.net
                net.link(client, server).configure(delay=DELAY, up=j not in self.down)
                net.link(server, client).configure(delay=DELAY, up=i not in self.down)

    def cut(self, index: int, *, up: bool = False) -> None:
        if up:
            self.down.discard(index)
        else:
            self.down.add(index)
        self.apply()


def test_a_path_confirmed_across_both_networks_returns_to_its_own_when_it_fails() -> None:
    # Probing a failed address from the next local address (paths.py) can confirm a pair
    # whose answers come back over the *other* network: server[0] -> client[1] goes over
    # network 1, client[1]'s HEARTBEAT ACK to server[0] over network 0. When network 0 then
    # fails, that path must go back to its own pair (server[1] -> client[1]) at its first
    # timeout; staying on the crossed pair made both paths fail at once and the server lost
    # an association whose peer kept sending to it over network 1.
    config = Config.fast_failover()
    topology = two_by_two(config=config, record=True)
    net, server = topology.net, topology.server
    routing = RoutedByDestination(topology)
    own, crossed = topology.server_addresses[1], topology.server_addresses[0]
    second = topology.client_addresses[1]
    net.run(lambda: all(p.state is PathState.ACTIVE for p in server.paths()), max_time=5.0)

    def source_to_second() -> Address:
        return next(d.source for d in reversed(net.sent) if d.destination == second)

    traffic = Traffic(topology, window=8 * 1024)
    count = 200_000
    routing.cut(1)
    deadline = net.now + 30.0
    # Once the probes alternate between the two local addresses, mend network 1 just after
    # one from server[1] was lost: the next, from server[0], is answered.
    for wanted in (crossed, own):
        while source_to_second() != wanted:
            assert net.now < deadline, "the server never probed client[1] from server[0]"
            traffic.run(count, until_time=net.now + 0.01)
    routing.cut(1, up=True)
    traffic.run(count, until_time=net.now + 1.0)
    assert {p.address: p.state for p in server.paths()}[second] is PathState.ACTIVE
    assert source_to_second() == crossed  # confirmed across both networks

    routing.cut(0)
    traffic.run(count, until_time=net.now + 10.0)
    assert server.state is State.ESTABLISHED
    assert topology.client.state is State.ESTABLISHED
    assert source_to_second() == own
    routing.cut(0, up=True)
    traffic.run(traffic.sent, max_time=60.0)
    traffic.check_exactly_once_in_order(traffic.sent)
