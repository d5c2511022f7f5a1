"""Runs contenders interleaved, round after round, so that ratios are fair on a shared machine.

Within a round every contender runs once; the order alternates between rounds (ABC, CBA,
ABC, ...), so slow drift in the machine's load (other VMs on the same two cores) falls on every
contender alike. The report takes the median of each contender's rounds.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .workers import WorkerError

Sample = dict[str, Any]


def log(message: str) -> None:
    """Progress on stderr (stdout is left to the caller)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Contender:
    """One thing being measured: a name, and a function returning one sample."""

    name: str
    run: Callable[[], Sample]


def interleave(contenders: Sequence[Contender], rounds: int, label: str) -> dict[str, list[Sample]]:
    """Run every contender ``rounds`` times, alternating the order; a failing run becomes a
    sample ``{"error": ...}`` and the others go on."""
    samples: dict[str, list[Sample]] = {c.name: [] for c in contenders}
    for index in range(rounds):
        order = list(contenders) if index % 2 == 0 else list(reversed(contenders))
        for contender in order:
            try:
                sample = contender.run()
            except WorkerError as exc:
                sample = {"error": str(exc)}
            except Exception:
                sample = {"error": traceback.format_exc()}
            samples[contender.name].append(sample)
            shown = sample.get("error", "").splitlines()[-1:] if "error" in sample else sample
            log(f"{label} round {index + 1}/{rounds} {contender.name}: {shown}")
    return samples
