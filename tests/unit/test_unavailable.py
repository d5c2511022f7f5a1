"""Where the kernel has no SCTP, sctpmh says so and says how to fix it.

This runs for real on hosts whose kernel lacks SCTP (the project's own machines and CI), and
is skipped where SCTP works, because there nothing can make the kernel refuse SCTP.
"""

from __future__ import annotations

import pytest

import sctpmh
from sctpmh.kernel import diagnose
from sctpmh.kernel.diagnose import sctp_socket_error

pytestmark = pytest.mark.skipif(sctp_socket_error() is None, reason="this kernel has SCTP")


def diagnosis() -> diagnose.Diagnosis:
    return diagnose.diagnose(probe=False, socket_error=sctp_socket_error())


async def test_create_server_explains_the_missing_kernel_support() -> None:
    async def handler(association: sctpmh.Association) -> None:
        raise AssertionError("never called")

    with pytest.raises(sctpmh.SctpUnavailableError) as caught:
        await sctpmh.create_server(handler, ["127.0.0.1"], 0)
    message = str(caught.value)
    # The same diagnosis as `sctpmh check`, with its fix.
    assert diagnosis().reason in message
    assert diagnosis().fix in message
    assert isinstance(caught.value, OSError)
    assert isinstance(caught.value, sctpmh.BackendUnavailableError)


async def test_open_association_explains_the_missing_kernel_support() -> None:
    with pytest.raises(sctpmh.SctpUnavailableError, match="no SCTP backend can run here"):
        await sctpmh.open_association(["127.0.0.1"], 4444)


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
