"""Command line of the suite: ``measure`` (under a kernel with SCTP) and ``report`` (anywhere).

    python -m benchmarks measure --raw FILE [--smoke] [--only FAMILY]... [--rounds N]
                                 [--failover-trials CONFIG=N]...
    python -m benchmarks report FILE --out DIR [--no-plots]
    python -m benchmarks core [--smoke] [--out DIR]     (the userspace core alone, any host)
    python -m benchmarks userspace [--smoke] [--out DIR] (udp backend vs aiortc, any host)

``benchmarks/run`` runs both; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from .settings import FAILOVER_CONFIGS, FAMILIES, Settings


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line on stderr and exit code 2, as every command of the project.
        self.exit(2, f"{self.prog}: {message}\n")


def _trial_count(text: str) -> tuple[str, int]:
    name, _, count = text.partition("=")
    if name not in FAILOVER_CONFIGS or not count.isdigit():
        raise argparse.ArgumentTypeError(
            f"expected CONFIG=N with CONFIG one of {', '.join(FAILOVER_CONFIGS)}, got {text!r}"
        )
    return name, int(count)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="python -m benchmarks", description="The sctpmh benchmark suite.")
    commands = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    measure = commands.add_parser("measure", help="measure (needs kernel SCTP; root for failover)")
    measure.add_argument("--raw", type=Path, required=True, help="where to write the raw JSON")
    measure.add_argument("--smoke", action="store_true", help="tiny sizes, seconds in all")
    measure.add_argument(
        "--only",
        action="append",
        choices=FAMILIES,
        metavar="FAMILY",
        help=f"measure only this family (repeatable): {', '.join(FAMILIES)}",
    )
    measure.add_argument("--rounds", type=_positive, help="rounds of every contender")
    measure.add_argument(
        "--failover-trials",
        action="append",
        type=_trial_count,
        default=[],
        metavar="CONFIG=N",
        help="trials of one failover configuration (default: default=3, the others 20)",
    )
    report = commands.add_parser("report", help="write results.json, results.md and plots")
    report.add_argument("raw", type=Path, help="the raw JSON that measure wrote")
    report.add_argument("--out", type=Path, required=True, help="directory of the report")
    report.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    core = commands.add_parser("core", help="the userspace SCTP core alone (no sockets, any host)")
    core.add_argument("--smoke", action="store_true", help="tiny volume, one round")
    core.add_argument(
        "--out", type=Path, default=Path("docs/benchmarks"), help="where core.json/.md go"
    )
    userspace = commands.add_parser(
        "userspace", help="the udp backend vs aiortc's SCTP, on this host (no kernel SCTP)"
    )
    userspace.add_argument("--smoke", action="store_true", help="tiny sizes, one round")
    userspace.add_argument(
        "--out", type=Path, default=Path("docs/benchmarks"), help="where userspace.json/.md go"
    )
    return top


def settings_from(arguments: argparse.Namespace) -> Settings:
    settings = Settings.smoke_run() if arguments.smoke else Settings()
    changes: dict[str, Any] = {}
    if arguments.rounds:
        changes["rounds"] = arguments.rounds
    if arguments.failover_trials:
        changes["failover_trials"] = {**settings.failover_trials, **dict(arguments.failover_trials)}
    return dataclasses.replace(settings, **changes)


def _effective_buffers() -> dict[str, int]:
    from . import common

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    with sock:
        common.set_buffers(sock)
        return {
            "SO_SNDBUF": sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
            "SO_RCVBUF": sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
        }


def _iperf3_version() -> str:
    try:
        output = subprocess.run(["iperf3", "--version"], capture_output=True, text=True).stdout
    except OSError:
        return "not installed"
    return output.splitlines()[0] if output else "unknown"


def _meta(settings: Settings, families: list[str]) -> dict[str, Any]:
    import sctpmh

    from . import common

    with open("/proc/cmdline") as cmdline:
        in_lab = "sctpmh.job=" in cmdline.read()
    buffers = _effective_buffers()
    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "mode": "smoke" if settings.smoke else "full",
        "families": ", ".join(families),
        "where": "lab VM (qemu TCG software emulation, 2 vCPUs)" if in_lab else platform.node(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sctpmh": sctpmh.__version__,
        "uvloop": importlib.metadata.version("uvloop"),
        "iperf3": _iperf3_version(),
        "shared settings": common.SHARED_SETTINGS,
        "effective buffers (getsockopt)": (
            f"SO_SNDBUF {buffers['SO_SNDBUF']}, SO_RCVBUF {buffers['SO_RCVBUF']}"
        ),
        "rounds": settings.rounds,
        "failover trials": ", ".join(f"{k} {v}" for k, v in settings.failover_trials.items()),
    }


def _count_errors(value: Any) -> int:
    if isinstance(value, dict):
        return ("error" in value) + sum(_count_errors(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_errors(v) for v in value)
    return 0


def measure(arguments: argparse.Namespace) -> int:
    from . import associations, backends, bulk, echo, failover, profiling
    from .interleave import log

    settings = settings_from(arguments)
    families = arguments.only or list(FAMILIES)
    runners = {
        "bulk": bulk.measure,
        "echo": echo.measure,
        "backends": backends.measure,
        "associations": associations.measure,
        "failover": failover.measure,
        "profile": profiling.measure,
    }
    started = time.monotonic()
    raw: dict[str, Any] = {"meta": _meta(settings, families), "settings": settings.as_dict()}
    results: dict[str, Any] = {}
    raw["results"] = results
    for family in FAMILIES:
        if family in families:
            log(f"== {family}")
            family_started = time.monotonic()
            results[family] = runners[family](settings)
            log(f"== {family} took {time.monotonic() - family_started:.0f} s")
    raw["meta"]["measuring took"] = f"{time.monotonic() - started:.0f} s"
    arguments.raw.parent.mkdir(parents=True, exist_ok=True)
    arguments.raw.write_text(json.dumps(raw) + "\n")
    errors = _count_errors(results)
    log(f"raw results in {arguments.raw}; {errors} failed measurement(s)")
    return 1 if errors else 0


def report(arguments: argparse.Namespace) -> int:
    from .report import write_report

    try:
        raw = json.loads(arguments.raw.read_text())
    except (OSError, ValueError) as exc:
        print(f"python -m benchmarks report: cannot read {arguments.raw}: {exc}", file=sys.stderr)
        return 2
    summary = write_report(raw, arguments.out, plots=not arguments.no_plots)
    for row in summary["targets"]:
        state = {True: "met", False: "NOT MET", None: "n/a"}[row["met"]]
        measured = "n/a" if row["measured"] is None else f"{row['measured']:.3g}"
        print(f"{state:8} {measured:>10} {row['unit']:8} {row['target']}")
    print(f"report written to {arguments.out}/results.md")
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        if arguments.command == "measure":
            return measure(arguments)
        if arguments.command == "core":
            from . import core

            core.run(arguments.out, smoke=arguments.smoke)
            return 0
        if arguments.command == "userspace":
            from . import userspace

            result = userspace.run(arguments.out, smoke=arguments.smoke)
            return 1 if result["errors"] else 0
        return report(arguments)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
