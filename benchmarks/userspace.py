"""The userspace stack on this host, no kernel SCTP and no lab: the udp backend over loopback
against aiortc's pure-Python SCTP association, with the memory backend as a reference
(contenders of :mod:`benchmarks.backends`, interleaved over rounds).

    python -m benchmarks userspace [--smoke] [--out DIR]

writes ``userspace.json`` (settings, machine, raw samples, summary, targets) and
``userspace.md`` into DIR (default: docs/benchmarks). ``benchmarks/run`` runs it on the host
after the lab's measurements, as it does the core's benchmark.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import sctpmh

from . import backends, summary
from .report import backends_markdown, number, table, verdict
from .settings import Settings


def _processor() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _meta(settings: Settings) -> dict[str, Any]:
    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "mode": "smoke" if settings.smoke else "full",
        "where": f"{platform.node()} (host, no VM)",
        "processor": f"{_processor()}, {os.cpu_count()} CPUs (shared with other work)",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sctpmh": sctpmh.__version__,
        "aiortc": importlib.metadata.version("aiortc"),
        "loop": "asyncio (default)",
        "rounds": settings.rounds,
        "seconds per contender": f"echo {settings.echo_seconds}, bulk {settings.bulk_seconds}",
    }


def measure(settings: Settings) -> dict[str, Any]:
    """Every host contender, echo 1 KiB and bulk 16 KiB; the raw run with its summary."""
    started = time.monotonic()
    meta = _meta(settings)
    results = backends.measure_kinds(backends.HOST_KINDS, settings)
    meta["measuring took"] = f"{time.monotonic() - started:.0f} s"
    figures = summary.summarise_backends(results)
    targets = summary.backend_targets(figures, summary.HOST_BACKEND_TARGETS, "host")
    return {
        "meta": meta,
        "settings": settings.as_dict(),
        "results": results,
        "summary": {**figures, "targets": [t.as_dict() for t in targets]},
    }


def markdown(run: dict[str, Any]) -> str:
    """The host run as a Markdown page."""
    figures = run["summary"]
    return "\n".join(
        [
            "# The userspace stack on the host: udp backend vs aiortc\n",
            "Produced by `python -m benchmarks userspace` (see `benchmarks/backends.py` and "
            "`benchmarks/aiortc_sctp.py`): sctpmh's udp backend over UDP on loopback, the "
            "memory backend (the same stack without sockets, client and server in one "
            "process) and aiortc's pure-Python SCTP association (data channel API, over UDP "
            "on loopback, no DTLS), contenders interleaved over rounds, medians. Every "
            "client/server pair runs on one CPU, as the echo family does. How the hot path "
            "was profiled and made faster: [hot-path.md](hot-path.md).\n",
            table(["", ""], [[key, str(value)] for key, value in run["meta"].items()]),
            "## Targets\n",
            table(
                ["Target", "Measured", "Threshold", "Verdict"],
                [
                    [
                        row["target"],
                        f"{number(row['measured'])} {row['unit']}",
                        f">= {number(row['threshold'])} {row['unit']}",
                        verdict(row["met"]),
                    ]
                    for row in figures["targets"]
                ],
            ),
            "## Figures\n",
            backends_markdown(figures, "aiortc"),
        ]
    )


def run(out: Path, *, smoke: bool = False) -> dict[str, Any]:
    """Measure, print the targets, and write ``userspace.json`` and ``userspace.md``."""
    settings = Settings.smoke_run() if smoke else Settings()
    result = measure(settings)
    out.mkdir(parents=True, exist_ok=True)
    (out / "userspace.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "userspace.md").write_text(markdown(result))
    for row in result["summary"]["targets"]:
        state = {True: "met", False: "NOT MET", None: "n/a"}[row["met"]]
        print(f"{state:8} {number(row['measured']):>10} x  {row['target']}")
    errors = sum(
        f.get("errors", 0)
        for measure in ("echo", "bulk")
        for contenders in result["summary"][measure].values()
        for f in contenders.values()
    )
    result["errors"] = errors
    return result
