"""Multi-homed topologies on the simulated network, for the multi-homing tests.

:func:`two_by_two` builds a client and a server with two addresses each, joined by two
independent networks: ``client[i]`` reaches ``server[i]`` and nothing else (the cross links are
down, as between two separate LANs). :class:`Traffic` keeps a stream of messages flowing and
checks what arrives: each message exactly once, in order per stream.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from sctpmh.config import Config
from sctpmh.core.association import Association, CoreConfig, State
from sctpmh.events import Message
from tests.core.simnet import Address, Notice, SimNet

CLIENT_PORT = 5001
SERVER_PORT = 5002

FAMILIES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "ipv4": (("10.1.1.1", "10.1.2.1"), ("10.1.1.2", "10.1.2.2")),
    "ipv6": (("fd00:1::1", "fd00:2::1"), ("fd00:1::2", "fd00:2::2")),
    "mixed": (("10.1.1.1", "fd00:2::1"), ("10.1.1.2", "fd00:2::2")),
}
"""Client hosts and server hosts per family; index i of one reaches index i of the other."""

DELAY = 0.01
"""One-way delay of every link, seconds."""


@dataclass
class Topology:
    """A 2x2 multi-homed pair on a SimNet."""

    net: SimNet
    client: Association
    server: Association
    client_addresses: tuple[Address, Address]
    server_addresses: tuple[Address, Address]

    def cut(self, index: int, *, up: bool = False, direction: str = "both") -> None:
        """Take network ``index`` down (or up again); ``direction`` is ``"both"``,
        ``"to_server"`` or ``"to_client"``."""
        client, server = self.client_addresses[index][0], self.server_addresses[index][0]
        if direction in ("both", "to_server"):
            self.net.link(client, server).configure(up=up)
        if direction in ("both", "to_client"):
            self.net.link(server, client).configure(up=up)


def association(
    hosts: Sequence[str], port: int, remote_port: int, config: Config, seed: int
) -> Association:
    """A core association on ``hosts`` with a seeded rng."""
    return Association(
        config,
        CoreConfig(local_port=port, remote_port=remote_port),
        local_addresses=list(hosts),
        rng=random.Random(seed),
    )


def two_by_two(
    family: str = "ipv4",
    *,
    config: Config | None = None,
    seed: int = 1,
    record: bool = False,
    server_hosts: Sequence[str] | None = None,
    establish: bool = True,
) -> Topology:
    """Client and server with two addresses each, on two separate networks; the client
    connects to both server addresses (the first is primary). ``server_hosts`` may list more
    addresses for the server to announce: nobody answers on those."""
    config = config if config is not None else Config()
    client_hosts, default_server_hosts = FAMILIES[family]
    server_hosts = tuple(server_hosts) if server_hosts is not None else default_server_hosts
    net = SimNet(seed, record=record)
    client = association(client_hosts, CLIENT_PORT, SERVER_PORT, config, seed * 2 + 1)
    server = association(server_hosts, SERVER_PORT, CLIENT_PORT, config, seed * 2 + 2)
    client_addresses = tuple((host, CLIENT_PORT) for host in client_hosts)
    server_addresses = tuple((host, SERVER_PORT) for host in server_hosts)
    net.add_endpoint("client", client, client_addresses)
    # Server hosts beyond the first two are listed by the server but reach nobody.
    net.add_endpoint("server", server, server_addresses[:2])
    for i, client_host in enumerate(client_hosts):
        for j, server_host in enumerate(server_hosts):
            # Only same-index pairs share a network.
            for link in (net.link(client_host, server_host), net.link(server_host, client_host)):
                link.configure(delay=DELAY, up=i == j)
    topology = Topology(net, client, server, client_addresses[:2], server_addresses[:2])  # type: ignore[arg-type]
    client.connect(list(server_addresses[:2]), net.now)
    if establish:
        net.run(
            lambda: client.state is State.ESTABLISHED and server.state is State.ESTABLISHED,
            max_time=30.0,
        )
    return topology


@dataclass
class Traffic:
    """Messages numbered per stream from the client to the server, checked on arrival."""

    topology: Topology
    streams: int = 4
    size: int = 200
    window: int = 64 * 1024
    """Bytes the sender keeps queued or in flight at most."""
    sent: int = 0
    received: dict[int, list[int]] = field(default_factory=dict)
    deliveries: list[tuple[float, Address | None]] = field(default_factory=list)
    """(time, path source) of every delivery."""
    duplicates: int = 0
    out_of_order: int = 0

    def __post_init__(self) -> None:
        self._previous = self.topology.net.on_event
        self.topology.net.on_event = self._on_event

    def _on_event(self, name: str, event: Notice) -> None:
        if self._previous is not None:
            self._previous(name, event)
        if name != "server" or type(event) is not Message:
            return
        stream = event.stream
        number = int.from_bytes(event.data[:8], "big")
        got = self.received.setdefault(stream, [])
        if number in got:
            self.duplicates += 1
        elif got and number < got[-1]:
            self.out_of_order += 1
        got.append(number)
        self.deliveries.append((self.topology.net.now, event.source))

    def pump(self, count: int) -> None:
        """Queue messages up to ``count`` sent in all while the window allows."""
        client = self.topology.client
        now = self.topology.net.now
        while self.sent < count and client.pending_bytes() < self.window:
            stream = self.sent % self.streams
            payload = self.sent.to_bytes(8, "big") + bytes(self.size - 8)
            client.send(payload, stream=stream, now=now)
            self.sent += 1

    def run(self, count: int, *, until_time: float | None = None, max_time: float = 600.0) -> None:
        """Send ``count`` messages in all and run until all arrived (or ``until_time``)."""
        net = self.topology.net
        deadline = net.now + max_time
        while self.total < count:
            if until_time is not None and net.now >= until_time:
                return
            self.pump(count)
            net.flush("client")
            due = net.next_due()
            assert due is not None, "the simulation stalled"
            assert net.now <= deadline, f"only {self.total} of {count} arrived by t={net.now}"
            net.step()

    @property
    def total(self) -> int:
        """Messages received, duplicates included."""
        return sum(len(got) for got in self.received.values())

    def check_exactly_once_in_order(self, count: int) -> None:
        """Every message arrived exactly once, in order on its stream."""
        assert self.duplicates == 0
        assert self.out_of_order == 0
        for stream in range(self.streams):
            assert self.received.get(stream, []) == list(range(stream, count, self.streams))
