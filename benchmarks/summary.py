"""From raw samples to figures and targets: medians over rounds, ratios, met or not.

Pure functions over the JSON that ``python -m benchmarks measure`` writes; the report writer
(:mod:`benchmarks.report`) renders what these return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from . import stats

Samples = list[dict[str, Any]]

#: The contender on the default loop whose figures the targets use, and the loops compared.
DEFAULT_LOOP = "asyncio"
FAST_LOOP = "uvloop"
C_BASELINE = "iperf3-sctp"
BLOCKING = "pysctp-blocking"


def good(samples: Iterable[dict[str, Any]]) -> Samples:
    """The samples without errors."""
    return [s for s in samples if "error" not in s]


def median_of(samples: Samples, value: Callable[[dict[str, Any]], float | None]) -> float | None:
    """The median of ``value(sample)`` over the good samples, or None when there are none."""
    values = stats.finite(value(s) for s in good(samples))
    return stats.median(values) if values else None


def _per_second(count_key: str) -> Callable[[dict[str, Any]], float | None]:
    def rate(sample: dict[str, Any]) -> float | None:
        seconds = sample.get("seconds") or 0
        return sample[count_key] / seconds if seconds > 0 else None

    return rate


def _errors(samples: Samples) -> int:
    return sum(1 for s in samples if "error" in s)


def summarise_bulk(raw: dict[str, dict[str, Samples]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per size, per contender: median MB/s (10**6 bytes) and messages/s."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for size, contenders in raw.items():
        result[size] = {
            name: {
                "mb_per_s": _scaled(median_of(samples, _per_second("bytes")), 1e-6),
                "messages_per_s": median_of(samples, _per_second("messages")),
                "rounds": len(samples),
                "errors": _errors(samples),
            }
            for name, samples in contenders.items()
        }
    return result


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def summarise_echo(raw: dict[str, dict[str, Samples]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per size, per contender: median round trips/s, p50 and p99 latency (microseconds), and
    the latency percentiles of the median-rate round (for the CDF plot)."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for size, contenders in raw.items():
        result[size] = {}
        for name, samples in contenders.items():
            rate = _per_second("round_trips")
            runs = sorted(good(samples), key=lambda s: rate(s) or 0.0)
            result[size][name] = {
                "round_trips_per_s": median_of(samples, rate),
                "p50_us": median_of(samples, lambda s: s["p50_us"]),
                "p99_us": median_of(samples, lambda s: s["p99_us"]),
                "percentiles_us": runs[len(runs) // 2]["percentiles_us"] if runs else [],
                "rounds": len(samples),
                "errors": _errors(samples),
            }
    return result


def summarise_associations(raw: dict[str, Any]) -> dict[str, Any]:
    """Setup rate per loop (median), and memory per association at each count."""
    setup = {
        loop: {
            "per_s": median_of(samples, _per_second("associations")),
            "rounds": len(samples),
            "errors": _errors(samples),
        }
        for loop, samples in raw.get("setup", {}).items()
    }
    memory: dict[str, Any] = {}
    for count, sample in raw.get("memory", {}).items():
        if "error" in sample:
            memory[count] = {"error": sample["error"]}
            continue
        n = sample["associations"]
        memory[count] = {
            "associations": n,
            "server_traced_bytes_each": sample["server_traced_bytes"] / n,
            "server_resident_bytes_each": sample["server_resident_bytes"] / n,
            "client_resident_bytes_each": sample["client_resident_bytes"] / n,
            "setup_per_s_traced_server": n / sample["seconds"] if sample["seconds"] else None,
        }
    return {"setup": setup, "memory": memory}


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": stats.quantile(values, 0.5),
        "p99": stats.quantile(values, 0.99),
        "max": max(values),
    }


def summarise_failover(raw: dict[str, Any]) -> dict[str, Any]:
    """Per configuration: gap quantiles over the trials and the loss counts."""
    if "error" in raw:
        return {"error": raw["error"]}
    result: dict[str, Any] = {}
    for name, trials in raw.items():
        ok = good(trials)
        gaps = [t["cut_to_other_path_s"] for t in ok if t["cut_to_other_path_s"] is not None]
        result[name] = {
            "trials": len(ok),
            "errors": _errors(trials),
            "gap_s": _quantiles(gaps),
            "largest_gap_s": _quantiles([t["largest_gap_s"] for t in ok]),
            "state_after_s": _quantiles(
                [t["state_after_s"] for t in ok if t["state_after_s"] is not None]
            ),
            "no_other_path": sum(1 for t in ok if t["cut_to_other_path_s"] is None),
            "window_reached": sum(1 for t in ok if t["window_reached"]),
            "lost": sum(t["lost"] for t in ok),
            "duplicated": sum(t["duplicated"] for t in ok),
            "out_of_order": sum(t["out_of_order"] for t in ok),
            "messages": sum(t["sent"] for t in ok),
        }
    return result


@dataclass(frozen=True)
class Target:
    """One row of the targets table."""

    target: str
    measured: float | None
    unit: str
    threshold: float
    at_most: bool = False
    detail: str = ""

    @property
    def met(self) -> bool | None:
        """None when the figure is missing (not measured in this run, or failed)."""
        if self.measured is None:
            return None
        if self.at_most:
            return self.measured <= self.threshold
        return self.measured >= self.threshold

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


def _figure(table: dict[str, dict[str, dict[str, Any]]], size: str, name: str, key: str) -> Any:
    return table.get(size, {}).get(name, {}).get(key)


def targets(summary: dict[str, Any]) -> list[Target]:
    """The issue's targets, each as a ratio (or figure) measured in this run."""
    bulk = summary.get("bulk", {})
    echo = summary.get("echo", {})
    rows: list[Target] = []
    rate = "mb_per_s"
    for loop in (DEFAULT_LOOP, FAST_LOOP):
        name = f"sctpmh-protocol@{loop}"
        rows.append(
            Target(
                f"Bulk 16 KiB: {name} vs iperf3 --sctp (C)",
                stats.ratio(
                    _figure(bulk, "16384", name, rate), _figure(bulk, "16384", C_BASELINE, rate)
                ),
                "x",
                0.5,
            )
        )
    for loop in (DEFAULT_LOOP, FAST_LOOP):
        for ours, theirs in (
            ("sctpmh-coroutine", "tcp-streams"),
            ("sctpmh-protocol", "tcp-protocol"),
        ):
            rows.append(
                Target(
                    f"Echo 1 KiB rate: {ours}@{loop} vs {theirs}@{loop}",
                    stats.ratio(
                        _figure(echo, "1024", f"{ours}@{loop}", "round_trips_per_s"),
                        _figure(echo, "1024", f"{theirs}@{loop}", "round_trips_per_s"),
                    ),
                    "x",
                    0.8,
                )
            )
    for size in ("64", "1024", "16384", "65536"):
        for kind in ("sctpmh-protocol", "sctpmh-coroutine"):
            name = f"{kind}@{DEFAULT_LOOP}"
            rows.append(
                Target(
                    f"Bulk {_size_label(size)}: {name} vs {BLOCKING}",
                    stats.ratio(
                        _figure(bulk, size, name, rate), _figure(bulk, size, BLOCKING, rate)
                    ),
                    "x",
                    1.0,
                )
            )
    rows.append(
        Target(
            "uvloop vs default loop, bulk 1 KiB (sctpmh-protocol)",
            stats.ratio(
                _figure(bulk, "1024", f"sctpmh-protocol@{FAST_LOOP}", rate),
                _figure(bulk, "1024", f"sctpmh-protocol@{DEFAULT_LOOP}", rate),
            ),
            "x",
            1.3,
        )
    )
    rows.append(
        Target(
            "uvloop vs default loop, echo 1 KiB (sctpmh-coroutine)",
            stats.ratio(
                _figure(echo, "1024", f"sctpmh-coroutine@{FAST_LOOP}", "round_trips_per_s"),
                _figure(echo, "1024", f"sctpmh-coroutine@{DEFAULT_LOOP}", "round_trips_per_s"),
            ),
            "x",
            1.3,
        )
    )
    rows += backend_targets(summary.get("backends", {}), LAB_BACKEND_TARGETS, "lab")
    rows.append(_memory_target(summary.get("associations", {}).get("memory", {})))
    fast = summary.get("failover", {}).get("fast_failover", {})
    rows.append(
        Target(
            "Fast-failover preset: p99 failover gap",
            fast.get("gap_s", {}).get("p99") if fast.get("trials") else None,
            "s",
            0.5,
            at_most=True,
            detail=f"{fast.get('trials', 0)} trials",
        )
    )
    lost = (fast.get("lost", 0) + fast.get("duplicated", 0)) if fast.get("trials") else None
    rows.append(
        Target(
            "Fast-failover preset: messages lost or duplicated",
            lost,
            "messages",
            0,
            at_most=True,
            detail=f"of {fast.get('messages', 0)} sent",
        )
    )
    return rows


#: The backends family's targets (issue 14): (ours, theirs, measure, threshold); the lab run
#: compares the udp backend with the kernel's, the host run with aiortc.
LAB_BACKEND_TARGETS = (
    ("udp-protocol", "kernel-protocol", "echo", 0.5),
    ("udp-coroutine", "kernel-coroutine", "echo", 0.5),
)
HOST_BACKEND_TARGETS = (
    ("udp-protocol", "aiortc", "echo", 2.0),
    ("udp-protocol", "aiortc", "bulk", 2.0),
)
_BACKEND_MEASURES = {
    "echo": ("1024", "round_trips_per_s", "Echo 1 KiB rate"),
    "bulk": ("16384", "mb_per_s", "Bulk 16 KiB throughput"),
}


def backend_targets(
    backends: dict[str, Any], pairs: Iterable[tuple[str, str, str, float]], where: str
) -> list[Target]:
    """The backends family's targets: ``ours`` / ``theirs`` on one measure, same run."""
    rows = []
    for ours, theirs, measure, threshold in pairs:
        size, key, label = _BACKEND_MEASURES[measure]
        table = backends.get(measure, {})
        rows.append(
            Target(
                f"{label}: {ours} vs {theirs} ({where})",
                stats.ratio(_figure(table, size, ours, key), _figure(table, size, theirs, key)),
                "x",
                threshold,
            )
        )
    return rows


def summarise_backends(raw: dict[str, Any]) -> dict[str, Any]:
    """The backends family: its echo and bulk samples summarised as those families'."""
    return {
        "echo": summarise_echo(raw.get("echo", {})),
        "bulk": summarise_bulk(raw.get("bulk", {})),
    }


def _memory_target(memory: dict[str, Any]) -> Target:
    counts = sorted((int(c) for c, m in memory.items() if "error" not in m), reverse=True)
    if not counts:
        return Target(
            "10,000 associations: Python memory per association (server)",
            None,
            "B",
            4096,
            at_most=True,
        )
    count = counts[0]
    return Target(
        f"{count:,} associations: Python memory per association (server)",
        memory[str(count)]["server_traced_bytes_each"],
        "B",
        4096,
        at_most=True,
        detail="tracemalloc" + ("" if count >= 10_000 else "; fewer than 10,000 in this run"),
    )


def _size_label(size: str) -> str:
    value = int(size)
    return f"{value // 1024} KiB" if value >= 1024 else f"{value} B"


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Every family's figures, and the targets."""
    results = raw.get("results", {})
    summary: dict[str, Any] = {}
    if "bulk" in results:
        summary["bulk"] = summarise_bulk(results["bulk"])
    if "echo" in results:
        summary["echo"] = summarise_echo(results["echo"])
    if "associations" in results:
        summary["associations"] = summarise_associations(results["associations"])
    if "failover" in results:
        summary["failover"] = summarise_failover(results["failover"])
    if "backends" in results:
        summary["backends"] = summarise_backends(results["backends"])
    summary["targets"] = [t.as_dict() for t in targets(summary)]
    return summary
