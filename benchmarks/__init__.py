"""The sctpmh benchmark suite: measurement only, never part of the test assertions.

``benchmarks/run`` is the one command. It measures inside the lab VM (or natively where this
kernel has SCTP) with ``python -m benchmarks measure``, writing raw samples as JSON, then writes
the report on the host with ``python -m benchmarks report`` (JSON, a Markdown table, PNG plots).

Modules: :mod:`.settings` (what a full and a smoke run measure), :mod:`.workers` (forked
worker processes), :mod:`.loops`, :mod:`.common` (the settings every contender shares),
:mod:`.interleave` (ABAB rounds), one module per family (:mod:`.bulk`, :mod:`.echo`,
:mod:`.associations`, :mod:`.failover`), :mod:`.profiling`, :mod:`.stats` and :mod:`.report`.
"""
