"""Address families in the handshake (RFC 9260 sections 3.3.2.1, 5.1.2), found against
usrsctp: a peer lists every address of its host, IPv6 ones included, to an endpoint that has
only IPv4 addresses.

- Our INIT carries Supported Address Types with the families of our local addresses.
- An INIT ACK lists only addresses of the types the INIT said it supports (plus the family
  the INIT came from, and those it listed: the IMPLEMENTATION NOTE of 5.1.2).
- An address of a family we have no local address of, listed anyway, gets no path: nothing
  is ever sent to it, and it does not make a later INIT a "restart with new addresses".
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from sctpmh.config import Config
from sctpmh.core.association import Association, State
from sctpmh.core.chunks import AbortChunk, InitAckChunk, InitChunk
from sctpmh.core.packet import encode_packet
from sctpmh.core.params import ParamType, address_of, address_types_of
from tests.core.multihome import CLIENT_PORT, SERVER_PORT, association
from tests.core.simnet import Datagram, SimNet

CLIENT_V4 = ("10.1.1.1", "10.1.2.1")
SERVER_V4 = ("10.1.1.2", "10.1.2.2")
SERVER_V6 = "fd00:9::2"
CONFIG = Config(heartbeat_interval=1.0)
ChunkT = TypeVar("ChunkT")


def _pair(
    client_hosts: tuple[str, ...], server_hosts: tuple[str, ...], net: SimNet
) -> tuple[Association, Association]:
    client = association(client_hosts, CLIENT_PORT, SERVER_PORT, CONFIG, 3)
    server = association(server_hosts, SERVER_PORT, CLIENT_PORT, CONFIG, 4)
    net.add_endpoint("client", client, [(h, CLIENT_PORT) for h in client_hosts])
    net.add_endpoint("server", server, [(h, SERVER_PORT) for h in server_hosts])
    return client, server


def _chunks_of(net: SimNet, kind: type[ChunkT]) -> list[ChunkT]:
    return [c for d in net.sent for c in d.chunks() if isinstance(c, kind)]


def _without_address_types(datagram: Datagram) -> Datagram:
    """Strip Supported Address Types from an INIT: the server then lists every address it
    has, as a peer that ignores the parameter would."""
    packet = datagram.packet()
    chunks = tuple(
        dataclasses.replace(
            c, params=tuple(p for p in c.params if p.type != ParamType.SUPPORTED_ADDRESS_TYPES)
        )
        if isinstance(c, InitChunk)
        else c
        for c in packet.chunks
    )
    return datagram.replace(data=encode_packet(dataclasses.replace(packet, chunks=chunks)))


def test_init_lists_the_address_types_of_the_local_addresses() -> None:
    for hosts, expected in (
        (CLIENT_V4, (ParamType.IPV4_ADDRESS,)),
        (("fd00:1::1",), (ParamType.IPV6_ADDRESS,)),
        (("10.1.1.1", "fd00:1::1"), (ParamType.IPV4_ADDRESS, ParamType.IPV6_ADDRESS)),
    ):
        net = SimNet(record=True)
        client = association(hosts, CLIENT_PORT, SERVER_PORT, CONFIG, 1)
        net.add_endpoint("client", client, [(h, CLIENT_PORT) for h in hosts])
        client.connect([(SERVER_V4[0], SERVER_PORT)], net.now)
        net.flush("client")
        (init,) = _chunks_of(net, InitChunk)
        listed = [address_types_of(p) for p in init.params]
        assert [t for t in listed if t is not None] == [expected]


def test_init_ack_lists_only_the_address_types_the_init_supports() -> None:
    net = SimNet(record=True)
    client, _server = _pair(CLIENT_V4, (*SERVER_V4, SERVER_V6), net)
    client.connect([(SERVER_V4[0], SERVER_PORT)], net.now)
    net.run(lambda: client.state is State.ESTABLISHED, max_time=30.0)
    (ack,) = _chunks_of(net, InitAckChunk)
    assert [address_of(p) for p in ack.params if address_of(p)] == list(SERVER_V4)
    assert SERVER_V6 not in [a[0] for a in client.peer_addresses()]


def test_an_address_of_a_family_without_a_local_address_gets_no_path() -> None:
    net = SimNet(record=True)
    client, _server = _pair(CLIENT_V4, (*SERVER_V4, SERVER_V6), net)
    net.add_filter(lambda d: _without_address_types(d) if d.destination[1] == SERVER_PORT else d)
    client.connect([(SERVER_V4[0], SERVER_PORT)], net.now)
    net.run(lambda: client.state is State.ESTABLISHED, max_time=30.0)
    (ack,) = _chunks_of(net, InitAckChunk)
    assert SERVER_V6 in [address_of(p) for p in ack.params]  # listed anyway
    net.run_for(60.0)  # heartbeats go to every path the client has
    assert [a[0] for a in client.peer_addresses()] == list(SERVER_V4)
    assert not [d for d in net.sent if d.destination[0] == SERVER_V6]
    assert client.state is State.ESTABLISHED


def test_a_server_makes_no_path_to_an_address_of_a_family_it_lacks() -> None:
    # The client lists an IPv6 address and says it supports both families; the IPv4-only
    # server keeps only the IPv4 ones.
    net = SimNet(record=True)
    client, server = _pair(("10.1.1.1", "fd00:1::1"), SERVER_V4, net)
    client.connect([(SERVER_V4[0], SERVER_PORT)], net.now)
    net.run(lambda: server.state is State.ESTABLISHED, max_time=30.0)
    net.run_for(60.0)
    assert [a[0] for a in server.peer_addresses()] == ["10.1.1.1"]
    assert not [d for d in net.sent_between("server") if ":" in d.destination[0]]
    # The client restarts (RFC 9260 section 5.2.2): its new INIT lists the same addresses,
    # the IPv6 one included, which is no new address to the server.
    restarted = association(("10.1.1.1", "fd00:1::1"), CLIENT_PORT, SERVER_PORT, CONFIG, 5)
    restarted.connect([(SERVER_V4[0], SERVER_PORT)], net.now)
    for data, _source, destination in restarted.datagrams_to_send(net.now):
        net.inject(data, ("10.1.1.1", CLIENT_PORT), destination)
    before = len(net.sent)
    net.run_for(0.5)
    answers = [c for d in net.sent[before:] for c in d.chunks() if d.destination[1] == CLIENT_PORT]
    assert any(isinstance(c, InitAckChunk) for c in answers)
    assert not any(isinstance(c, AbortChunk) for c in answers)
