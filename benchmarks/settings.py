"""What one run measures: the full suite, or the smoke run that keeps the code from rotting."""

from __future__ import annotations

import dataclasses
from typing import Any

#: Benchmark families, in the order a run measures them; ``--only`` picks among these.
FAMILIES = ("bulk", "echo", "backends", "associations", "failover", "profile")

#: Failover configurations: the library's defaults, the LAN preset, and the defaults with the
#: potentially-failed state turned on at the first timeout (RFC 7829).
FAILOVER_CONFIGS = ("default", "fast_failover", "potentially_failed")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Sizes, durations and repetitions of one run."""

    smoke: bool = False
    bulk_sizes: tuple[int, ...] = (64, 1024, 16 * 1024, 64 * 1024)
    bulk_seconds: float = 2.0
    echo_size: int = 1024
    echo_seconds: float = 2.0
    #: Round trips in this first part of an echo run are not counted (connection warm-up).
    echo_warmup_seconds: float = 0.2
    #: Every contender runs once per round; rounds alternate the order (ABC, CBA, ...).
    rounds: int = 3
    #: Associations held open at once for the memory measurement.
    association_counts: tuple[int, ...] = (1_000, 10_000)
    #: Associations opened for the setup-rate measurement (on each loop).
    setup_count: int = 1_000
    #: Associations opened concurrently, batch after batch.
    setup_batch: int = 100
    failover_trials: dict[str, int] = dataclasses.field(
        default_factory=lambda: {"default": 3, "fast_failover": 20, "potentially_failed": 20}
    )
    #: A failover trial ends at the latest this long after the cut (the default configuration
    #: needs about 63 s to declare a path down).
    failover_window: float = 100.0
    #: Interval between two messages of the paced failover stream.
    failover_interval: float = 0.005
    #: Messages flow this long before the cut, and this long on the new path after it.
    failover_warmup: float = 0.5
    failover_settle: float = 0.5
    profile_seconds: float = 5.0

    @classmethod
    def smoke_run(cls) -> Settings:
        """Tiny sizes, a fraction of a second per contender: every code path, in seconds."""
        return cls(
            smoke=True,
            bulk_sizes=(1024,),
            bulk_seconds=0.3,
            echo_seconds=0.3,
            echo_warmup_seconds=0.05,
            rounds=1,
            association_counts=(20,),
            setup_count=20,
            setup_batch=10,
            failover_trials={"default": 1, "fast_failover": 1, "potentially_failed": 1},
            failover_window=1.5,
            failover_warmup=0.2,
            failover_settle=0.2,
            profile_seconds=0.3,
        )

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready data, for the report."""
        return dataclasses.asdict(self)
