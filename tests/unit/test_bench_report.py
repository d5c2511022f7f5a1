"""The benchmark suite's statistics, summaries, targets and report writer, on synthetic samples.

Benchmarks are not tests: nothing here measures or asserts speed. These tests check that the
figures the report shows are computed right from whatever was measured (medians over rounds,
failed rounds left out and counted, ratios, met or not met, missing figures shown as such).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report, stats, summary
from benchmarks.__main__ import main
from benchmarks.failover import analyse
from benchmarks.settings import FAILOVER_CONFIGS, Settings

# --- stats -----------------------------------------------------------------------------------


def test_quantile_interpolates_between_ranks() -> None:
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert stats.quantile([10.0, 20.0, 30.0], 0.0) == 10.0
    assert stats.quantile([10.0, 20.0, 30.0], 1.0) == 30.0
    assert stats.quantile([10.0, 20.0, 30.0], 0.25) == 15.0
    assert stats.quantile([0.0, 100.0], 0.99) == pytest.approx(99.0)
    assert stats.quantile([7.0], 0.99) == 7.0


def test_quantile_refuses_nothing_and_bad_fractions() -> None:
    with pytest.raises(ValueError, match="no values"):
        stats.quantile([], 0.5)
    with pytest.raises(ValueError, match="fraction"):
        stats.quantile([1.0], 1.5)


def test_percentiles_run_from_minimum_to_maximum() -> None:
    points = stats.percentiles([float(v) for v in range(1, 201)])
    assert len(points) == 101
    assert points[0] == 1.0
    assert points[-1] == 200.0
    assert points == sorted(points)


def test_ratio_is_none_when_a_side_is_missing() -> None:
    assert stats.ratio(3.0, 2.0) == 1.5
    assert stats.ratio(None, 2.0) is None
    assert stats.ratio(3.0, None) is None
    assert stats.ratio(3.0, 0.0) is None
    assert stats.finite([1.0, None, float("nan"), 2.0]) == [1.0, 2.0]


# --- summaries -------------------------------------------------------------------------------


def bulk_sample(megabytes: float, seconds: float = 2.0, size: int = 1000) -> dict[str, Any]:
    total = int(megabytes * 1e6 * seconds)
    return {"bytes": total, "messages": total // size, "seconds": seconds, "sent_messages": 1}


def test_bulk_takes_the_median_round_and_counts_failed_ones() -> None:
    raw = {
        "1024": {
            "a": [bulk_sample(10), bulk_sample(30), bulk_sample(20), {"error": "boom"}],
            "b": [{"error": "x"}],
        }
    }
    figures = summary.summarise_bulk(raw)["1024"]
    assert figures["a"]["mb_per_s"] == pytest.approx(20.0)
    assert figures["a"]["messages_per_s"] == pytest.approx(20_000.0)
    assert figures["a"]["rounds"] == 4
    assert figures["a"]["errors"] == 1
    assert figures["b"]["mb_per_s"] is None
    assert figures["b"]["errors"] == 1


def echo_sample(rate: float, p50: float, p99: float) -> dict[str, Any]:
    return {
        "round_trips": int(rate * 2),
        "seconds": 2.0,
        "p50_us": p50,
        "p99_us": p99,
        "percentiles_us": [p50, p99],
    }


def test_echo_medians_and_the_median_rounds_distribution() -> None:
    raw = {
        "1024": {"x": [echo_sample(100, 5, 50), echo_sample(300, 1, 9), echo_sample(200, 2, 20)]}
    }
    figures = summary.summarise_echo(raw)["1024"]["x"]
    assert figures["round_trips_per_s"] == pytest.approx(200)
    assert figures["p50_us"] == 2
    assert figures["p99_us"] == 20
    assert figures["percentiles_us"] == [2, 20]


def test_memory_is_divided_by_the_associations_held() -> None:
    raw = {
        "setup": {"asyncio": [{"associations": 100, "seconds": 2.0}]},
        "memory": {
            "1000": {
                "associations": 1000,
                "seconds": 4.0,
                "server_traced_bytes": 3_000_000,
                "server_resident_bytes": 5_000_000,
                "client_resident_bytes": 8_000_000,
            },
            "10000": {"error": "too many open files"},
        },
    }
    figures = summary.summarise_associations(raw)
    assert figures["setup"]["asyncio"]["per_s"] == 50
    memory = figures["memory"]["1000"]
    assert memory["server_traced_bytes_each"] == 3000
    assert memory["client_resident_bytes_each"] == 8000
    assert memory["setup_per_s_traced_server"] == 250
    assert "error" in figures["memory"]["10000"]
    # The target uses the largest count that was measured, and says it is not 10,000.
    target = summary._memory_target(figures["memory"])
    assert target.measured == 3000
    assert target.met is True
    assert "fewer than 10,000" in target.detail


def trial(gap: float | None, stall: float, lost: int = 0, dup: int = 0) -> dict[str, Any]:
    return {
        "cut_to_other_path_s": gap,
        "largest_gap_s": stall,
        "state_after_s": gap,
        "window_reached": gap is None,
        "sent": 100,
        "lost": lost,
        "duplicated": dup,
        "out_of_order": 0,
    }


def test_failover_quantiles_and_losses() -> None:
    raw = {
        "fast_failover": [trial(0.1, 0.4), trial(0.3, 0.5, lost=2), trial(0.2, 0.6, dup=1)],
        "default": [trial(None, 9.0), {"error": "topology"}],
    }
    figures = summary.summarise_failover(raw)
    fast = figures["fast_failover"]
    assert fast["gap_s"]["p50"] == pytest.approx(0.2)
    assert fast["gap_s"]["max"] == pytest.approx(0.3)
    assert fast["largest_gap_s"]["p50"] == pytest.approx(0.5)
    assert (fast["lost"], fast["duplicated"], fast["messages"]) == (2, 1, 300)
    default = figures["default"]
    assert default["trials"] == 1
    assert default["errors"] == 1
    assert default["no_other_path"] == 1
    assert default["gap_s"]["p50"] is None


def test_failover_analysis_of_an_arrival_log() -> None:
    # Messages 0-2 before the cut at t=10 on path A; 3 comes 0.5 s later by path B, 4 twice,
    # 5 never; 6 before 5's place would be (it is not), so nothing is reordered.
    arrivals = [
        (9.0, 0, "A"),
        (9.5, 1, "A"),
        (9.9, 2, "A"),
        (10.5, 3, "B"),
        (10.6, 4, "B"),
        (10.7, 4, "B"),
        (11.0, 6, "B"),
    ]
    figures = analyse(arrivals, cut_at=10.0, cut_source="A", sent=7, end_at=11.2)
    assert figures["cut_to_other_path_s"] == pytest.approx(0.5)
    assert figures["largest_gap_s"] == pytest.approx(0.6)  # 9.9 -> 10.5
    assert figures["lost"] == 1
    assert figures["duplicated"] == 1
    assert figures["out_of_order"] == 1  # the duplicate 4 does not move forward
    assert figures["delivered"] == 7


def test_failover_gap_starts_at_the_last_delivery_over_the_cut_path() -> None:
    # The cut command ran at t=10 but path A still delivered until 10.2 (already on its way,
    # or the cut not yet in force); B takes over at 10.5: a 0.3 s outage.
    arrivals = [(9.9, 0, "A"), (10.1, 1, "A"), (10.2, 2, "A"), (10.5, 3, "B"), (10.6, 4, "A")]
    figures = analyse(arrivals, cut_at=10.0, cut_source="A", sent=5, end_at=11.0)
    assert figures["cut_to_other_path_s"] == pytest.approx(0.3)
    assert figures["cut_path_deliveries_after_cut_s"] == pytest.approx(0.2)
    assert figures["largest_gap_s"] == pytest.approx(0.4)  # 10.6 -> the end at 11.0


def test_failover_without_delivery_on_the_other_path() -> None:
    figures = analyse([(1.0, 0, "A")], cut_at=2.0, cut_source="A", sent=3, end_at=5.0)
    assert figures["cut_to_other_path_s"] is None
    assert figures["largest_gap_s"] == pytest.approx(4.0)  # last delivery at 1.0 to the end
    assert figures["lost"] == 2


# --- targets ---------------------------------------------------------------------------------


def full_summary() -> dict[str, Any]:
    rates = {
        "iperf3-sctp": 100.0,
        "sctpmh-protocol@asyncio": 60.0,
        "sctpmh-protocol@uvloop": 90.0,
        "sctpmh-coroutine@asyncio": 8.0,
        "pysctp-blocking": 10.0,
    }
    bulk = {
        size: {name: {"mb_per_s": rate} for name, rate in rates.items()}
        for size in ("64", "1024", "16384", "65536")
    }
    echo_rates = {
        "sctpmh-coroutine@asyncio": 900.0,
        "tcp-streams@asyncio": 1000.0,
        "sctpmh-protocol@asyncio": 700.0,
        "tcp-protocol@asyncio": 1000.0,
        "sctpmh-coroutine@uvloop": 1800.0,
        "tcp-streams@uvloop": 2000.0,
    }
    echo = {"1024": {name: {"round_trips_per_s": r} for name, r in echo_rates.items()}}
    failover = {
        "fast_failover": {
            "trials": 20,
            "gap_s": {"p99": 0.7},
            "lost": 0,
            "duplicated": 0,
            "messages": 2000,
        }
    }
    memory = {"10000": {"server_traced_bytes_each": 5000.0}}
    return {
        "bulk": bulk,
        "echo": echo,
        "failover": failover,
        "associations": {"memory": memory},
    }


def test_targets_are_ratios_of_the_same_run() -> None:
    rows = {t.target: t for t in summary.targets(full_summary())}
    c_default = rows["Bulk 16 KiB: sctpmh-protocol@asyncio vs iperf3 --sctp (C)"]
    assert c_default.measured == pytest.approx(0.6)
    assert c_default.met is True
    echo_coroutine = rows["Echo 1 KiB rate: sctpmh-coroutine@asyncio vs tcp-streams@asyncio"]
    assert echo_coroutine.measured == pytest.approx(0.9)
    assert echo_coroutine.met is True
    echo_protocol = rows["Echo 1 KiB rate: sctpmh-protocol@asyncio vs tcp-protocol@asyncio"]
    assert echo_protocol.met is False
    # Not measured in this (synthetic) run: shown as missing, neither met nor failed.
    assert rows["Echo 1 KiB rate: sctpmh-protocol@uvloop vs tcp-protocol@uvloop"].met is None
    assert rows["Bulk 64 B: sctpmh-protocol@asyncio vs pysctp-blocking"].measured == 6.0
    assert rows["Bulk 64 B: sctpmh-coroutine@asyncio vs pysctp-blocking"].met is False
    assert rows["uvloop vs default loop, bulk 1 KiB (sctpmh-protocol)"].measured == 1.5
    assert rows["uvloop vs default loop, echo 1 KiB (sctpmh-coroutine)"].measured == 2.0
    memory = rows["10,000 associations: Python memory per association (server)"]
    assert memory.met is False
    gap = rows["Fast-failover preset: p99 failover gap"]
    assert (gap.measured, gap.met) == (0.7, False)
    assert rows["Fast-failover preset: messages lost or duplicated"].met is True


def test_an_empty_run_has_every_target_missing() -> None:
    rows = summary.targets({})
    assert rows
    assert all(row.met is None for row in rows)


# --- the report writer -----------------------------------------------------------------------


def raw_run() -> dict[str, Any]:
    return {
        "meta": {"mode": "smoke", "kernel": "6.1"},
        "settings": Settings.smoke_run().as_dict(),
        "results": {
            "bulk": {
                "1024": {
                    "iperf3-sctp": [bulk_sample(100)],
                    "sctpmh-protocol@asyncio": [bulk_sample(20)],
                    "pysctp-blocking": [bulk_sample(10), {"error": "lost"}],
                }
            },
            "echo": {
                "1024": {
                    "sctpmh-coroutine@asyncio": [echo_sample(900, 1000, 2000)],
                    "tcp-streams@asyncio": [echo_sample(1000, 900, 1800)],
                }
            },
            "associations": {
                "setup": {"asyncio": [{"associations": 20, "seconds": 1.0}]},
                "memory": {"20": {"error": "Traceback\nWorkerError: died"}},
            },
            "failover": {"fast_failover": [trial(0.12, 0.4)]},
            "profile": {
                "bulk-1024-sctpmh-protocol": {
                    "server": {
                        "busy_s": 1.0,
                        "idle_s": 1.0,
                        "top": [{"function": "f (x.py:1)", "self_s": 0.5, "busy_percent": 50.0}],
                        "text": "tree\n",
                    }
                },
                "echo-1024-sctpmh-coroutine": {"error": "Traceback\nWorkerError: died"},
            },
        },
    }


def test_report_writes_json_markdown_and_profiles(tmp_path: Path) -> None:
    result = report.write_report(raw_run(), tmp_path, plots=False)
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["results"] == raw_run()["results"]
    assert written["summary"]["targets"] == result["targets"]
    text = (tmp_path / "results.md").read_text()
    for row in result["targets"]:
        assert row["target"] in text
    assert "| Echo 1 KiB rate: sctpmh-coroutine@asyncio vs tcp-streams@asyncio | 0.900 x |" in text
    assert "n/a (not measured)" in text
    assert "1 failed" in text  # the failed pysctp round is shown
    assert "failed: WorkerError: died" in text
    assert (tmp_path / "profiles" / "bulk-1024-sctpmh-protocol-server.txt").read_text() == "tree\n"
    assert (
        "[bulk-1024-sctpmh-protocol-server.txt](profiles/bulk-1024-sctpmh-protocol-server.txt)"
        in text
    )


def test_numbers_keep_three_significant_digits() -> None:
    assert report.number(None) == "n/a"
    assert report.number(0) == "0"
    assert report.number(12345.6) == "12,346"
    assert report.number(123.456) == "123"
    assert report.number(1.23456) == "1.23"
    assert report.number(0.0123456) == "0.0123"
    assert report.table(["a", "b"], [["1", "2"]]) == "| a | b |\n|---|---|\n| 1 | 2 |\n"


# --- command line ----------------------------------------------------------------------------


def test_report_command_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps(raw_run()))
    out = tmp_path / "report"
    assert main(["report", str(raw), "--out", str(out), "--no-plots"]) == 0
    assert (out / "results.md").is_file()
    assert "report written to" in capsys.readouterr().out


def test_unreadable_raw_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "missing.json"), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "cannot read" in error


@pytest.mark.parametrize(
    "arguments",
    [
        ["measure"],
        ["measure", "--raw", "x", "--only", "nothing"],
        ["measure", "--raw", "x", "--failover-trials", "slow=3"],
        ["measure", "--raw", "x", "--rounds", "0"],
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_smoke_settings_are_smaller_than_the_full_run() -> None:
    full, smoke = Settings(), Settings.smoke_run()
    assert smoke.smoke
    assert not full.smoke
    assert smoke.bulk_seconds < full.bulk_seconds
    assert max(smoke.association_counts) < max(full.association_counts)
    assert 10_000 in full.association_counts
    assert set(full.failover_trials) == set(FAILOVER_CONFIGS)
    assert full.failover_trials["fast_failover"] >= 20
    assert full.failover_trials["potentially_failed"] >= 20


# --- the backends family ---------------------------------------------------------------------


def test_backend_targets_compare_contenders_of_the_same_run() -> None:
    raw = {
        "echo": {
            "1024": {
                "udp-protocol": [echo_sample(600, 1, 2)],
                "kernel-protocol": [echo_sample(1000, 1, 2)],
                "aiortc": [echo_sample(200, 1, 2)],
            }
        },
        "bulk": {"16384": {"udp-protocol": [bulk_sample(30)], "aiortc": [bulk_sample(20)]}},
    }
    figures = summary.summarise_backends(raw)
    lab = {
        t.target: t for t in summary.backend_targets(figures, summary.LAB_BACKEND_TARGETS, "lab")
    }
    echo = lab["Echo 1 KiB rate: udp-protocol vs kernel-protocol (lab)"]
    assert echo.measured == pytest.approx(0.6)
    assert echo.met is True
    assert lab["Echo 1 KiB rate: udp-coroutine vs kernel-coroutine (lab)"].met is None
    host = summary.backend_targets(figures, summary.HOST_BACKEND_TARGETS, "host")
    assert [t.measured for t in host] == [pytest.approx(3.0), pytest.approx(1.5)]
    assert [t.met for t in host] == [True, False]
    text = report.backends_markdown(figures, "aiortc")
    assert "| udp-protocol | 600 |" in text
    assert "3.0x" in text
