"""Where the kernel has no SCTP, "auto" takes the udp backend, and asking for the kernel
backend says why it cannot run and how to fix it.

This runs for real on hosts whose kernel lacks SCTP (the project's own machines and CI), and
is skipped where SCTP works, because there nothing can make the kernel refuse SCTP.
"""

from __future__ import annotations

import logging

import pytest

import sctpmh
from sctpmh import registry
from sctpmh.kernel import diagnose
from sctpmh.kernel.diagnose import sctp_socket_error

pytestmark = pytest.mark.skipif(sctp_socket_error() is None, reason="this kernel has SCTP")


def diagnosis() -> diagnose.Diagnosis:
    return diagnose.diagnose(probe=False, socket_error=sctp_socket_error())


async def test_create_server_explains_the_missing_kernel_support() -> None:
    async def handler(association: sctpmh.Association) -> None:
        raise AssertionError("never called")

    with pytest.raises(sctpmh.SctpUnavailableError) as caught:
        await sctpmh.create_server(handler, ["127.0.0.1"], 0, backend="kernel")
    message = str(caught.value)
    # The same diagnosis as `sctpmh check`, with its fix.
    assert diagnosis().reason in message
    assert diagnosis().fix in message
    assert isinstance(caught.value, OSError)
    assert isinstance(caught.value, sctpmh.BackendUnavailableError)
    # ... and the way out that needs no kernel SCTP.
    assert "use sctpmh's udp backend (SCTP over UDP, RFC 6951: backend='udp'" in message


async def echo(association: sctpmh.Association) -> None:
    async for message in association:
        await association.send(message.data, stream=message.stream, ppid=message.ppid)


async def test_auto_takes_the_udp_backend_and_says_so_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCTPMH_BACKEND", raising=False)
    registry._auto_choice.cache_clear()  # what "auto" means is decided, and said, once
    caplog.set_level(logging.INFO, logger="sctpmh")
    async with await sctpmh.create_server(echo, ["127.0.0.1", "127.0.0.2"], 0) as server:
        assert server.port != 0
        async with sctpmh.open_association(
            ["127.0.0.1", "127.0.0.2"], server.port, local_addrs=["127.0.0.3", "127.0.0.4"]
        ) as association:
            assert association.transport.get_extra_info("backend") == "udp"
            await association.send(b"over udp", stream=1, ppid=46)
            reply = await association.recv()
            assert (reply.data, reply.stream, reply.ppid) == (b"over udp", 1, 46)
            assert len(association.paths) == 2
    said = [r.getMessage() for r in caplog.records if r.name == "sctpmh"]
    assert len(said) == 1, said
    assert said[0].startswith("backend auto: the udp backend (SCTP over UDP, RFC 6951)")
    assert diagnosis().reason in said[0]


async def test_asking_for_the_kernel_backend_says_it_cannot_run() -> None:
    with pytest.raises(sctpmh.SctpUnavailableError, match="the kernel backend cannot run here"):
        await sctpmh.open_association(["127.0.0.1"], 4444, backend="kernel")


async def test_the_environment_variable_picks_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCTPMH_BACKEND", "pigeon")
    with pytest.raises(ValueError, match="SCTPMH_BACKEND='pigeon'"):
        await sctpmh.open_association(["127.0.0.1"], 4444)
    monkeypatch.setenv("SCTPMH_BACKEND", "memory")

    async def echo(association: sctpmh.Association) -> None:
        async for message in association:
            await association.send(message.data)

    async with await sctpmh.create_server(echo, ["127.0.0.1"], 0) as server:
        async with sctpmh.open_association(["127.0.0.1"], server.port) as association:
            assert association.transport.get_extra_info("backend") == "memory"
