"""Tests of the simulated network itself, with byte payloads and a trivial stub endpoint."""

from __future__ import annotations

import pytest

from sctpmh.events import Event
from tests.core.simnet import Address, Datagram, FakeClock, SimNet, SimulationError

A: Address = ("10.1.0.1", 1000)
B: Address = ("10.1.0.2", 2000)


class Stub:
    """An endpoint that records what it gets and sends what it is told, optionally on a timer."""

    def __init__(self) -> None:
        self.received: list[tuple[float, bytes, Address]] = []
        self.outbox: list[tuple[bytes, Address | None, Address]] = []
        self.timer: float | None = None
        self.timer_fired: list[float] = []
        self.echo_to: Address | None = None

    def receive_datagram(
        self, data: bytes, source: Address, now: float, destination: Address | None = None
    ) -> None:
        self.received.append((now, data, source))
        if self.echo_to is not None:
            self.outbox.append((b"echo:" + data, None, self.echo_to))

    def handle_timer(self, now: float) -> None:
        self.timer_fired.append(now)
        self.timer = None

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address | None, Address]]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return self.timer

    def next_event(self) -> Event | None:
        return None


def two_stubs(seed: int = 7) -> tuple[SimNet, Stub, Stub]:
    net = SimNet(seed)
    a, b = Stub(), Stub()
    net.add_endpoint("a", a, [A])
    net.add_endpoint("b", b, [B])
    return net, a, b


def send_numbered(stub: Stub, count: int, to: Address = B) -> None:
    stub.outbox.extend((i.to_bytes(4, "big"), None, to) for i in range(count))


def test_fake_clock_moves_forward_only() -> None:
    clock = FakeClock(5.0)
    clock.advance(1.5)
    assert clock.now == 6.5
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_delivery_after_link_delay() -> None:
    net, a, b = two_stubs()
    net.link(A[0], B[0]).configure(delay=0.25)
    a.outbox.append((b"hello", None, B))
    net.run()
    assert b.received == [(0.25, b"hello", A)]
    assert net.now == 0.25


def test_each_direction_has_its_own_delay() -> None:
    net, a, b = two_stubs()
    net.link(A[0], B[0]).configure(delay=0.1)
    net.link(B[0], A[0]).configure(delay=0.3)
    b.echo_to = A
    a.outbox.append((b"ping", None, B))
    net.run()
    [(arrival, data, source)] = a.received
    assert (data, source) == (b"echo:ping", B)
    assert arrival == pytest.approx(0.4)


def test_timer_fires_at_its_deadline_and_clock_jumps() -> None:
    net, a, _ = two_stubs()
    a.timer = 42.0
    net.run()
    assert a.timer_fired == [42.0]
    assert net.now == 42.0


def test_seeded_loss_is_reproducible_and_near_its_rate() -> None:
    def lost_pattern(seed: int) -> list[bytes]:
        net, a, b = two_stubs(seed)
        net.link(A[0], B[0]).configure(loss=0.2)
        send_numbered(a, 2000)
        net.run()
        return [data for _, data, _ in b.received]

    first, again, other = lost_pattern(3), lost_pattern(3), lost_pattern(4)
    assert first == again
    assert first != other
    assert 1500 < len(first) < 1700  # 20 % loss of 2000, well within 5 sigma


def test_duplication_delivers_some_datagrams_twice() -> None:
    net, a, b = two_stubs()
    link = net.link(A[0], B[0]).configure(duplicate=0.5)
    send_numbered(a, 400)
    net.run()
    payloads = [data for _, data, _ in b.received]
    assert len(payloads) == 400 + link.duplicated
    assert 150 < link.duplicated < 250
    assert set(payloads) == {i.to_bytes(4, "big") for i in range(400)}


def test_reorder_lets_later_datagrams_overtake() -> None:
    net, a, b = two_stubs()
    link = net.link(A[0], B[0]).configure(reorder=0.3, reorder_delay=0.05)
    send_numbered(a, 300)
    net.run()
    order = [int.from_bytes(data, "big") for _, data, _ in b.received]
    assert sorted(order) == list(range(300))
    assert order != list(range(300))
    assert link.reordered > 0


def test_without_reorder_order_is_kept() -> None:
    net, a, b = two_stubs()
    send_numbered(a, 100)
    net.run()
    assert [int.from_bytes(data, "big") for _, data, _ in b.received] == list(range(100))


def test_link_down_drops_everything_until_up_again() -> None:
    net, a, b = two_stubs()
    link = net.link(A[0], B[0]).configure(up=False)
    a.outbox.append((b"lost", None, B))
    net.run()
    assert b.received == []
    assert link.lost == 1
    link.configure(up=True)
    a.outbox.append((b"found", None, B))
    net.run()
    assert [data for _, data, _ in b.received] == [b"found"]


def test_filter_can_drop_rewrite_and_inspect() -> None:
    net, a, b = two_stubs()
    seen: list[Datagram] = []

    def tamper(datagram: Datagram) -> Datagram | None:
        seen.append(datagram)
        if datagram.data == b"drop":
            return None
        if datagram.data == b"rewrite":
            return datagram.replace(data=b"rewritten")
        return datagram

    net.add_filter(tamper)
    a.outbox.extend([(b"drop", None, B), (b"rewrite", None, B), (b"keep", None, B)])
    net.run()
    assert [d.data for d in seen] == [b"drop", b"rewrite", b"keep"]
    assert [data for _, data, _ in b.received] == [b"rewritten", b"keep"]
    net.remove_filter(tamper)
    a.outbox.append((b"drop", None, B))
    net.run()
    assert b.received[-1][1] == b"drop"


def test_inject_bypasses_links_and_filters() -> None:
    net, _, b = two_stubs()
    net.link(A[0], B[0]).configure(up=False)
    net.add_filter(lambda datagram: None)
    net.inject(b"forged", ("192.0.2.9", 9), B, delay=0.5)
    net.run()
    assert b.received == [(0.5, b"forged", ("192.0.2.9", 9))]


def test_undeliverable_datagrams_are_kept_aside() -> None:
    net, a, _ = two_stubs()
    a.outbox.append((b"nobody", None, ("10.9.9.9", 1)))
    net.run()
    assert [d.data for d in net.undeliverable] == [b"nobody"]


def test_records_sent_and_delivered() -> None:
    net, a, _ = two_stubs()
    net.link(A[0], B[0]).configure(up=False)
    a.outbox.append((b"x", None, B))
    net.run()
    assert [d.data for d in net.sent] == [b"x"]
    assert net.delivered == []
    assert net.sent_between("a", "b") == net.sent
    assert net.sent_between("b", "a") == []


def test_until_stops_as_soon_as_condition_holds() -> None:
    net, a, b = two_stubs()
    send_numbered(a, 10)
    net.link(A[0], B[0]).configure(reorder=0.0)
    net.run(lambda: len(b.received) >= 3)
    assert len(b.received) == 3


def test_unmet_condition_raises_when_idle() -> None:
    net, _, b = two_stubs()
    with pytest.raises(SimulationError, match="nothing left"):
        net.run(lambda: bool(b.received))


def test_max_time_bounds_a_run() -> None:
    net, a, _ = two_stubs()
    a.timer = 1000.0
    with pytest.raises(SimulationError, match="simulated seconds"):
        net.run(lambda: False, max_time=10.0)
    assert net.now == 10.0
    assert a.timer_fired == []


class Livelock(Stub):
    """A buggy endpoint whose timer is always due and never progresses."""

    def handle_timer(self, now: float) -> None:
        self.timer_fired.append(now)

    def get_timer(self) -> float | None:
        return 0.0


def test_max_steps_catches_livelock() -> None:
    net = SimNet(1)
    net.add_endpoint("bad", Livelock(), [A])
    with pytest.raises(SimulationError, match="steps"):
        net.run(max_steps=50)


def test_source_address_follows_configured_links() -> None:
    net = SimNet(1)
    multi, peer = Stub(), Stub()
    net.add_endpoint("multi", multi, [("10.2.0.1", 7), ("10.3.0.1", 7)])
    net.add_endpoint("peer", peer, [("10.3.0.2", 8)])
    net.link("10.3.0.1", "10.3.0.2")
    multi.outbox.append((b"x", None, ("10.3.0.2", 8)))
    net.run()
    [(_, data, source)] = peer.received
    assert (data, source) == (b"x", ("10.3.0.1", 7))


def test_duplicate_address_rejected() -> None:
    net, _, _ = two_stubs()
    with pytest.raises(ValueError, match="another endpoint"):
        net.add_endpoint("c", Stub(), [A])
