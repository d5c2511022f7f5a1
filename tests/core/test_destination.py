"""Per-destination RTO (RFC 9260 section 6.3) and congestion control (section 7.2)."""

from __future__ import annotations

import pytest

from sctpmh.config import Config
from sctpmh.core.destination import DEFAULT_MTU, Destination
from sctpmh.events import PathState

ADDRESS = ("192.0.2.1", 5000)


def make(mtu: int = DEFAULT_MTU, *, rto_initial: float = 1.0, rto_max: float = 60.0) -> Destination:
    config = Config(rto_initial=rto_initial, rto_min=0.1, rto_max=rto_max)
    return Destination(ADDRESS, config, mtu)


def test_initial_state() -> None:
    d = make()
    assert d.address == ADDRESS
    assert d.srtt is None
    assert d.rto == 1.0  # C1: RTO.Initial
    assert d.flight_size == 0
    assert d.error_count == 0
    assert d.state is PathState.ACTIVE
    assert d.mtu == 1280


@pytest.mark.parametrize(
    ("mtu", "cwnd"),
    [
        (1280, 4404),  # min(5120, max(2560, 4404))
        (1500, 4404),  # min(6000, max(3000, 4404))
        (1000, 4000),  # min(4000, max(2000, 4404))
        (9000, 18000),  # min(36000, max(18000, 4404))
    ],
)
def test_initial_cwnd_rfc9260_7_2_1(mtu: int, cwnd: int) -> None:
    assert make(mtu).cwnd == cwnd


def test_rto_first_and_second_sample_c2_c3() -> None:
    d = make()
    d.rtt_sample(0.5)
    # C2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 * RTTVAR.
    assert d.srtt == pytest.approx(0.5)
    assert d.rttvar == pytest.approx(0.25)
    assert d.rto == pytest.approx(1.5)
    d.rtt_sample(0.3)
    # C3: RTTVAR = 3/4 * 0.25 + 1/4 * |0.5 - 0.3| = 0.2375;
    #     SRTT = 7/8 * 0.5 + 1/8 * 0.3 = 0.475; RTO = 0.475 + 4 * 0.2375 = 1.425.
    assert d.rttvar == pytest.approx(0.2375)
    assert d.srtt == pytest.approx(0.475)
    assert d.rto == pytest.approx(1.425)


def test_rto_clamped_to_min_and_max() -> None:
    d = make()
    d.rtt_sample(0.001)  # 0.001 + 4 * 0.0005 = 0.003 < RTO.Min
    assert d.rto == pytest.approx(0.1)
    big = make()
    big.rtt_sample(100.0)  # 100 + 200 > RTO.Max
    assert big.rto == pytest.approx(60.0)


def test_back_off_doubles_up_to_rto_max() -> None:
    d = make(rto_initial=1.5, rto_max=10.0)
    d.back_off()
    assert d.rto == pytest.approx(3.0)
    d.back_off()
    assert d.rto == pytest.approx(6.0)
    d.back_off()
    assert d.rto == pytest.approx(10.0)
    d.back_off()
    assert d.rto == pytest.approx(10.0)


def test_slow_start_grows_by_at_most_one_mtu_per_sack() -> None:
    d = make()
    d.ssthresh = 100_000
    d.on_acked(3000, cum_ack_advanced=True, fully_utilized=True)
    assert d.cwnd == 4404 + 1280  # min(3000, MTU)
    d.on_acked(1000, cum_ack_advanced=True, fully_utilized=True)
    assert d.cwnd == 5684 + 1000


def test_slow_start_needs_full_window_and_no_fast_recovery() -> None:
    d = make()
    d.ssthresh = 100_000
    d.on_acked(3000, cum_ack_advanced=True, fully_utilized=False)
    d.on_acked(3000, cum_ack_advanced=True, fully_utilized=True, in_fast_recovery=True)
    assert d.cwnd == 4404
    # RFC 9260 (after RFC 8540 section 3.22): a gap-ack-only SACK may grow cwnd too.
    d.on_acked(500, cum_ack_advanced=False, fully_utilized=True)
    assert d.cwnd == 4904


def test_congestion_avoidance_partial_bytes_acked() -> None:
    d = make()
    d.cwnd, d.ssthresh = 10_000, 5_000
    d.on_acked(6000, cum_ack_advanced=True, fully_utilized=True)
    assert (d.cwnd, d.partial_bytes_acked) == (10_000, 6000)
    d.on_acked(5000, cum_ack_advanced=False, fully_utilized=True)
    # 11000 >= cwnd, but the cumulative ack did not move: wait for a SACK that moves it.
    assert (d.cwnd, d.partial_bytes_acked) == (10_000, 11_000)
    d.on_acked(1000, cum_ack_advanced=True, fully_utilized=True)
    # 12000 >= cwnd: pba -= cwnd, cwnd += MTU (RFC 9260 section 7.2.2).
    assert (d.cwnd, d.partial_bytes_acked) == (11_280, 2000)
    # Not fully utilized: bytes are counted but cwnd does not grow.
    d.on_acked(20_000, cum_ack_advanced=True, fully_utilized=False)
    assert (d.cwnd, d.partial_bytes_acked) == (11_280, 22_000)
    d.on_all_acked()
    assert d.partial_bytes_acked == 0


def test_t3_expiry_collapses_cwnd() -> None:
    d = make()
    d.cwnd = 20_000
    d.partial_bytes_acked = 500
    d.on_t3_expired()
    assert (d.ssthresh, d.cwnd, d.partial_bytes_acked) == (10_000, 1280, 0)
    d.on_t3_expired()
    # max(1280 // 2, 4 * 1280)
    assert (d.ssthresh, d.cwnd) == (5120, 1280)


def test_fast_retransmit_halves_cwnd() -> None:
    d = make()
    d.cwnd = 20_000
    d.on_fast_retransmit()
    assert (d.ssthresh, d.cwnd) == (10_000, 10_000)
    d.cwnd = 6000
    d.on_fast_retransmit()
    assert (d.ssthresh, d.cwnd) == (5120, 5120)  # floor of 4 * MTU
