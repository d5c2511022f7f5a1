"""``open_association(timeout=...)`` bounds the whole opening, name resolution included."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import sctpmh


async def test_a_hanging_name_lookup_counts_against_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    asked: list[object] = []

    async def hang(host: object, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        await asyncio.Event().wait()

    monkeypatch.setattr(loop, "getaddrinfo", hang)
    started = loop.time()
    with pytest.raises(TimeoutError):
        await sctpmh.open_association(["sctp-peer.example"], 4444, timeout=0.2, backend="memory")
    assert asked == ["sctp-peer.example"]
    assert loop.time() - started < 5
